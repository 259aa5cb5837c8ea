ALTER TABLE applications DROP COLUMN answer_by;
