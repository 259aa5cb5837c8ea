-- When an application's content (answers, feedback, notes) was removed, by an erasure or by the
-- retention job; the row stays for counts. Null while the content is held.
ALTER TABLE applications ADD COLUMN content_removed_at TIMESTAMP;
-- The retention job finds old rows by age.
CREATE INDEX outbox_status_sent_at ON outbox (status, sent_at);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
CREATE INDEX applications_status_updated_at ON applications (status, updated_at);
