-- When an element's status last changed (its completion, its cancellation), apart from edits to
-- its details, which move updated_at: reminders count from it.
ALTER TABLE elements ADD COLUMN status_changed_at TIMESTAMP;
UPDATE elements SET status_changed_at = updated_at;
