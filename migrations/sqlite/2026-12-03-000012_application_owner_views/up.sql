-- The read model for an owner's GET /api/v1/applications/{id}: their view of each application,
-- stored as it is sent. Written by the writes that change an application on its owner's behalf
-- or decide it; removed by the triggers below by any other change to what it shows, so it is
-- never served stale. Without a row, the view is built from the tables as before.
-- The round's title is kept beside it: the read serves the row only while the title matches.
-- A migration that rebuilds applications, application_answers or round_questions drops their
-- triggers with the old table and must create them again.
CREATE TABLE application_owner_views (
    application_id TEXT PRIMARY KEY NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    round_id TEXT NOT NULL,
    round_title TEXT NOT NULL,
    -- The shape of `body` (OWNER_VIEW_FORMAT in the code): a release that changes the view's
    -- shape bumps it, and rows of an older shape are no longer served.
    format INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX application_owner_views_round ON application_owner_views (round_id);

CREATE TRIGGER application_owner_views_forget_changed_application
AFTER UPDATE OF id, round_id, user_id, status, consents, outcome, feedback, submitted_at,
    decided_at, created_at ON applications
BEGIN
    DELETE FROM application_owner_views WHERE application_id IN (OLD.id, NEW.id);
END;

CREATE TRIGGER application_owner_views_forget_added_answer
AFTER INSERT ON application_answers
BEGIN
    DELETE FROM application_owner_views WHERE application_id = NEW.application_id;
END;

CREATE TRIGGER application_owner_views_forget_changed_answer
AFTER UPDATE ON application_answers
BEGIN
    DELETE FROM application_owner_views
    WHERE application_id IN (OLD.application_id, NEW.application_id);
END;

CREATE TRIGGER application_owner_views_forget_removed_answer
AFTER DELETE ON application_answers
BEGIN
    DELETE FROM application_owner_views WHERE application_id = OLD.application_id;
END;

CREATE TRIGGER application_owner_views_forget_added_question
AFTER INSERT ON round_questions
BEGIN
    DELETE FROM application_owner_views WHERE round_id = NEW.round_id;
END;

CREATE TRIGGER application_owner_views_forget_changed_question
AFTER UPDATE ON round_questions
BEGIN
    DELETE FROM application_owner_views WHERE round_id IN (OLD.round_id, NEW.round_id);
END;

CREATE TRIGGER application_owner_views_forget_removed_question
AFTER DELETE ON round_questions
BEGIN
    DELETE FROM application_owner_views WHERE round_id = OLD.round_id;
END;
