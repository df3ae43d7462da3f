//! Every decoder reads every line the same: the generator's every shape, and lines made
//! garbage from them.

use paios_core::usage::fields::Decode;
use paios_core::usage::parse::{self, CodexState, Line};
use paios_testkit::usage_logs::{self as logs, Shape, Size};

use super::{DECODERS, codex_limits, files_under};

fn claude<'a>(d: &dyn Decode, line: &'a [u8], scratch: &'a mut Vec<u8>) -> Line<'a> {
    if !parse::CLAUDE_NEEDLES
        .iter()
        .any(|n| memchr::memmem::find(line, n).is_some())
    {
        return Line::Ignored;
    }
    parse::parse_claude_with(d, line, scratch)
}

/// The decoders whose reading of `line` differs from the first one's, with what they read.
fn claude_disagreements(line: &[u8]) -> Vec<String> {
    let mut scratch = Vec::new();
    let want = claude(DECODERS[0], line, &mut scratch);
    DECODERS[1..]
        .iter()
        .filter_map(|d| {
            let mut scratch = Vec::new();
            let got = claude(*d, line, &mut scratch);
            if known_difference(d.name(), line) {
                return None;
            }
            (got != want).then(|| {
                let (got, want) = (format!("{got:?}"), format!("{want:?}"));
                format!(
                    "{}: {got} where {} reads {want} in {:?}",
                    d.name(),
                    DECODERS[0].name(),
                    String::from_utf8_lossy(line)
                )
            })
        })
        .collect()
}

/// Where a crate is known to read a line differently from JSON.parse (which ccusage uses, and
/// which serde_json, the product's decoder, follows), so the test can tell a known difference
/// from a new one. Each is a reason the crate could not replace the product's decoder as is.
///
/// - simd-json refuses a string holding a lone surrogate (`"\ud83d"` not followed by a low one,
///   or a lone `"\ude00"`), and a number outside f64's range (`1e400`), even in a field it skips.
/// - simd-json reads `-0` as a count of 0 where serde_json and the product refuse a negative count.
/// - sonic-rs does not check the escapes of a string it skips: a line with `"\u/"` or `"\q"` in
///   a message's text is taken, where JSON.parse refuses the whole line.
fn known_difference(decoder: &str, line: &[u8]) -> bool {
    match decoder {
        "simd-json" => lone_surrogate(line) || huge_number(line) || minus_zero(line),
        "sonic-rs" => bad_escape(line),
        _ => false,
    }
}

/// An escaped surrogate not in a high-low pair.
fn lone_surrogate(line: &[u8]) -> bool {
    let hex4 = |at: usize| {
        line.get(at..at + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u16::from_str_radix(h, 16).ok())
    };
    let mut i = 0;
    while let Some(at) = memchr::memmem::find(&line[i..], br"\u").map(|a| a + i) {
        i = at + 2;
        // An escaped backslash before it makes it text, not an escape.
        let backslashes = line[..at].iter().rev().take_while(|&&b| b == b'\\').count();
        if backslashes % 2 == 1 {
            continue;
        }
        match hex4(at + 2) {
            Some(0xD800..=0xDBFF) => {
                let low = line.get(at + 6..at + 8) == Some(br"\u")
                    && matches!(hex4(at + 8), Some(0xDC00..=0xDFFF));
                if !low {
                    return true;
                }
                i = at + 12;
            }
            Some(0xDC00..=0xDFFF) => return true,
            _ => {}
        }
    }
    false
}

/// A number with an exponent beyond f64's range.
fn huge_number(line: &[u8]) -> bool {
    line.windows(4).any(|w| {
        (w[0] == b'e' || w[0] == b'E')
            && w[1].is_ascii_digit()
            && w[2].is_ascii_digit()
            && w[3].is_ascii_digit()
    })
}

/// A `-0` value.
fn minus_zero(line: &[u8]) -> bool {
    line.windows(4).any(|w| {
        w[0] == b':' && w[1] == b'-' && w[2] == b'0' && !w[3].is_ascii_digit() && w[3] != b'.'
    })
}

/// An escape JSON does not have (`\q`, `\u` without four hex digits).
fn bad_escape(line: &[u8]) -> bool {
    let mut i = 0;
    while i < line.len() {
        if line[i] == b'\\' {
            match line.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u')
                    if line
                        .get(i + 2..i + 6)
                        .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                {
                    i += 6
                }
                _ => return true,
            }
        } else {
            i += 1;
        }
    }
    false
}

