DROP TABLE daily_reminders;
