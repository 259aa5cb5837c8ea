-- The person's own record, reused by every application and match.
CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- contact, availability and payment as JSON (not special category)
    document TEXT NOT NULL,
    -- lived experience: special category, encrypted (see src/crypto.rs)
    lived_experience BYTEA NOT NULL,
    remote BOOLEAN NOT NULL,
    in_person BOOLEAN NOT NULL,
    hours_per_month INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Searchable copies of the profile's skills and interests (the pool and the matcher filter on them).
CREATE TABLE profile_skills (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    level INTEGER NOT NULL,
    PRIMARY KEY (user_id, code)
);
CREATE INDEX profile_skills_code ON profile_skills (code);

CREATE TABLE profile_interests (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    PRIMARY KEY (user_id, code)
);
CREATE INDEX profile_interests_code ON profile_interests (code);

CREATE TABLE access_passports (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ciphertext BYTEA NOT NULL,
    share_with_project_teams BOOLEAN NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Equal-opportunities answers: stored apart, encrypted, never joined into other views.
CREATE TABLE equal_opportunities (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ciphertext BYTEA NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Every read of special-category data by someone other than its owner.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    actor_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    data TEXT NOT NULL,
    action TEXT NOT NULL,
    route TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_id, at);

CREATE TABLE coproducers (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    paused_until TIMESTAMP,
    archived_reason TEXT,
    joined_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
