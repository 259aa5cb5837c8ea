DROP TABLE invitation_offers;
