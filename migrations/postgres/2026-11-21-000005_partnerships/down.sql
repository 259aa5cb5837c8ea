DROP TABLE conflicts_of_interest;
DROP TABLE element_sessions;
DROP TABLE elements;
DROP TABLE projects;
DROP TABLE request_events;
DROP TABLE partner_requests;
