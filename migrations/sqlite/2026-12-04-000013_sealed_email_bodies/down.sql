-- Dropping the column would leave unsent sealed email with no words: refuse until it is sent
-- (the CHECK fails when any is left; SQLite has no RAISE outside triggers).
CREATE TEMPORARY TABLE unsent_sealed_email_must_be_sent_first (n INTEGER CHECK (n = 0));
INSERT INTO unsent_sealed_email_must_be_sent_first
    SELECT COUNT(*) FROM outbox WHERE sealed_body IS NOT NULL AND status <> 'sent';
DROP TABLE unsent_sealed_email_must_be_sent_first;
ALTER TABLE outbox DROP COLUMN sealed_body;
