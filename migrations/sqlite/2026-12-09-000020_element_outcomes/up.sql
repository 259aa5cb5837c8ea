-- What changed because of an element's work, written once it has ended, so that everyone who
-- did the work hears what difference it made (DOMAIN.md: close the loop).
CREATE TABLE element_outcomes (
    element_id TEXT PRIMARY KEY NOT NULL REFERENCES elements(id) ON DELETE CASCADE,
    summary TEXT NOT NULL,
    -- the same in easy read, when the writer gives one
    easy_read TEXT,
    written_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
