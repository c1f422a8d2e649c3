//! Text that traffic, a module or a rule chose, made safe to print and to
//! use as an id.

/// True for a character that can forge or hide output: a control character
/// (newlines, terminal escapes) or an invisible format character that
/// reorders or hides text (bidi marks and overrides, line and paragraph
/// separators, zero-width characters, the byte-order mark).
#[must_use]
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// `text` safe to print on one line of a terminal: every [`is_hidden`]
/// character is escaped (`\u{..}`), so text a module or a rule chose cannot
/// forge or hide lines of output.
#[must_use]
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hidden(c) {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    std::borrow::Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    use super::printable;

    /// Text a module or rule chose prints as one line that hides nothing:
    /// newlines, terminal escapes and bidi or zero-width characters are
    /// escaped; ordinary text (Chinese included) is left alone. (Found in
    /// review: a duplicate export's name in wasmparser's message, and a
    /// rule's error text at load, forged `check` and start-up lines.)
    #[test]
    fn printable_escapes_what_could_forge_or_hide_output() {
        assert_eq!(printable("ok 红包 \"x\""), "ok 红包 \"x\"");
        assert_eq!(
            printable("bad\n\u{1b}[1A\u{1b}[2Khongbao: ok"),
            "bad\\u{a}\\u{1b}[1A\\u{1b}[2Khongbao: ok"
        );
        assert_eq!(
            printable("a\u{202e}b\u{2028}c\u{200b}"),
            "a\\u{202e}b\\u{2028}c\\u{200b}"
        );
        assert!(!printable("\r\t\u{7f}").chars().any(char::is_control));
    }
}
