-- What coordinators have arranged of a booking's access adjustments (DOMAIN.md: record once,
-- arrange in advance). Sealed (crypto Field adjustment_arrangements, bound to the assignment's
-- id): which needs a person has is special-category data. One row per booking.
CREATE TABLE adjustment_arrangements (
    assignment_id TEXT PRIMARY KEY NOT NULL REFERENCES assignments(id) ON DELETE CASCADE,
    ciphertext BLOB NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
