-- Dropping the column would leave unsent sealed email with no words: refuse until it is sent.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM outbox WHERE sealed_body IS NOT NULL AND status <> 'sent') THEN
        RAISE EXCEPTION 'unsent email is sealed: send it (or delete it) before reverting this migration';
    END IF;
END $$;
ALTER TABLE outbox DROP COLUMN sealed_body;
