-- Erased accounts are named "Deleted account" wherever an actor is shown (was "(erased)").
UPDATE users SET full_name = 'Deleted account' WHERE status = 'erased';
-- For email naming people other than its recipient (a coordinator told who left an element): what
-- it was rendered from and where each of them is named (JSON), so that erasing one of them renders
-- it again without them. Null for other email, and cleared once sent.
ALTER TABLE outbox ADD COLUMN mentions TEXT;
