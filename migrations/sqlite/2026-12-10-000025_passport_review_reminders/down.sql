ALTER TABLE access_passports DROP COLUMN review_reminded_at;
ALTER TABLE access_passports DROP COLUMN review_by;
