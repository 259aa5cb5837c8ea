-- Why a co-producer was suggested for an element, encrypted like other special-category data:
-- it says how much of the lived experience the element asks for they share. Invitations made
-- before this keep their plain `breakdown` (`coproduce reencrypt` seals them).
ALTER TABLE invitations ADD COLUMN sealed_breakdown BLOB;
