DROP TABLE assignments;
DROP TABLE invitations;
