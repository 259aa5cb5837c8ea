//! What an erased person leaves behind in text other people wrote: their name and address,
//! replaced by a marker (unsent email, staff notes).

/// Stands in an erased person's name or address in free text, wherever it was.
pub const DELETED_PERSON_IN_TEXT: &str = "[a person who has since deleted their account]";

/// What names a person in free text: their address, and their full name when it has two words
/// or more (a single word such as "Sam" would also hit other people and ordinary words).
pub fn identifying_words<'a>(email: &'a str, full_name: &'a str) -> Vec<&'a str> {
    let mut words = vec![email];
    if full_name.split_whitespace().nth(1).is_some() {
        words.push(full_name);
    }
    words
}

/// Where `needle` stands in `haystack` as a whole word (not part of a longer one).
fn whole_words<'a>(haystack: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    haystack
        .match_indices(needle)
        .map(|(at, _)| at)
        .filter(move |&at| {
            !needle.is_empty()
                && !word(haystack[..at].chars().next_back())
                && !word(haystack[at + needle.len()..].chars().next())
        })
}

/// Whether `needle` stands in `haystack` as a whole word.
pub fn contains_whole(haystack: &str, needle: &str) -> bool {
    whole_words(haystack, needle).next().is_some()
}

/// `haystack` with each `needle` that is not part of a longer word replaced by `with`; `None`
/// when there is none.
pub fn replace_whole(haystack: &str, needle: &str, with: &str) -> Option<String> {
    let mut out = String::with_capacity(haystack.len());
    let mut last = 0;
    for at in whole_words(haystack, needle) {
        out.push_str(&haystack[last..at]);
        out.push_str(with);
        last = at + needle.len();
    }
    if last == 0 {
        return None;
    }
    out.push_str(&haystack[last..]);
    Some(out)
}

/// `text` as it is written inside a JSON string (quotes and backslashes escaped), to find it in
/// stored JSON.
pub fn json_escaped(text: &str) -> String {
    let quoted = serde_json::Value::from(text).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_replaced_only_as_a_whole_word() {
        assert_eq!(
            replace_whole("Ask Sam, not Samir or Sam.", "Sam", "X").as_deref(),
            Some("Ask X, not Samir or X.")
        );
        assert_eq!(replace_whole("Samuel", "Sam", "X"), None);
        assert_eq!(replace_whole("anything", "", "X"), None);
        assert!(contains_whole("Ask Sam.", "Sam"));
        assert!(!contains_whole("Samuel", "Sam"));
        assert!(!contains_whole("anything", ""));
    }

    #[test]
    fn a_name_is_found_in_json_as_json_writes_it() {
        assert_eq!(json_escaped(r#"Zeph "Z" Q\"#), r#"Zeph \"Z\" Q\\"#);
        assert_eq!(json_escaped("Ann O'Neil"), "Ann O'Neil");
    }

    #[test]
    fn a_single_word_name_is_not_looked_for() {
        assert_eq!(
            identifying_words("sam@example.org", "Sam"),
            ["sam@example.org"]
        );
        assert_eq!(
            identifying_words("ann@example.org", "Ann O'Neil"),
            ["ann@example.org", "Ann O'Neil"]
        );
    }
}
