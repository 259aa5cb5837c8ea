-- Each session a booked co-producer was reminded of, once (across replicas: the key), so that
-- people hear in good time when and where their work is.
CREATE TABLE session_reminders (
    assignment_id TEXT NOT NULL REFERENCES assignments(id) ON DELETE CASCADE,
    session_starts_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    PRIMARY KEY (assignment_id, session_starts_at)
);
