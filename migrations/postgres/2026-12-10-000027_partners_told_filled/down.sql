ALTER TABLE elements DROP COLUMN partner_told_filled_at;
