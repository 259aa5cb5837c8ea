-- When the owner of an application never sent was reminded before its round closed, and told
-- once it had closed, so that nobody who started an application is left without an answer.
ALTER TABLE applications ADD COLUMN unsent_reminded_at TIMESTAMP;
ALTER TABLE applications ADD COLUMN unsent_closed_told_at TIMESTAMP;
