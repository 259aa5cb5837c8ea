//! Pure domain types and rules ("parse, don't validate"). No actix, no diesel.

pub mod assignment;
pub mod catalogue;
pub mod claim;
pub mod email_address;
pub mod email_format;
pub mod eo_report;
pub mod erasure;
pub mod partnership;
pub mod password;
pub mod payment_run;
pub mod person_name;
pub mod profile;
pub mod recruitment;
pub mod role;
pub mod tax_year;
pub mod uk_time;

/// Pence as pounds for people to read, e.g. "£25.00" or "£1,250.00" (amounts are whole pence,
/// DOMAIN.md).
pub fn pounds(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let pence = pence.unsigned_abs();
    let whole = (pence / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}£{grouped}.{:02}", pence % 100)
}

/// An hourly rate for people to read, e.g. "£25.00 an hour".
pub fn pounds_an_hour(pence: i64) -> String {
    format!("{} an hour", pounds(pence))
}

/// Pence as a plain figure in pounds, e.g. `41.67` (for files a spreadsheet reads).
pub fn pounds_figure(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let pence = pence.unsigned_abs();
    format!("{sign}{}.{:02}", pence / 100, pence % 100)
}

/// Free text with its ends trimmed; `None` when nothing is left.
pub fn non_blank(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// Why a value was refused: a stable code and a plain-English message for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pence_read_as_pounds() {
        assert_eq!(super::pounds(2500), "£25.00");
        assert_eq!(super::pounds(4167), "£41.67");
        assert_eq!(super::pounds(5), "£0.05");
        assert_eq!(super::pounds(-150), "-£1.50");
    }

    #[test]
    fn thousands_of_pounds_are_grouped_for_reading_and_plain_for_files() {
        assert_eq!(super::pounds(100_000), "£1,000.00");
        assert_eq!(super::pounds(123_456_789), "£1,234,567.89");
        assert_eq!(super::pounds(99_999), "£999.99");
        assert_eq!(super::pounds_figure(123_456_789), "1234567.89");
    }

    #[test]
    fn blank_text_is_none_and_other_text_is_trimmed() {
        assert_eq!(super::non_blank(Some("  \n ".into())), None);
        assert_eq!(
            super::non_blank(Some(" Bus fare ".into())),
            Some("Bus fare".into())
        );
        assert_eq!(super::non_blank(None), None);
    }
}
