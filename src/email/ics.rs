//! iCalendar (RFC 5545) files of an element's sessions, attached to booking emails. Pure text
//! building: CRLF line endings, lines folded at 75 octets, TEXT values escaped.

use chrono::{DateTime, Utc};

/// A calendar to publish (`METHOD:PUBLISH`): the receiver adds or updates the events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// When the file was made (every event's DTSTAMP).
    pub stamp: DateTime<Utc>,
    pub events: Vec<Event>,
    /// The events are off (a withdrawal or a cancellation): published again as `CANCELLED`
    /// with a higher `SEQUENCE`, so a calendar holding them marks them cancelled.
    pub cancelled: bool,
}

/// One session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Stable across re-sends, so a calendar updates the event instead of adding a copy.
    pub uid: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub summary: String,
    /// A place, or "Online".
    pub location: String,
    pub description: String,
}

pub const PRODID: &str = "-//coproduce//coproduce//EN";
pub const CONTENT_TYPE: &str = "text/calendar; charset=utf-8; method=PUBLISH";

/// Longest line in octets, not counting the CRLF (RFC 5545 §3.1).
const MAX_OCTETS: usize = 75;

impl Calendar {
    /// The file's text: every line ends in CRLF and none is longer than 75 octets.
    pub fn to_ics(&self) -> String {
        let mut out = String::new();
        let mut line = |content: String| {
            out.push_str(&fold(&content));
            out.push_str("\r\n");
        };
        line("BEGIN:VCALENDAR".into());
        line("VERSION:2.0".into());
        line(format!("PRODID:{PRODID}"));
        line("CALSCALE:GREGORIAN".into());
        line("METHOD:PUBLISH".into());
        for event in &self.events {
            line("BEGIN:VEVENT".into());
            line(format!("UID:{}", escape_text(&event.uid)));
            line(format!("DTSTAMP:{}", utc(self.stamp)));
            line(format!("DTSTART:{}", utc(event.starts_at)));
            line(format!("DTEND:{}", utc(event.ends_at)));
            line(format!("SUMMARY:{}", escape_text(&event.summary)));
            line(format!("LOCATION:{}", escape_text(&event.location)));
            line(format!("DESCRIPTION:{}", escape_text(&event.description)));
            if self.cancelled {
                line("SEQUENCE:1".into());
                line("STATUS:CANCELLED".into());
            } else {
                line("STATUS:CONFIRMED".into());
            }
            line("TRANSP:OPAQUE".into());
            line("END:VEVENT".into());
        }
        line("END:VCALENDAR".into());
        out
    }
}

/// A DATE-TIME in UTC form (`19980119T070000Z`).
fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes a TEXT value (§3.3.11): backslash, semicolon, comma, and newlines as `\n`.
pub fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            // Other control characters are not allowed in TEXT.
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds one content line (§3.1): after 75 octets, CRLF and a space, never inside a UTF-8
/// character. Continuation lines count the leading space.
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / MAX_OCTETS * 3);
    let mut used = 0;
    for c in line.chars() {
        let size = c.len_utf8();
        if used + size > MAX_OCTETS {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += size;
    }
    out
}

