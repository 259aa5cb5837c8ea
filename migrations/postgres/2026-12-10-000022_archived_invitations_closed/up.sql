-- Archiving now closes a person's unanswered invitations and waiting-list places. Close those
-- of people archived before it did, so reinstating them later does not book them from an old line.
UPDATE invitations SET status = 'expired', responded_at = (now() AT TIME ZONE 'UTC')
 WHERE status IN ('invited', 'waitlisted')
   AND coproducer_id IN (SELECT user_id FROM coproducers WHERE status = 'archived');
-- A booking from the waiting list is the service's own step: name it, not whoever freed the seat.
UPDATE assignment_events SET actor_id = 'service'
 WHERE from_status IS NULL AND note = 'Booked from the waiting list when a place came up.';
