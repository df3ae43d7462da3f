//! A validating, non-allocating JSON field reader for log lines.
//!
//! The usage parsers need a dozen fields from lines that are mostly long strings (message text,
//! tool output). A general deserialiser walks every byte of those strings one at a time; this
//! reader finds the end of a string with `memchr` and checks it in bulk, so skipping is close to
//! memory speed. It is still a full JSON grammar check: a line is accepted only if it is valid
//! JSON (strings terminated, escapes and control characters checked, numbers and literals
//! well-formed, containers balanced, nothing after the value), so a truncated or garbled line is
//! rejected as a whole, the way `JSON.parse` rejects it. Strings are returned borrowed from the
//! line unless they contain escapes.
//!
//! It never panics on any input, never recurses deeper than [`MAX_DEPTH`], and does no I/O.

use std::borrow::Cow;

/// Nesting deeper than this is refused (as serde_json does).
pub const MAX_DEPTH: usize = 128;

/// The line is not valid JSON, or a field the caller asked for has another type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

pub type Result<T> = std::result::Result<T, Invalid>;

/// A cursor over one JSON text.
pub struct Reader<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Reader<'a> {
        Reader { b, i: 0, depth: 0 }
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Result<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// After the top-level value: only whitespace may follow.
    pub fn end(mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(Invalid),
        }
    }

    /// Read an object, calling `field` with each key (its bytes, escapes decoded); `field`
    /// must consume the value (read it or [`Reader::skip`] it).
    pub fn object(
        &mut self,
        field: impl FnMut(&mut Reader<'a>, &[u8]) -> Result<()>,
    ) -> Result<()> {
        self.walk_object(true, field)
    }

    fn walk_object(
        &mut self,
        decode_keys: bool,
        mut field: impl FnMut(&mut Reader<'a>, &[u8]) -> Result<()>,
    ) -> Result<()> {
        self.eat(b'{')?;
        self.enter()?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(Invalid);
            }
            let (start, end, escaped) = self.scan_string()?;
            self.eat(b':')?;
            if !decode_keys {
                field(self, b"")?;
            } else if !escaped {
                let key = &self.b[start..end];
                field(self, key)?;
            } else {
                let key = self.decode(start, end)?;
                field(self, key.as_bytes())?;
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Invalid),
            }
        }
    }

    /// An object (→ `true`) or `null` (→ `false`).
    fn object_or_null(
        &mut self,
        field: impl FnMut(&mut Reader<'a>, &[u8]) -> Result<()>,
    ) -> Result<bool> {
        if self.null()? {
            return Ok(false);
        }
        self.object(field)?;
        Ok(true)
    }

    /// An object (→ `true`) or `null` (→ `false`) of which only `keys` matter: `field(r, i)`
    /// must read the value of `keys[i]`; other keys are checked and skipped. A key of `keys`
    /// that appears twice makes the text invalid (as it does for serde's derived readers).
    pub fn fields(
        &mut self,
        keys: &[&[u8]],
        mut field: impl FnMut(&mut Reader<'a>, usize) -> Result<()>,
    ) -> Result<bool> {
        let mut seen = 0u64;
        self.object_or_null(|r, key| {
            match keys
                .iter()
                .position(|k| k.len() == key.len() && k.first() == key.first() && *k == key)
            {
                Some(i) if i < 64 => {
                    if seen & (1 << i) != 0 {
                        return Err(Invalid);
                    }
                    seen |= 1 << i;
                    field(r, i)
                }
                _ => r.skip(),
            }
        })
    }

    #[inline(always)]
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(Invalid)
        } else {
            Ok(())
        }
    }

    /// Consume `null` if it is next.
    #[inline(always)]
    fn null(&mut self) -> Result<bool> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// A string or `null`.
    pub fn string(&mut self) -> Result<Option<Cow<'a, str>>> {
        match self.peek() {
            Some(b'"') => self.string_token().map(Some),
            Some(b'n') => self.null().map(|_| None),
            _ => Err(Invalid),
        }
    }

    /// A non-negative integer that fits in u64, or `null`. Fractions and exponents are refused
    /// (as for an unsigned integer field in serde).
    pub fn u64(&mut self) -> Result<Option<u64>> {
        if self.null()? {
            return Ok(None);
        }
        // Digits only (no sign, fraction or exponent); overflow is refused. A leading zero
        // ends the number at once, as in `number_token` (what follows then fails the grammar).
        let mut n: u64 = match self.b.get(self.i) {
            Some(b'0') => {
                self.i += 1;
                0
            }
            Some(&c @ b'1'..=b'9') => {
                self.i += 1;
                u64::from(c - b'0')
            }
            _ => return Err(Invalid),
        };
        if n != 0 {
            while let Some(&c) = self.b.get(self.i) {
                if !c.is_ascii_digit() {
                    break;
                }
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(c - b'0')))
                    .ok_or(Invalid)?;
                self.i += 1;
            }
        }
        if matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E')) {
            return Err(Invalid);
        }
        Ok(Some(n))
    }

    /// Any number, or `null`.
    pub fn f64(&mut self) -> Result<Option<f64>> {
        if self.null()? {
            return Ok(None);
        }
        let (start, end) = self.number_token()?;
        std::str::from_utf8(&self.b[start..end])
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or(Invalid)
    }

    /// Whether the next value is an object.
    pub fn at_object(&mut self) -> bool {
        self.peek() == Some(b'{')
    }

    /// A number, or `None` for any other (valid) value, skipped: for fields whose wrong type
    /// must not cost the line around them.
    pub fn number_or_skip(&mut self) -> Result<Option<f64>> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.f64(),
            _ => self.skip().map(|_| None),
        }
    }

    /// Check and skip any value.
    pub fn skip(&mut self) -> Result<()> {
        match self.peek().ok_or(Invalid)? {
            b'"' => self.skip_string(),
            b'{' => self.walk_object(false, |r, _| r.skip()),
            b'[' => {
                self.i += 1;
                self.enter()?;
                if self.peek() == Some(b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.skip()?;
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(Invalid),
                        }
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number_token().map(drop),
            _ => Err(Invalid),
        }
    }

    /// Check a number's grammar; returns its byte range.
    fn number_token(&mut self) -> Result<(usize, usize)> {
        self.ws();
        let start = self.i;
        let digits = |r: &mut Self| {
            let from = r.i;
            while r.b.get(r.i).is_some_and(u8::is_ascii_digit) {
                r.i += 1;
            }
            r.i - from
        };
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(Invalid),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(Invalid);
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(Invalid);
            }
        }
        Ok((start, self.i))
    }

    /// Find the end of the string starting at the cursor (a `"`); returns the range of its
    /// contents and whether it has escapes.
    #[inline(always)]
    fn scan_string(&mut self) -> Result<(usize, usize, bool)> {
        debug_assert_eq!(self.b.get(self.i), Some(&b'"'));
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            // Keys and short values end within 16 bytes: look there before the general scan.
            #[cfg(target_arch = "x86_64")]
            let run = match self.b.get(self.i..self.i + WORD) {
                Some(chunk) => match first_special(chunk) {
                    Some(k) if chunk[k] < 0x20 => return Err(Invalid),
                    Some(k) => k,
                    None => WORD + string_run(&self.b[self.i + WORD..])?,
                },
                None => string_run(&self.b[self.i..])?,
            };
            #[cfg(not(target_arch = "x86_64"))]
            let run = string_run(&self.b[self.i..])?;
            self.i += run;
            if self.b[self.i] == b'"' {
                let end = self.i;
                self.i += 1;
                return Ok((start, end, escaped));
            }
            escaped = true;
            match self.b.get(self.i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 2,
                Some(b'u') => {
                    let hex = self.b.get(self.i + 2..self.i + 6).ok_or(Invalid)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(Invalid);
                    }
                    self.i += 6;
                }
                _ => return Err(Invalid),
            }
        }
    }

    #[inline(always)]
    fn skip_string(&mut self) -> Result<()> {
        self.scan_string().map(drop)
    }

    fn string_token(&mut self) -> Result<Cow<'a, str>> {
        let (start, end, escaped) = self.scan_string()?;
        if !escaped {
            let bytes = &self.b[start..end];
            // Ids and timestamps are ASCII: a cheaper check than full UTF-8 validation.
            if bytes.is_ascii() {
                // SAFETY: ASCII bytes are valid UTF-8.
                return Ok(Cow::Borrowed(unsafe {
                    std::str::from_utf8_unchecked(bytes)
                }));
            }
            return std::str::from_utf8(bytes)
                .map(Cow::Borrowed)
                .map_err(|_| Invalid);
        }
        self.decode(start, end).map(Cow::Owned)
    }

    /// The contents of the string at `start..end` (its quotes around it) with its escapes
    /// decoded. Rare in logs: serde_json does it (surrogate pairs included).
    fn decode(&self, start: usize, end: usize) -> Result<String> {
        serde_json::from_slice::<String>(&self.b[start - 1..=end]).map_err(|_| Invalid)
    }
}

