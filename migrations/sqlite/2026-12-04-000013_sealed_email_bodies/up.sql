-- What an unsent email says (text, HTML, and what it was rendered from), encrypted like other
-- special-category data: an invitation lists the person's access adjustments, and notes can say
-- anything. Rows queued before this keep their plain body_text/body_html until they are sent.
ALTER TABLE outbox ADD COLUMN sealed_body BLOB;
