-- How many erasures have committed. A key's claim notes the count; an answer is not stored for
-- replay if the count has moved since (an erasure committed while its request ran, and the answer
-- may name the erased person: src/idempotency.rs).
CREATE TABLE erasure_count (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    erasures BIGINT NOT NULL
);
INSERT INTO erasure_count (id, erasures) VALUES (1, 0);
ALTER TABLE idempotency_keys ADD COLUMN erasures_seen BIGINT;
