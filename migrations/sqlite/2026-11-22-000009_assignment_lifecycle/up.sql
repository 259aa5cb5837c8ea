-- A file sent with an email (the .ics of a booking). The body is cleared once sent, like the
-- email's own body; the name and type stay as a record of what was sent.
ALTER TABLE outbox ADD COLUMN attachment_filename TEXT;
ALTER TABLE outbox ADD COLUMN attachment_content_type TEXT;
ALTER TABLE outbox ADD COLUMN attachment_body BLOB;

-- Every change of an assignment's status, with who made it, when, and their note.
CREATE TABLE assignment_events (
    id TEXT PRIMARY KEY NOT NULL,
    assignment_id TEXT NOT NULL REFERENCES assignments(id) ON DELETE CASCADE,
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    note TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX assignment_events_assignment ON assignment_events (assignment_id, at);

-- The waiting list is taken in the order people accepted.
CREATE INDEX invitations_waiting ON invitations (element_id, status, responded_at);
