ALTER TABLE elements DROP COLUMN status_changed_at;
