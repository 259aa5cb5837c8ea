//! The daily digest: routine email held for people who chose one, sent together once a day.
//! The pure part lives here (when the digest goes, how a held email becomes a part of it); the
//! outbox holds email and gathers it.

use chrono::{Duration, NaiveDateTime, NaiveTime};

use super::DigestPart;

/// Where `layout.html` puts an email's own content; the digest keeps only what is between.
const CONTENT_STARTS: &str = "<!--content-->";
const CONTENT_ENDS: &str = "<!--/content-->";

/// What starts the footer every text email ends with (`_footer.txt`).
const FOOTER_STARTS: &str = "\n--\n";

/// The first `hour`:00 (UTC) after `now`.
pub fn next_digest_at(now: NaiveDateTime, hour: u32) -> NaiveDateTime {
    let at = NaiveTime::from_hms_opt(hour.min(23), 0, 0).unwrap_or(NaiveTime::MIN);
    let today = now.date().and_time(at);
    if today > now {
        today
    } else {
        today + Duration::days(1)
    }
}

/// A held email as one part of a digest: its text without the footer (the digest has its own),
/// and the content of its HTML without the page around it, its headings a level down under the
/// digest's own. The HTML is empty when the email has none, or when a replaced layout has no
/// content markers; the digest then shows the text.
pub fn part_of(subject: &str, text: &str, html: Option<&str>) -> DigestPart {
    let text = match text.rfind(FOOTER_STARTS) {
        Some(at) => &text[..at],
        None => text,
    };
    let html = html
        .and_then(|page| {
            let start = page.find(CONTENT_STARTS)? + CONTENT_STARTS.len();
            let end = start + page[start..].find(CONTENT_ENDS)?;
            Some(page[start..end].trim())
        })
        .map(|content| content.replace("<h1", "<h2").replace("</h1>", "</h2>"))
        .unwrap_or_default();
    DigestPart {
        subject: subject.to_string(),
        text: text.trim_end().to_string(),
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32, hour: u32, minute: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, day)
            .and_then(|d| d.and_hms_opt(hour, minute, 0))
            .unwrap_or_default()
    }

    #[test]
    fn the_digest_goes_at_the_hour_later_today_or_else_tomorrow() {
        assert_eq!(next_digest_at(at(4, 9, 30), 16), at(4, 16, 0));
        assert_eq!(next_digest_at(at(4, 16, 0), 16), at(5, 16, 0));
        assert_eq!(next_digest_at(at(4, 23, 59), 0), at(5, 0, 0));
    }

    #[test]
    fn a_part_keeps_the_text_without_its_footer() {
        let text =
            "Hello Sam,\n\nWe have paid you.\n\n--\nYou are getting this email from coproduce.\n";
        let part = part_of("Paid", text, None);
        assert_eq!(part.text, "Hello Sam,\n\nWe have paid you.");
        assert_eq!(part.html, "");
    }

    #[test]
    fn a_part_keeps_the_content_of_its_html_with_headings_a_level_down() {
        let page = "<html><body><div><!--content--><h1 style=\"x\">Paid</h1>\n<p>Hello</p><!--/content--><hr><p>footer</p></div></body></html>";
        let part = part_of("Paid", "Hello", Some(page));
        assert_eq!(part.html, "<h2 style=\"x\">Paid</h2>\n<p>Hello</p>");
    }

    #[test]
    fn html_from_a_layout_without_markers_is_left_out_for_the_text() {
        let part = part_of(
            "Paid",
            "Hello",
            Some("<html><body><p>Hello</p></body></html>"),
        );
        assert_eq!(part.html, "");
    }
}
