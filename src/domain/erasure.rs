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

/// `haystack` with each `needle` that is not part of a longer word replaced by `with`; `None`
/// when there is none.
pub fn replace_whole(haystack: &str, needle: &str, with: &str) -> Option<String> {
    if needle.is_empty() {
        return None;
    }
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(haystack.len());
    let mut last = 0;
    for (at, _) in haystack.match_indices(needle) {
        let end = at + needle.len();
        if word(haystack[..at].chars().next_back()) || word(haystack[end..].chars().next()) {
            continue;
        }
        out.push_str(&haystack[last..at]);
        out.push_str(with);
        last = end;
    }
    if last == 0 {
        return None;
    }
    out.push_str(&haystack[last..]);
    Some(out)
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