/// Read `text` as one object (not `null`) followed by nothing but whitespace, calling
/// `field(reader, i)` for the value of each key of `keys` (see [`Reader::fields`]).
pub fn read_object<'a>(
    text: &'a [u8],
    keys: &[&[u8]],
    field: impl FnMut(&mut Reader<'a>, usize) -> Result<()>,
) -> Result<()> {
    let mut r = Reader::new(text);
    if !r.fields(keys, field)? {
        return Err(Invalid);
    }
    r.end()
}

/// Length of the run of plain string bytes at the start of `rest`, up to the first `"` or `\`.
/// Raw control characters are not allowed inside a JSON string.
#[inline]
fn string_run(rest: &[u8]) -> Result<usize> {
    // Keys, ids and short values end within a few bytes: look at a word at a time. Long text
    // goes to `memchr`.
    const SHORT: usize = 64;
    let mut i = 0;
    while i + WORD <= rest.len().min(SHORT) {
        if let Some(k) = first_special(&rest[i..i + WORD]) {
            let k = i + k;
            return if rest[k] < 0x20 { Err(Invalid) } else { Ok(k) };
        }
        i += WORD;
    }
    if rest.len() < SHORT {
        for (k, &c) in rest.iter().enumerate().skip(i) {
            match c {
                b'"' | b'\\' => return Ok(k),
                0..0x20 => return Err(Invalid),
                _ => {}
            }
        }
        return Err(Invalid);
    }
    let tail = &rest[i..];
    let at = memchr::memchr2(b'"', b'\\', tail).ok_or(Invalid)?;
    if tail[..at].iter().fold(false, |bad, &c| bad | (c < 0x20)) {
        return Err(Invalid);
    }
    Ok(i + at)
}

