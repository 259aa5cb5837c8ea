-- Nothing to undo: which invitations were open, and who freed each seat, are not kept.
SELECT 1;
