//! The payment file: approved claims written as a CSV file for whoever pays them (a finance
//! team, a payroll or banking import). Amounts are in pounds with two decimals and no symbol, so a
//! spreadsheet reads them as numbers.

use chrono::NaiveDate;

use super::pounds_figure;

/// One approved claim, ready to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentLine {
    pub claim_id: String,
    pub approved_on: NaiveDate,
    pub name: String,
    pub email: String,
    /// A `payment_methods` code (`bank_transfer`, `voucher`, …); empty with no profile.
    pub payment_method: String,
    pub element: String,
    pub minutes_worked: i32,
    pub fee_pence: i64,
    pub expenses_pence: i64,
    /// The person deleted their account: their name and address are gone.
    pub account_deleted: bool,
    /// Already recorded as paid (a run's file keeps its paid claims, marked so).
    pub paid_on: Option<NaiveDate>,
    /// In no payment run yet: the line of a preview, not one to pay.
    pub preview: bool,
}

const HEADER: &str =
    "claim_id,approved_on,name,email,payment_method,element,minutes_worked,fee,expenses,total,note";

/// Said of a claim whose claimant deleted their account since.
const ACCOUNT_DELETED: &str =
    "The person deleted their account: find another way to reach them before paying.";

/// Said of every line of the preview of the next payment run.
const PREVIEW: &str = "Preview only: not in a payment run yet. Do not pay from this file.";

/// Marks the file as UTF-8 for spreadsheets (Excel reads names like Siân wrongly without it).
const BYTE_ORDER_MARK: char = '\u{feff}';

/// The CSV file of `lines`: a byte order mark, a header, lines ending CRLF (RFC 4180).
pub fn payments_csv(lines: &[PaymentLine]) -> String {
    let mut csv = String::with_capacity(128 * (lines.len() + 1));
    csv.push(BYTE_ORDER_MARK);
    csv.push_str(HEADER);
    csv.push_str("\r\n");
    for line in lines {
        let cells = [
            cell(&line.claim_id),
            cell(&line.approved_on.to_string()),
            cell(&line.name),
            cell(&line.email),
            cell(&line.payment_method),
            cell(&line.element),
            line.minutes_worked.to_string(),
            pounds_figure(line.fee_pence),
            pounds_figure(line.expenses_pence),
            pounds_figure(line.fee_pence.saturating_add(line.expenses_pence)),
            cell(&note(line)),
        ];
        csv.push_str(&cells.join(","));
        csv.push_str("\r\n");
    }
    csv
}

/// What whoever pays should know before paying this line.
fn note(line: &PaymentLine) -> String {
    let paid = line
        .paid_on
        .map(|on| format!("Already paid on {on}: do not pay again."));
    let deleted = line.account_deleted.then(|| ACCOUNT_DELETED.to_string());
    let preview = line.preview.then(|| PREVIEW.to_string());
    [preview, paid, deleted]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text as one CSV cell. Text a spreadsheet would run as a formula (starting `=`, `+`, `-`, `@`,
/// a tab or a carriage return: a name or title anyone could type) gets a leading `'`, so it is
/// shown, never run; a cell with a comma, quote or line break is quoted.
fn cell(text: &str) -> String {
    let shown = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if shown.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", shown.replace('"', "\"\""))
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> PaymentLine {
        PaymentLine {
            claim_id: "0193-claim".into(),
            approved_on: NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or_default(),
            name: "Sam Jones".into(),
            email: "sam@example.org".into(),
            payment_method: "bank_transfer".into(),
            element: "Peer interviews".into(),
            minutes_worked: 90,
            fee_pence: 3750,
            expenses_pence: 840,
            account_deleted: false,
            paid_on: None,
            preview: false,
        }
    }

    #[test]
    fn each_claim_is_a_row_under_the_header_with_amounts_in_pounds() {
        let csv = payments_csv(&[line()]);
        assert_eq!(
            csv,
            format!(
                "\u{feff}{HEADER}\r\n0193-claim,2026-12-04,Sam Jones,sam@example.org,bank_transfer,Peer interviews,90,37.50,8.40,45.90,\r\n"
            )
        );
    }

    #[test]
    fn text_a_spreadsheet_would_run_as_a_formula_is_written_as_text() {
        let mut risky = line();
        risky.name = "=HYPERLINK(\"http://evil.example\")".into();
        risky.element = "+44 line".into();
        let csv = payments_csv(&[risky]);
        assert!(
            csv.contains(",\"'=HYPERLINK(\"\"http://evil.example\"\")\",")
                && csv.contains(",'+44 line,"),
            "{csv}"
        );
    }

    #[test]
    fn a_claim_of_a_deleted_account_says_so() {
        let mut gone = line();
        gone.account_deleted = true;
        let csv = payments_csv(&[gone]);
        assert!(
            csv.ends_with(&format!(",45.90,{ACCOUNT_DELETED}\r\n")),
            "{csv}"
        );
    }

    #[test]
    fn commas_quotes_and_line_breaks_stay_inside_their_cell() {
        let mut awkward = line();
        awkward.element = "Interviews, \"round 2\"\nLeeds".into();
        let csv = payments_csv(&[awkward]);
        assert!(
            csv.contains(",\"Interviews, \"\"round 2\"\"\nLeeds\","),
            "{csv}"
        );
    }

    #[test]
    fn a_claim_already_paid_says_not_to_pay_it_again() {
        let mut paid = line();
        paid.paid_on = NaiveDate::from_ymd_opt(2026, 12, 9);
        let csv = payments_csv(&[paid]);
        assert!(
            csv.ends_with(",45.90,Already paid on 2026-12-09: do not pay again.\r\n"),
            "{csv}"
        );
    }

    #[test]
    fn each_line_of_a_preview_says_not_to_pay_from_it() {
        let mut waiting = line();
        waiting.preview = true;
        let csv = payments_csv(&[waiting]);
        assert!(csv.ends_with(&format!(",45.90,{PREVIEW}\r\n")), "{csv}");
    }
}