/// Each decoder reads `lines` as one Codex file: what each line meant and the state after it.
fn codex_reading(d: &dyn Decode, lines: &[Vec<u8>]) -> Vec<(Line<'static>, CodexState)> {
    let mut state = CodexState::default();
    lines
        .iter()
        .map(|line| {
            let mut scratch = Vec::new();
            let meaning = if parse::CODEX_NEEDLES
                .iter()
                .any(|n| memchr::memmem::find(line, n).is_some())
            {
                owned(parse::parse_codex_with(d, line, &mut scratch, &mut state))
            } else {
                Line::Ignored
            };
            (meaning, state.clone())
        })
        .collect()
}

fn owned(line: Line<'_>) -> Line<'static> {
    use std::borrow::Cow;
    let own = |s: Cow<'_, str>| -> Cow<'static, str> { Cow::Owned(s.into_owned()) };
    match line {
        Line::Usage(r) => Line::Usage(parse::Record {
            ts_ms: r.ts_ms,
            model: r.model.map(own),
            session: r.session.map(own),
            dedupe_key: r.dedupe_key.map(|(a, b)| (own(a), b.map(own))),
            tokens: r.tokens,
            cost_usd: r.cost_usd,
        }),
        Line::Ignored => Line::Ignored,
        Line::Malformed => Line::Malformed,
    }
}

fn codex_disagreements(lines: &[Vec<u8>]) -> Vec<String> {
    let want = codex_reading(DECODERS[0], lines);
    let mut out = Vec::new();
    for d in &DECODERS[1..] {
        let got = codex_reading(*d, lines);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if g != w && !known_difference(d.name(), &lines[i]) {
                out.push(format!(
                    "{}: {g:?} where {} reads {w:?} in {:?}",
                    d.name(),
                    DECODERS[0].name(),
                    String::from_utf8_lossy(&lines[i])
                ));
                break;
            }
        }
    }
    out
}

