-- When the person asked for their access passport to be checked (the date alone, outside the
-- sealed passport, so the reminder job need not open it), and when they were reminded.
ALTER TABLE access_passports ADD COLUMN review_by DATE;
ALTER TABLE access_passports ADD COLUMN review_reminded_at TIMESTAMP;
