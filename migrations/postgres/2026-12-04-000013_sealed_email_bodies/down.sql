ALTER TABLE outbox DROP COLUMN sealed_body;
