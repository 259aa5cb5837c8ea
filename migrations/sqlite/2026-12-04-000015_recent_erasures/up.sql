-- Erased accounts by when they were erased: a stored Idempotency-Key answer is not kept when an
-- erasure committed while its request ran (src/idempotency.rs), and that question is asked on
-- every such answer, so it must not scan every account.
CREATE INDEX users_erased_at ON users (updated_at) WHERE status = 'erased';
