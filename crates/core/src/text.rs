//! Text that came from outside (an agent's command, a model or session name from a log) made
//! safe to show in a terminal. Owns no I/O.

/// Text from outside (an agent's command, a model name from a log) made safe for a terminal:
/// control characters are shown escaped (`\r`, `\u{1b}`), so they cannot move the cursor or
/// repaint what was printed.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(super::printable("ls -la"), "ls -la");
        assert_eq!(
            super::printable("rm -rf ~ # \r\u{1b}[2K ls"),
            "rm -rf ~ # \\r\\u{1b}[2K ls"
        );
    }
}
