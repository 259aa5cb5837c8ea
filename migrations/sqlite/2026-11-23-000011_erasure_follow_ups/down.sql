ALTER TABLE outbox DROP COLUMN mentions;
UPDATE users SET full_name = '(erased)' WHERE status = 'erased';
