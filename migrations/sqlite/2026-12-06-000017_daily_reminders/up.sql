-- One reminder of a kind (e.g. claims waiting) per day at most, whichever replica sends it.
CREATE TABLE daily_reminders (
    kind TEXT NOT NULL,
    sent_on TEXT NOT NULL,
    PRIMARY KEY (kind, sent_on)
);
