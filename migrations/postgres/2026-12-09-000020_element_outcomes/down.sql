DROP TABLE element_outcomes;
