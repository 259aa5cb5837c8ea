CREATE TABLE rounds (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    description TEXT NOT NULL,
    easy_read_summary TEXT,
    opens_at TIMESTAMP NOT NULL,
    closes_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP,
    places INTEGER,
    answer_by_days INTEGER NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE round_questions (
    id TEXT PRIMARY KEY NOT NULL,
    round_id TEXT NOT NULL REFERENCES rounds(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    guidance TEXT,
    required BOOLEAN NOT NULL,
    max_words INTEGER
);
CREATE INDEX round_questions_round ON round_questions (round_id, position);

CREATE TABLE round_reviewers (
    round_id TEXT NOT NULL REFERENCES rounds(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (round_id, user_id)
);

CREATE TABLE applications (
    id TEXT PRIMARY KEY NOT NULL,
    round_id TEXT NOT NULL REFERENCES rounds(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    consents TEXT NOT NULL,
    outcome TEXT,
    feedback TEXT,
    submitted_at TIMESTAMP,
    decided_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (round_id, user_id)
);
CREATE INDEX applications_round_status ON applications (round_id, status);

CREATE TABLE application_answers (
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    question_id TEXT NOT NULL REFERENCES round_questions(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    PRIMARY KEY (application_id, question_id)
);

CREATE TABLE application_transitions (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    note TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX application_transitions_application ON application_transitions (application_id, at);

CREATE TABLE reviews (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    reviewer_id TEXT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (application_id, reviewer_id)
);

CREATE TABLE review_scores (
    review_id TEXT NOT NULL REFERENCES reviews(id) ON DELETE CASCADE,
    question_id TEXT NOT NULL REFERENCES round_questions(id) ON DELETE CASCADE,
    score INTEGER NOT NULL,
    note TEXT,
    PRIMARY KEY (review_id, question_id)
);

-- One reminder per round per day at most.
CREATE TABLE round_reminders (
    round_id TEXT NOT NULL REFERENCES rounds(id) ON DELETE CASCADE,
    sent_on TEXT NOT NULL,
    PRIMARY KEY (round_id, sent_on)
);
