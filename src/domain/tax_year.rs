//! UK tax years, which earnings limits (benefit rules) and financial records are counted in.

use chrono::{Datelike, NaiveDate, NaiveDateTime};

/// When the UK tax year holding `now` (UTC) began: 6 April at midnight in London. Summer time
/// has always begun by then (it starts on the last Sunday of March), so that is 23:00 UTC on
/// 5 April.
pub fn tax_year_start(now: NaiveDateTime) -> NaiveDateTime {
    let this_year = start_in(now.year()).unwrap_or(NaiveDateTime::MIN);
    if now >= this_year {
        this_year
    } else {
        start_in(now.year() - 1).unwrap_or(NaiveDateTime::MIN)
    }
}

/// The start of the tax year `years` before the one holding `now`; records settled before it
/// have been kept for `years` whole tax years. The earliest time there is when that is too far
/// back to write.
pub fn tax_years_before(now: NaiveDateTime, years: u32) -> NaiveDateTime {
    i32::try_from(years)
        .ok()
        .and_then(|years| tax_year_start(now).year().checked_sub(years))
        .and_then(start_in)
        .unwrap_or(NaiveDateTime::MIN)
}

fn start_in(year: i32) -> Option<NaiveDateTime> {
    NaiveDate::from_ymd_opt(year, 4, 5).and_then(|day| day.and_hms_opt(23, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|day| day.and_hms_opt(h, 0, 0))
            .unwrap_or_default()
    }

    #[test]
    fn the_tax_year_starts_on_the_sixth_of_april_at_midnight_in_london() {
        assert_eq!(tax_year_start(at(2026, 11, 21, 12)), at(2026, 4, 5, 23));
        assert_eq!(tax_year_start(at(2027, 4, 5, 22)), at(2026, 4, 5, 23));
        assert_eq!(
            tax_year_start(at(2027, 4, 5, 23)),
            at(2027, 4, 5, 23),
            "midnight in London"
        );
        assert_eq!(tax_year_start(at(2027, 4, 6, 12)), at(2027, 4, 5, 23));
    }

    #[test]
    fn records_are_kept_whole_tax_years() {
        assert_eq!(tax_years_before(at(2032, 12, 4, 12), 6), at(2026, 4, 5, 23));
        assert_eq!(tax_years_before(at(2032, 3, 1, 12), 6), at(2025, 4, 5, 23));
        assert_eq!(
            tax_years_before(at(2032, 3, 1, 12), u32::MAX),
            NaiveDateTime::MIN,
            "keep for ever"
        );
    }
}