fn lines_of(path: &std::path::Path) -> Vec<Vec<u8>> {
    std::fs::read(path)
        .unwrap()
        .split(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn claude_lines(seed: u64) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for shape in Shape::ALL {
        let dir = tempfile::tempdir().unwrap();
        logs::write_claude(dir.path(), shape, seed, Size::Sessions(6)).unwrap();
        for path in files_under(&dir.path().join("projects")).unwrap() {
            all.extend(lines_of(&path));
        }
    }
    all
}

fn codex_files(seed: u64) -> Vec<Vec<Vec<u8>>> {
    let dir = tempfile::tempdir().unwrap();
    logs::write_codex_tree_with(dir.path(), seed, 6, 30, codex_limits);
    logs::write_codex_tree(&dir.path().join("plain"), seed, 3, 20);
    let mut files = files_under(&dir.path().join("sessions")).unwrap();
    files.extend(files_under(&dir.path().join("plain/sessions")).unwrap());
    files.iter().map(|p| lines_of(p)).collect()
}

#[test]
fn every_decoder_reads_every_shape_of_the_generator_alike() {
    let lines = claude_lines(11);
    let usage = lines
        .iter()
        .filter(|l| {
            let mut s = Vec::new();
            matches!(claude(DECODERS[0], l, &mut s), Line::Usage(_))
        })
        .count();
    assert!(usage > 500, "only {usage} usage lines");
    let wrong: Vec<String> = lines.iter().flat_map(|l| claude_disagreements(l)).collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    for file in codex_files(11) {
        let wrong = codex_disagreements(&file);
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}

/// Lines made from `line`: cut short at many places, and with one byte replaced by a byte
/// that matters to JSON at many places.
fn garbled(line: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if line.is_empty() {
        return out;
    }
    let step = (line.len() / 48).max(1);
    for cut in (0..line.len())
        .step_by(step)
        .chain(line.len().saturating_sub(8)..line.len())
    {
        out.push(line[..cut].to_vec());
    }
    let mut state = line.len() as u64 | 1;
    for _ in 0..48 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let at = (state % line.len() as u64) as usize;
        for b in [
            b'"', b'\\', b'{', b'}', b']', b',', b':', 0x01, b'9', b'-', b'e',
        ] {
            let mut l = line.to_vec();
            l[at] = b;
            out.push(l);
        }
    }
    out
}

const USAGE: &str = r#""usage":{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":3,"cache_read_input_tokens":4,"cache_creation":{"ephemeral_5m_input_tokens":1,"ephemeral_1h_input_tokens":2}}"#;

/// Hand-made lines at the edges of JSON and of the fields' types.
fn edge_lines() -> Vec<String> {
    let base = |message: &str, extra: &str| {
        format!(
            r#"{{"timestamp":"2026-11-01T10:00:00.000Z","sessionId":"s","requestId":"r","version":"2.1.3"{extra},"message":{message}}}"#
        )
    };
    let ok_message = format!(r#"{{"id":"m","model":"claude-sonnet-4-5",{USAGE}}}"#);
    let mut out = vec![
        base(&ok_message, ""),
        base(&ok_message, r#","costUSD":0.25"#),
        base(&ok_message, r#","costUSD":-0"#),
        base(&ok_message, r#","costUSD":1e400"#),
        base(&ok_message, r#","costUSD":12345678901234567890123"#),
        base(&ok_message, r#","costUSD":0.1e1"#),
        base(&ok_message, r#","costUSD":"1""#),
        base(&ok_message, r#","timestamp":"2026-11-01T10:00:00Z""#),
        base(
            &ok_message,
            r#","text":"\ud83d\ude00 \u00e9 \" \\ \/ \b\f\n\r\t""#,
        ),
        base(&ok_message, r#","text":"\ud83d""#),
        base(&ok_message, r#","text":"\x""#),
        base(
            &ok_message,
            r#","other":[1,2,{"usage":{}}],"n":[true,false,null]"#,
        ),
        base(
            &ok_message,
            &format!(r#","deep":{}1{}"#, "[".repeat(100), "]".repeat(100)),
        ),
        base(
            &ok_message,
            &format!(r#","deep":{}1{}"#, "[".repeat(126), "]".repeat(126)),
        ),
        base(
            &ok_message,
            &format!(
                r#","deep":{}{}"#,
                "{\"a\":".repeat(60),
                "1".to_string() + &"}".repeat(60)
            ),
        ),
        base(&format!(r#"["m","claude-sonnet-4-5",{{{USAGE}}}]"#), ""),
        base(r#"{"id":"m","model":"x","usage":[1,2,3,4]}"#, ""),
        base(
            r#"{"id":"m","model":"x","usage":{"input_tokens":1,"cache_creation":[5,6]}}"#,
            "",
        ),
        base(r#"{"id":"m","model":"x","usage":{"input_tokens":1.0}}"#, ""),
        base(r#"{"id":"m","model":"x","usage":{"input_tokens":-1}}"#, ""),
        base(
            r#"{"id":"m","model":"x","usage":{"input_tokens":18446744073709551616}}"#,
            "",
        ),
        base(
            r#"{"id":"m","model":"x","usage":{"input_tokens":null,"output_tokens":7}}"#,
            "",
        ),
        base(
            r#"{"id":"m","model":"x","usage":{"input_tokens":1,"input_tokens":2}}"#,
            "",
        ),
        base(
            r#"{"id":"m","model":"x","usage":{"input_tok\u0065ns":9}}"#,
            "",
        ),
        base(r#"{"id":"m","model":"x","usage":null}"#, ""),
        base(&format!(r#"{{"id":7,"model":"x",{USAGE}}}"#), ""),
        base("null", ""),
        base("[]", ""),
        base(&ok_message, r#","sessionId":"again""#),
        base(&ok_message, r#","sess\u0069onId":"escaped""#),
        format!("  {}  \t", base(&ok_message, "")),
        format!("{} x", base(&ok_message, "")),
        format!("{}{{", base(&ok_message, "")),
        format!("\u{feff}{}", base(&ok_message, "")),
        format!(
            r#"{{"message":{{"model":"<synthetic>",{USAGE}}},"timestamp":"2026-11-01T10:00:00Z"}}"#
        ),
        format!(
            r#"{{ "timestamp" : "2026-11-01T10:00:00Z" , "message" : {{ "id" : "m" , {USAGE} }} }}"#
        ),
        r#"{"usage":1}"#.into(),
        r#""usage""#.into(),
        r#"{"usage""#.into(),
        String::new(),
    ];
    // Codex-only edges are exercised through the Claude reader too (all ignored there).
    out.push(r#"{"type":"event_msg","payload":{"type":"token_count","rate_limits":{"primary":{"used_percent":"x"}}}, "usage":1}"#.into());
    out
}

fn codex_edge_files() -> Vec<Vec<Vec<u8>>> {
    let tc = |info: &str, limits: &str| {
        format!(
            r#"{{"timestamp":"2026-11-01T10:00:00Z","type":"event_msg","payload":{{"type":"token_count","info":{info},"rate_limits":{limits}}}}}"#
        )
    };
    let usage = |i: u64| {
        format!(
            r#"{{"input_tokens":{i},"cached_input_tokens":3,"output_tokens":5,"reasoning_output_tokens":1,"total_tokens":{}}}"#,
            i + 5
        )
    };
    let info = |i: u64| {
        format!(
            r#"{{"total_token_usage":{},"last_token_usage":{}}}"#,
            usage(i * 10),
            usage(i)
        )
    };
    let window = r#"{"used_percent":12.5,"window_minutes":300,"resets_at":1794000000}"#;
    let lines = vec![
        r#"{"timestamp":"2026-11-01T09:00:00Z","type":"turn_context","payload":{"model":"gpt-5-codex"}}"#.to_string(),
        tc(&info(1), &format!(r#"{{"primary":{window},"secondary":null}}"#)),
        tc(&info(2), &format!(r#"{{"primary":{window},"secondary":{window},"plan_type":"pro"}}"#)),
        tc(&info(3), r#""soon""#),
        tc(&info(4), r#"[1,2]"#),
        tc(&info(5), r#"{"primary":"full","secondary":[{"used_percent":1}]}"#),
        tc(&info(6), r#"{"primary":{"used_percent":"x","window_minutes":[],"resets_at":{}}}"#),
        tc(&info(7), r#"{"primary":{"used_percent":1e400}}"#),
        tc(&info(8), r#"{"primary":{"used_percent":-5,"window_minutes":-1,"resets_in_seconds":600.5}}"#),
        tc(&info(9), r#"{"primary":{"used_percent":5,"used_percent":6}}"#),
        tc(&info(10), &format!(r#"{{"primary":{window},"primary":{window}}}"#)),
        tc(&info(11), r#"null,"rate_limits":null"#),
        tc(&info(12), r#"{"primary":{"used_percent":18446744073709551615,"window_minutes":1.5e3}}"#),
        tc(&format!(r#"{{"total_token_usage":{}}}"#, usage(200)), "null"),
        tc(&format!(r#"{{"total_token_usage":{}}}"#, usage(200)), "null"),
        tc(r#"{"total_token_usage":[1,2,3,4,5]}"#, "null"),
        tc(r#"{"total_token_usage":{"input_tokens":null}}"#, "null"),
        tc(&format!(r#"{{"total_token_usage":{},"model":"gpt-5.4"}}"#, usage(400)), "null"),
        tc("null", "null"),
        tc("[]", "null"),
        r#"{"timestamp":"2026-11-01T10:00:00Z","type":"turn_context","payload":{"model":"  "}}"#.into(),
        r#"{"timestamp":"2026-11-01T10:00:00Z","type":"turn_context","payload":["gpt-5"]}"#.into(),
        r#"{"timestamp":"2026-11-01T10:00:00Z","type":"turn_context","payload":{"model":"gpt-\u0035"}}"#.into(),
        r#"{"timestamp":"2026-11-01T10:00:00Z","type":"event_msg","payload":{"type":"token_count","info":{"total"#.into(),
    ];
    let lines: Vec<Vec<u8>> = lines.into_iter().map(String::into_bytes).collect();
    // The same file with each line garbled in turn (one garbled line among good ones).
    let mut files = vec![lines.clone()];
    for i in 0..lines.len() {
        for g in garbled(&lines[i]).into_iter().step_by(5) {
            let mut file = lines.clone();
            file[i] = g;
            files.push(file);
        }
    }
    files
}

#[test]
fn every_decoder_reads_garbage_and_edge_lines_alike_and_none_panics() {
    let mut wrong = Vec::new();
    let mut lines: Vec<Vec<u8>> = edge_lines().into_iter().map(String::into_bytes).collect();
    // Usage lines of every shape, garbled.
    let from_logs: Vec<Vec<u8>> = claude_lines(5)
        .into_iter()
        .filter(|l| memchr::memmem::find(l, b"\"usage\"").is_some())
        .step_by(40)
        .collect();
    for l in lines.clone().iter().chain(&from_logs) {
        lines.extend(garbled(l));
    }
    for l in &lines {
        wrong.extend(claude_disagreements(l));
    }
    for file in codex_edge_files() {
        wrong.extend(codex_disagreements(&file));
    }
    for file in codex_files(5).iter().take(3) {
        for i in (0..file.len()).step_by(7) {
            for g in garbled(&file[i]).into_iter().step_by(3) {
                let mut f = file.clone();
                f[i] = g;
                wrong.extend(codex_disagreements(&f));
            }
        }
    }
    wrong.truncate(40);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn arbitrary_bytes_never_panic_any_decoder() {
    let mut rng = paios_testkit::rng::Rng::new(0x9e37_79b9_7f4a_7c15);
    let alphabet = b"{}[]\":,0123456789.eE+-\\ntrulfase usage\x00\xff\xc3\xa9";
    for len in 0..400 {
        for _ in 0..8 {
            let line: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect();
            for d in DECODERS {
                let mut scratch = Vec::new();
                let _ = parse::parse_claude_with(d, &line, &mut scratch);
                let mut scratch = Vec::new();
                let _ = parse::parse_codex_with(d, &line, &mut scratch, &mut CodexState::default());
            }
        }
    }
}
