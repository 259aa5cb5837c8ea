-- Every sending of an invitation: sending one again after it ran out counts as another offer
-- (the fairness factor scores fewer recent offers higher), and the first sending is kept.
CREATE TABLE invitation_offers (
    invitation_id TEXT NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    coproducer_id TEXT NOT NULL,
    sent_by TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    PRIMARY KEY (invitation_id, sent_at)
);
CREATE INDEX invitation_offers_sent_at ON invitation_offers (sent_at);
INSERT INTO invitation_offers (invitation_id, coproducer_id, sent_by, sent_at)
SELECT id, coproducer_id, invited_by, created_at FROM invitations;
