ALTER TABLE applications DROP COLUMN unsent_closed_told_at;
ALTER TABLE applications DROP COLUMN unsent_reminded_at;
