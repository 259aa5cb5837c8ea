-- The first answer to a creating POST sent with an Idempotency-Key, replayed for retries.
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_path TEXT NOT NULL,
    -- null while the first request is still running
    status INTEGER,
    content_type TEXT,
    body TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);
