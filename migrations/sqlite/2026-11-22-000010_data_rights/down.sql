DROP INDEX applications_status_updated_at;
DROP INDEX idempotency_keys_created_at;
DROP INDEX audit_log_at;
DROP INDEX outbox_status_sent_at;
ALTER TABLE applications DROP COLUMN content_removed_at;
