//! What the shell does to a word's text that needs no parser: `$'…'` escapes, and the output of
//! substitutions whose output is a constant (`$(echo rm)`).

use super::SimpleCommand;

/// What a substitution prints, when it is a constant: `$(echo rm)` → `rm`.
pub(super) fn constant_output(commands: &[SimpleCommand]) -> Option<String> {
    let [cmd] = commands else { return None };
    if !cmd.redirects.is_empty() || cmd.argv.iter().any(|w| w.dynamic) {
        return None;
    }
    match cmd.program()? {
        "echo" => {
            let args: Vec<&str> = cmd.argv[1..]
                .iter()
                .map(|w| w.text.as_str())
                .skip_while(|a| matches!(*a, "-n" | "-e" | "-E" | "-ne" | "-en"))
                .collect();
            Some(args.join(" "))
        }
        "printf" => {
            let format = cmd.argv.get(1)?;
            if cmd.argv.len() == 2 && !format.text.contains('%') && !format.text.contains('\\') {
                Some(format.text.clone())
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Decode the escapes of bash's `$'…'` quoting; `None` for an escape we do not know.
pub(super) fn decode_ansi_c(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'e' | 'E' => out.push('\x1b'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '\\' | '\'' | '"' | '?' => out.push(e),
            'x' | 'u' | 'U' => {
                let max = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut hex = String::new();
                while hex.len() < max {
                    match chars.peek() {
                        Some(h) if h.is_ascii_hexdigit() => {
                            hex.push(*h);
                            chars.next();
                        }
                        _ => break,
                    }
                }
                let n = u32::from_str_radix(&hex, 16).ok()?;
                out.push(char::from_u32(n)?);
            }
            '0'..='7' => {
                let mut oct = String::from(e);
                while oct.len() < 3 {
                    match chars.peek() {
                        Some(o) if ('0'..='7').contains(o) => {
                            oct.push(*o);
                            chars.next();
                        }
                        _ => break,
                    }
                }
                let n = u32::from_str_radix(&oct, 8).ok()?;
                out.push(char::from_u32(n)?);
            }
            _ => return None,
        }
    }
    Some(out)
}
