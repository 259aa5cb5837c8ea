-- The read model for an owner's GET /api/v1/applications/{id}: their view of each application,
-- stored as it is sent. Written by the writes that change an application on its owner's behalf
-- or decide it; removed by the triggers below by any other change to what it shows, so it is
-- never served stale. Without a row, the view is built from the tables as before.
-- The round's title is kept beside it: the read serves the row only while the title matches.
-- Writers store a view while holding the application's row lock (their own UPDATE of it), so a
-- concurrent change to the application or its answers removes it after they commit.
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

CREATE FUNCTION application_owner_views_forget_application() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM application_owner_views WHERE application_id IN (OLD.id, NEW.id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER application_owner_views_forget_changed_application
AFTER UPDATE OF id, round_id, user_id, status, consents, outcome, feedback, submitted_at,
    decided_at, created_at ON applications
FOR EACH ROW EXECUTE FUNCTION application_owner_views_forget_application();

CREATE FUNCTION application_owner_views_forget_answer() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM application_owner_views WHERE application_id = OLD.application_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        DELETE FROM application_owner_views WHERE application_id = NEW.application_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER application_owner_views_forget_answer
AFTER INSERT OR UPDATE OR DELETE ON application_answers
FOR EACH ROW EXECUTE FUNCTION application_owner_views_forget_answer();

CREATE FUNCTION application_owner_views_forget_question() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM application_owner_views WHERE round_id = OLD.round_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        DELETE FROM application_owner_views WHERE round_id = NEW.round_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER application_owner_views_forget_question
AFTER INSERT OR UPDATE OR DELETE ON round_questions
FOR EACH ROW EXECUTE FUNCTION application_owner_views_forget_question();
