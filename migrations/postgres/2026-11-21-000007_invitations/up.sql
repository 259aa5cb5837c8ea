CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    element_id TEXT NOT NULL REFERENCES elements(id) ON DELETE CASCADE,
    coproducer_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- invited | accepted | waitlisted | declined | expired
    status TEXT NOT NULL,
    respond_by TIMESTAMP NOT NULL,
    message TEXT,
    -- the score (in hundredths) and its breakdown when the coordinator invited: the record of why
    score_hundredths INTEGER NOT NULL,
    breakdown TEXT NOT NULL,
    invited_by TEXT NOT NULL REFERENCES users(id),
    decline_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    responded_at TIMESTAMP,
    UNIQUE (element_id, coproducer_id)
);
CREATE INDEX invitations_coproducer ON invitations (coproducer_id, status);
CREATE INDEX invitations_due ON invitations (status, respond_by);

CREATE TABLE assignments (
    id TEXT PRIMARY KEY NOT NULL,
    element_id TEXT NOT NULL REFERENCES elements(id) ON DELETE CASCADE,
    coproducer_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- one invitation never makes two assignments
    invitation_id TEXT NOT NULL UNIQUE REFERENCES invitations(id),
    -- confirmed | completed | withdrawn | no_show
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX assignments_element ON assignments (element_id, status);
CREATE INDEX assignments_coproducer ON assignments (coproducer_id, status);