/// A file name from a title: lowercase ASCII letters and digits joined by hyphens.
pub fn file_name(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let stem = words.join("-");
    let stem: String = stem.chars().take(60).collect();
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        "sessions.ics".into()
    } else {
        format!("{stem}.ics")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn calendar() -> Calendar {
        Calendar {
            stamp: at("2026-11-21T09:30:00Z"),
            events: vec![
                Event {
                    uid: "0190-1@coproduce.example".into(),
                    starts_at: at("2026-12-07T10:00:00Z"),
                    ends_at: at("2026-12-07T12:00:00Z"),
                    summary: "Peer interviews".into(),
                    location: "Leeds Central Library, Room 2".into(),
                    description: "Session 1 of 2.\nBring a drink; we have snacks.".into(),
                },
                Event {
                    uid: "0190-2@coproduce.example".into(),
                    starts_at: at("2026-12-14T10:00:00Z"),
                    ends_at: at("2026-12-14T12:00:00Z"),
                    summary: "Peer interviews".into(),
                    location: "Online".into(),
                    description: "Session 2 of 2.".into(),
                },
            ],
            cancelled: false,
        }
    }

    #[test]
    fn a_cancelled_calendar_marks_the_same_events_cancelled_in_a_later_version() {
        let off = Calendar {
            cancelled: true,
            ..calendar()
        };
        let text = off.to_ics();
        assert!(text.contains("UID:0190-1@coproduce.example\r\n"));
        assert_eq!(
            text.matches("SEQUENCE:1\r\nSTATUS:CANCELLED\r\n").count(),
            2
        );
        assert!(!text.contains("STATUS:CONFIRMED"));
        assert!(
            !calendar().to_ics().contains("SEQUENCE"),
            "a booking's first version has none"
        );
    }

    #[test]
    fn every_line_ends_in_crlf_and_there_are_no_bare_newlines() {
        let text = calendar().to_ics();
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        assert_eq!(text.matches('\n').count(), text.matches("\r\n").count());
        assert_eq!(text.matches('\r').count(), text.matches("\r\n").count());
    }

    #[test]
    fn the_calendar_has_its_header_and_one_event_per_session() {
        let text = calendar().to_ics();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            &lines[..5],
            [
                "BEGIN:VCALENDAR",
                "VERSION:2.0",
                "PRODID:-//coproduce//coproduce//EN",
                "CALSCALE:GREGORIAN",
                "METHOD:PUBLISH"
            ]
        );
        assert_eq!(text.matches("BEGIN:VEVENT\r\n").count(), 2);
        assert_eq!(text.matches("END:VEVENT\r\n").count(), 2);
        assert!(text.contains("UID:0190-1@coproduce.example\r\n"));
        assert!(text.contains("DTSTAMP:20261121T093000Z\r\n"));
        assert!(text.contains("DTSTART:20261207T100000Z\r\nDTEND:20261207T120000Z\r\n"));
        assert!(text.contains("LOCATION:Online\r\n"));
    }

    #[test]
    fn text_values_escape_commas_semicolons_backslashes_and_newlines() {
        assert_eq!(
            escape_text("a,b;c\\d\ne\r\nf"),
            "a\\,b\\;c\\\\d\\ne\\nf".to_string()
        );
        let text = calendar().to_ics();
        assert!(text.contains("LOCATION:Leeds Central Library\\, Room 2\r\n"));
        assert!(
            text.contains("DESCRIPTION:Session 1 of 2.\\nBring a drink\\; we have snacks.\r\n")
        );
    }

    #[test]
    fn long_lines_fold_at_75_octets_with_a_leading_space() {
        let line = format!("DESCRIPTION:{}", "x".repeat(200));
        let folded = fold(&line);
        let parts: Vec<&str> = folded.split("\r\n").collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].len(), 75);
        assert_eq!(parts[1].len(), 75);
        assert!(parts[1].starts_with(' ') && parts[2].starts_with(' '));
        // Unfolding (removing CRLF + one space) gives the line back.
        assert_eq!(folded.replace("\r\n ", ""), line);
    }

    #[test]
    fn folding_never_splits_a_multi_byte_character() {
        // "é" is 2 octets and "🎉" is 4: the fold must fall between characters.
        let line = format!("SUMMARY:{}", "é🎉".repeat(30));
        let folded = fold(&line);
        for part in folded.split("\r\n") {
            assert!(part.len() <= 75, "{} octets: {part}", part.len());
        }
        assert_eq!(folded.replace("\r\n ", ""), line);
    }

    #[test]
    fn short_lines_are_not_folded() {
        let line = "S".repeat(75);
        assert_eq!(fold(&line), line);
        assert_eq!(fold(&"S".repeat(76)), format!("{}\r\n S", "S".repeat(75)));
    }

    #[test]
    fn every_line_of_a_long_calendar_fits_in_75_octets() {
        let mut calendar = calendar();
        calendar.events[0].description = "Ffordd Llanbedr, Caerdydd — ".repeat(20);
        for line in calendar.to_ics().split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
    }

    #[test]
    fn file_names_come_from_the_title() {
        assert_eq!(
            file_name("Peer interviews (Leeds)"),
            "peer-interviews-leeds.ics"
        );
        assert_eq!(file_name("Café ☕"), "caf.ics");
        assert_eq!(file_name("☕"), "sessions.ics");
    }
}
