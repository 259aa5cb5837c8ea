DROP INDEX invitations_waiting;
DROP TABLE assignment_events;
ALTER TABLE outbox DROP COLUMN attachment_body;
ALTER TABLE outbox DROP COLUMN attachment_content_type;
ALTER TABLE outbox DROP COLUMN attachment_filename;
