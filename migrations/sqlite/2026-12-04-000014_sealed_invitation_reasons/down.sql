ALTER TABLE invitations DROP COLUMN sealed_breakdown;
