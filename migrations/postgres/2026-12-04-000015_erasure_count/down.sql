ALTER TABLE idempotency_keys DROP COLUMN erasures_seen;
DROP TABLE erasure_count;
