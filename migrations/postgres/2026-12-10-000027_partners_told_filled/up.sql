-- When the partner organisation was told every place on an element was taken (cleared when a
-- place frees), so partners hear once per filling. Elements past open now count as told.
ALTER TABLE elements ADD COLUMN partner_told_filled_at TIMESTAMP;
UPDATE elements SET partner_told_filled_at = updated_at WHERE status <> 'open';
