//! Times as people in the UK read them. Everything is stored and sent over the API in UTC; emails
//! and the weekly availability people give ("Tuesdays 10:00 to 12:00") are in UK time: GMT in
//! winter, BST (UTC+1) from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday
//! of October (the Summer Time Order 2002).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};

/// `utc` on a UK clock.
pub fn in_uk(utc: NaiveDateTime) -> NaiveDateTime {
    if is_summer_time(utc) {
        utc + Duration::hours(1)
    } else {
        utc
    }
}

/// Whether UK clocks are an hour ahead of UTC at `utc`.
pub fn is_summer_time(utc: NaiveDateTime) -> bool {
    let year = utc.year();
    match (change_at(year, 3), change_at(year, 10)) {
        (Some(begins), Some(ends)) => begins <= utc && utc < ends,
        _ => false,
    }
}

/// 01:00 UTC on the last Sunday of `month`, when UK clocks change.
fn change_at(year: i32, month: u32) -> Option<NaiveDateTime> {
    let last_day = NaiveDate::from_ymd_opt(year, month + 1, 1)?.pred_opt()?;
    let back = last_day.weekday().num_days_from_sunday();
    (last_day - Duration::days(i64::from(back))).and_hms_opt(1, 0, 0)
}

/// The day on a UK calendar, e.g. "7 December 2026".
pub fn date(utc: NaiveDateTime) -> String {
    in_uk(utc).format("%-d %B %Y").to_string()
}

/// The day with its name, e.g. "Monday 7 December 2026".
pub fn day(utc: NaiveDateTime) -> String {
    calendar_day(in_uk(utc).date())
}

/// A calendar date with its day's name, e.g. "Monday 7 December 2026".
pub fn calendar_day(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

/// A moment, e.g. "Monday 7 December 2026, 10:00 UK time".
pub fn moment(utc: NaiveDateTime) -> String {
    in_uk(utc).format("%A %-d %B %Y, %H:%M UK time").to_string()
}

/// A session, e.g. "Monday 7 December 2026, 10:00 to 12:00 UK time". The end's time alone, even
/// when it falls on a later day.
pub fn session(starts_at: NaiveDateTime, ends_at: NaiveDateTime) -> String {
    format!(
        "{}, {} to {} UK time",
        day(starts_at),
        in_uk(starts_at).format("%H:%M"),
        in_uk(ends_at).format("%H:%M")
    )
}

/// The weekday a UK clock shows at `utc`.
pub fn weekday(utc: NaiveDateTime) -> Weekday {
    in_uk(utc).weekday()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|day| day.and_hms_opt(h, min, 0))
            .unwrap_or_default()
    }

    #[test]
    fn summer_time_begins_at_one_in_the_morning_utc_on_the_last_sunday_of_march() {
        assert!(!is_summer_time(at(2026, 3, 29, 0, 59)));
        assert!(is_summer_time(at(2026, 3, 29, 1, 0)));
        assert!(!is_summer_time(at(2027, 3, 28, 0, 59)));
        assert!(is_summer_time(at(2027, 3, 28, 1, 0)));
    }

    #[test]
    fn summer_time_ends_at_one_in_the_morning_utc_on_the_last_sunday_of_october() {
        assert!(is_summer_time(at(2026, 10, 25, 0, 59)));
        assert!(!is_summer_time(at(2026, 10, 25, 1, 0)));
        assert!(!is_summer_time(at(2026, 12, 3, 12, 0)));
    }

    #[test]
    fn a_summer_session_reads_an_hour_later_than_utc() {
        assert_eq!(
            session(at(2026, 7, 7, 9, 0), at(2026, 7, 7, 11, 0)),
            "Tuesday 7 July 2026, 10:00 to 12:00 UK time"
        );
    }

    #[test]
    fn a_winter_session_reads_as_utc() {
        assert_eq!(
            session(at(2026, 12, 7, 10, 0), at(2026, 12, 7, 12, 0)),
            "Monday 7 December 2026, 10:00 to 12:00 UK time"
        );
    }

    #[test]
    fn a_summer_moment_just_before_midnight_utc_is_the_next_day_in_the_uk() {
        assert_eq!(date(at(2026, 6, 30, 23, 30)), "1 July 2026");
        assert_eq!(weekday(at(2026, 6, 30, 23, 30)), Weekday::Wed);
        assert_eq!(
            moment(at(2026, 6, 30, 23, 30)),
            "Wednesday 1 July 2026, 00:30 UK time"
        );
    }
}
