-- Claims for time worked and expenses on an assignment: submitted → approved → paid, or
-- submitted → rejected. Amounts are kept after an erasure (the totals need them); the free text
-- is cleared.
CREATE TABLE claims (
    id TEXT PRIMARY KEY NOT NULL,
    assignment_id TEXT NOT NULL REFERENCES assignments(id) ON DELETE CASCADE,
    coproducer_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    minutes_worked INTEGER NOT NULL CHECK (minutes_worked >= 0),
    -- worked out when submitted, from the element's hourly rate and how the person is paid
    fee_pence BIGINT NOT NULL CHECK (fee_pence >= 0),
    expenses_pence BIGINT NOT NULL CHECK (expenses_pence >= 0),
    expenses_note TEXT,
    note TEXT,
    -- submitted | approved | rejected | paid
    status TEXT NOT NULL,
    decided_by TEXT,
    decision_note TEXT,
    decided_at TIMESTAMP,
    paid_by TEXT,
    paid_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX claims_coproducer ON claims (coproducer_id, id);
CREATE INDEX claims_status ON claims (status, id);
CREATE INDEX claims_assignment ON claims (assignment_id);
