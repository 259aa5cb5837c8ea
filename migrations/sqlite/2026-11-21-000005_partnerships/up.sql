CREATE TABLE partner_requests (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    submitted_by TEXT NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    engagement_level TEXT NOT NULL,
    budget_pence BIGINT,
    access_budget_pence BIGINT,
    -- the elements as submitted (JSON array of element specs)
    elements TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX partner_requests_organisation ON partner_requests (organisation_id, status);

-- Every step of a request: submitted, needs_info, resubmitted, accepted, declined.
CREATE TABLE request_events (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES partner_requests(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    note TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX request_events_request ON request_events (request_id, at);

CREATE TABLE projects (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL UNIQUE REFERENCES partner_requests(id),
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE elements (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    -- the element spec as JSON (codes, hours, mode, location, features, pay)
    spec TEXT NOT NULL,
    mode TEXT NOT NULL,
    people_needed INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX elements_project ON elements (project_id, position);

CREATE TABLE element_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    element_id TEXT NOT NULL REFERENCES elements(id) ON DELETE CASCADE,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL
);
CREATE INDEX element_sessions_element ON element_sessions (element_id);

-- A co-producer's declared conflicts of interest, per organisation.
CREATE TABLE conflicts_of_interest (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    organisation_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    note TEXT,
    declared_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, organisation_id)
);
