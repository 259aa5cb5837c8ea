-- The answer-by date promised in the confirmation email, fixed at submission.
ALTER TABLE applications ADD COLUMN answer_by TIMESTAMP;