/// Bytes looked at together by [`first_special`].
#[cfg(target_arch = "x86_64")]
const WORD: usize = 16;
#[cfg(not(target_arch = "x86_64"))]
const WORD: usize = 8;

/// Index of the first byte of `chunk` (exactly [`WORD`] bytes) that is `"`, `\` or below 0x20.
#[cfg(target_arch = "x86_64")]
#[inline]
fn first_special(chunk: &[u8]) -> Option<usize> {
    use std::arch::x86_64::*;
    debug_assert_eq!(chunk.len(), WORD);
    // SAFETY: SSE2 is part of the x86_64 baseline; the load is unaligned and reads exactly the
    // 16 bytes of `chunk`.
    let mask = unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
    };
    (mask != 0).then(|| mask.trailing_zeros() as usize)
}

/// Index of the first byte of `chunk` (exactly [`WORD`] bytes) that is `"`, `\` or below 0x20.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn first_special(chunk: &[u8]) -> Option<usize> {
    let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
    let hits = special_bytes(word);
    (hits != 0).then(|| (hits.trailing_zeros() / 8) as usize)
}

/// A mask with the high bit set in each byte of `word` that is `"`, `\` or below 0x20. Bytes
/// above the lowest flagged one may be flagged wrongly; the lowest is always right.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline]
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    zero(word ^ (ONES * b'"' as u64)) | zero(word ^ (ONES * b'\\' as u64)) | below_space
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(text: &str) -> bool {
        let mut r = Reader::new(text.as_bytes());
        r.skip().is_ok() && r.end().is_ok()
    }

    #[test]
    fn accepts_exactly_what_a_json_parser_accepts() {
        for text in [
            r#"{}"#,
            r#" { "a" : [1, -2.5e+3, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9"] , "b":{}} "#,
            r#"{"a":[[]],"b":[{}],"c":0,"d":-0.0,"e":1E9}"#,
            r#""just a string""#,
            r#"{"a":"é ✓ 😀"}"#,
            r#"{"a":"bad \x"}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul}"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":"\u12"}"#,
            r#"{"a":"\ud83d\ude00"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":1} x"#,
            r#"{"a":1}{"#,
            r#"{"a":"#,
            r#"{"a":"unterminated"#,
            r#"{"a":[1,2"#,
            "",
            "   ",
        ] {
            let theirs = serde_json::from_str::<serde_json::Value>(text).is_ok();
            assert_eq!(valid(text), theirs, "{text}");
        }
    }

    #[test]
    fn string_runs_end_at_the_first_quote_backslash_or_control_byte() {
        for len in 0..150 {
            for (stop, want) in [(b'"', Ok(len)), (b'\\', Ok(len)), (b'\n', Err(Invalid))] {
                let mut text = vec![b'a'; len];
                text.push(stop);
                text.extend_from_slice(b"\"zzz");
                assert_eq!(string_run(&text), want, "len {len} stop {stop}");
            }
            // Bytes above 0x7f (UTF-8) are plain.
            let mut text = "é".repeat(len).into_bytes();
            text.push(b'"');
            assert_eq!(string_run(&text), Ok(text.len() - 1));
            assert_eq!(string_run(&vec![b'a'; len]), Err(Invalid));
        }
    }

    #[test]
    fn word_arithmetic_finds_the_same_first_special_byte() {
        let interesting = [
            b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff, b'!', b']',
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut word = [0u8; 8];
            for b in &mut word {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = interesting[(state % interesting.len() as u64) as usize];
            }
            let want = word
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            let hits = special_bytes(u64::from_le_bytes(word));
            let got = (hits != 0).then(|| (hits.trailing_zeros() / 8) as usize);
            assert_eq!(got, want, "{word:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(!valid(&deep));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(valid(&ok));
    }

    #[test]
    fn typed_reads() {
        let text = br#"{"s":"a\nb","n":null,"u":42,"f":-1.5e2,"big":18446744073709551616,"neg":-1,"frac":1.0}"#;
        let mut got = Vec::new();
        Reader::new(text)
            .object(|r, key| {
                let v = match std::str::from_utf8(key).unwrap() {
                    "s" => format!("{:?}", r.string()?),
                    "n" => format!("{:?}", r.u64()?),
                    "u" => format!("{:?}", r.u64()?),
                    "f" => format!("{:?}", r.f64()?),
                    _ => format!("{:?}", r.u64().ok()),
                };
                got.push(format!("{}={v}", String::from_utf8_lossy(key)));
                // Skip whatever a failed read left behind so the walk goes on.
                Ok(())
            })
            .ok();
        assert_eq!(
            got[..4],
            [
                "s=Some(\"a\\nb\")",
                "n=None",
                "u=Some(42)",
                "f=Some(-150.0)"
            ]
        );
        assert_eq!(got[4], "big=None");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_agrees_with_serde_json(text in r#"[\[\]{}",:0-9a-z\\ .eE+-]{0,60}"#) {
            let theirs = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            proptest::prop_assert_eq!(valid(&text), theirs);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut r = Reader::new(&bytes);
            let _ = r.skip();
        }
    }
}
