DROP TABLE adjustment_arrangements;
