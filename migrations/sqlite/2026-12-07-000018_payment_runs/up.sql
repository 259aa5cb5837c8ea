-- A payment run: the approved claims taken together to be paid from one file, so the same
-- claim is never in two files (a claim is in one run at most: the key of payment_run_claims).
CREATE TABLE payment_runs (
    id TEXT PRIMARY KEY NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- set once, when a coordinator records the run as paid
    paid_by TEXT,
    paid_at TIMESTAMP
);
CREATE TABLE payment_run_claims (
    claim_id TEXT PRIMARY KEY NOT NULL REFERENCES claims(id) ON DELETE CASCADE,
    -- no cascade: a run is deleted only once it holds no claim (retention)
    run_id TEXT NOT NULL REFERENCES payment_runs(id)
);
CREATE INDEX payment_run_claims_run ON payment_run_claims (run_id);
