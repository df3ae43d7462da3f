//! The fields the usage parsers read from a log line, and the seam through which a line's JSON
//! is decoded into them.
//!
//! [`super::parse`] decides what a line means for the ledger from these fields alone; how the
//! JSON was decoded is this module's business. The structs derive `Deserialize` with two
//! rules serde's defaults do not have, so that every serde-based decoder reads exactly what the
//! parsers expect: a nested struct is read only from an object (serde would also take an array
//! of its fields), and Codex's `rate_limits` of a shape not understood are passed over, not the
//! line's usage. A key the parsers read that appears twice makes the line invalid.
//!
//! [`Decode`] is the one way a line's JSON is read. The product uses [`DEFAULT`]; the benchmark
//! (`paios-bench json`) drives the same ledger with other decoders to compare them.
//!
//! This module does no I/O and never panics on any input.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::parse::CodexUsage;

/// The fields of a Claude Code line.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct ClaudeLine<'a> {
    /// `timestamp`: when the line was written, RFC 3339; a usage line without one is malformed.
    #[serde(borrow, default)]
    pub timestamp: Option<Cow<'a, str>>,
    /// `sessionId`: the Claude Code session; a line whose id is empty is ignored.
    #[serde(borrow, default, rename = "sessionId")]
    pub session_id: Option<Cow<'a, str>>,
    /// `requestId`: the API request; with `message.id` it forms the key that drops a repeated line.
    #[serde(borrow, default, rename = "requestId")]
    pub request_id: Option<Cow<'a, str>>,
    /// `version`: the Claude Code version; a line whose version does not start like semver is
    /// ignored.
    #[serde(borrow, default)]
    pub version: Option<Cow<'a, str>>,
    /// `costUSD`: the cost Claude Code logged for the request, in US dollars, if any.
    #[serde(default, rename = "costUSD")]
    pub cost_usd: Option<f64>,
    /// `message`: the API message; a line without one is ignored.
    #[serde(borrow, default, deserialize_with = "object")]
    pub message: Option<ClaudeMessage<'a>>,
}

/// A Claude Code line's `message`.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct ClaudeMessage<'a> {
    /// `id`: the API message id, the other half of the repeated-line key.
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    /// `model`: the model that answered; a line whose model is empty is ignored.
    #[serde(borrow, default)]
    pub model: Option<Cow<'a, str>>,
    /// `usage`: the message's token counts; a message without them is ignored.
    #[serde(default, deserialize_with = "object")]
    pub usage: Option<ClaudeUsage>,
}

/// A Claude Code message's `usage`.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ClaudeUsage {
    /// `input_tokens`: input tokens not read from or written to the cache; absent counts 0.
    pub input_tokens: Option<u64>,
    /// `output_tokens`: output tokens; absent counts 0.
    pub output_tokens: Option<u64>,
    /// `cache_creation_input_tokens`: all tokens written to the cache; used only when
    /// `cache_creation` is absent, and then priced as five-minute writes.
    pub cache_creation_input_tokens: Option<u64>,
    /// `cache_read_input_tokens`: input tokens read from the cache; absent counts 0.
    pub cache_read_input_tokens: Option<u64>,
    /// `cache_creation`: the cache writes split by lifetime; when present it replaces the total
    /// above.
    #[serde(deserialize_with = "object")]
    pub cache_creation: Option<CacheCreation>,
}

/// The cache writes by lifetime.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CacheCreation {
    /// `ephemeral_5m_input_tokens`: tokens written to the five-minute cache; absent counts 0.
    pub ephemeral_5m_input_tokens: Option<u64>,
    /// `ephemeral_1h_input_tokens`: tokens written to the one-hour cache; absent counts 0.
    pub ephemeral_1h_input_tokens: Option<u64>,
}

/// The fields of a Codex line.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct CodexLine<'a> {
    /// `timestamp`: when the line was written, RFC 3339.
    #[serde(borrow, default)]
    pub timestamp: Option<Cow<'a, str>>,
    /// `type`: the line's kind, such as `event_msg` or `turn_context`.
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    /// `payload`: the event the line carries.
    #[serde(borrow, default, deserialize_with = "object")]
    pub payload: Option<CodexPayload<'a>>,
}

/// A Codex line's `payload`.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct CodexPayload<'a> {
    /// `type`: the payload's kind; usage comes from `token_count`.
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    /// `model`: the model named by a `turn_context` payload.
    #[serde(borrow, default)]
    pub model: Option<Cow<'a, str>>,
    /// `info`: a token count's totals; `None` when the event has none.
    #[serde(borrow, default, deserialize_with = "object")]
    pub info: Option<CodexInfo<'a>>,
    /// `(primary, secondary)` when `rate_limits` is an object; a window that is not an object
    /// is `None`.
    #[serde(default, deserialize_with = "rate_limits")]
    pub rate_limits: Option<(Option<RawWindow>, Option<RawWindow>)>,
}

/// A token count's `info`.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct CodexInfo<'a> {
    /// `total_token_usage`: the session's cumulative token counts so far.
    #[serde(default, deserialize_with = "object")]
    pub total_token_usage: Option<CodexUsage>,
    /// `last_token_usage`: the last turn's token counts.
    #[serde(default, deserialize_with = "object")]
    pub last_token_usage: Option<CodexUsage>,
    /// `model`: the model the counts are for, when the event names it.
    #[serde(borrow, default)]
    pub model: Option<Cow<'a, str>>,
}

/// A rate-limit window as logged, before its reset is put in absolute time. A field that is
/// not a number is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RawWindow {
    /// `used_percent`: how much of the window is used, in percent (clamped to 0-100 when read).
    pub used_percent: Option<f64>,
    /// `window_minutes`: the window's length in minutes.
    pub window_minutes: Option<f64>,
    /// `resets_at`: when the window resets, epoch seconds (newer Codex versions).
    pub resets_at: Option<f64>,
    /// `resets_in_seconds`: seconds from the event until the window resets (older Codex versions).
    pub resets_in_seconds: Option<f64>,
}

/// The fields of an OpenClaw session line: a message (`type` `message`), a model change
/// (`type` `model_change`, `modelId` or `model`), or a model snapshot (`type` `custom`,
/// `customType` `model-snapshot`, `data.modelId` or `data.model`).
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct OpenClawLine<'a> {
    /// `type`: `message`, `model_change` or `custom`; other kinds are ignored.
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    /// `timestamp`: when the line was written; used when the message has no time of its own.
    #[serde(borrow, default)]
    pub timestamp: Option<Stamp<'a>>,
    /// `customType`: a `custom` line's kind; a model snapshot is `model-snapshot`.
    #[serde(borrow, default, rename = "customType")]
    pub custom_type: Option<Cow<'a, str>>,
    /// `modelId`: a model change's model, preferred to `model`; not a string is `None`.
    #[serde(borrow, default, rename = "modelId", deserialize_with = "text")]
    pub model_id: Option<Cow<'a, str>>,
    /// `model`: a model change's model when it has no `modelId`; not a string is `None`.
    #[serde(borrow, default, deserialize_with = "text")]
    pub model: Option<Cow<'a, str>>,
    /// `data`: a model snapshot's model; not an object is `None`.
    #[serde(borrow, default, deserialize_with = "lenient_object")]
    pub data: Option<OpenClawModelRef<'a>>,
    /// `message`: the message a `message` line carries; not an object is `None`.
    #[serde(borrow, default, deserialize_with = "lenient_object")]
    pub message: Option<OpenClawMessage<'a>>,
}

/// A model snapshot's `data`.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct OpenClawModelRef<'a> {
    /// `modelId`: the snapshot's model, preferred to `model`; not a string is `None`.
    #[serde(borrow, default, rename = "modelId", deserialize_with = "text")]
    pub model_id: Option<Cow<'a, str>>,
    /// `model`: the snapshot's model when it has no `modelId`; not a string is `None`.
    #[serde(borrow, default, deserialize_with = "text")]
    pub model: Option<Cow<'a, str>>,
}

/// An OpenClaw line's `message`.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct OpenClawMessage<'a> {
    /// `role`: who wrote the message; only `assistant` messages carry usage.
    #[serde(borrow, default)]
    pub role: Option<Cow<'a, str>>,
    /// `model`: the model that answered; not a string is `None`.
    #[serde(borrow, default, deserialize_with = "text")]
    pub model: Option<Cow<'a, str>>,
    /// `timestamp`: when the message was written; preferred to the line's `timestamp`.
    #[serde(borrow, default)]
    pub timestamp: Option<Stamp<'a>>,
    /// `usage`: the message's token counts and cost.
    #[serde(default, deserialize_with = "lenient_object")]
    pub usage: Option<OpenClawUsage>,
}

/// An OpenClaw message's `usage`. A count that is not a whole number from 0 up is `None` (as
/// ccusage reads it: the line still counts, with 0 there); a `cost` that is not an object, or
/// whose `total` is not a number, is `None`.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct OpenClawUsage {
    /// `input`: input tokens not read from the cache.
    #[serde(deserialize_with = "count")]
    pub input: Option<u64>,
    /// `output`: output tokens.
    #[serde(deserialize_with = "count")]
    pub output: Option<u64>,
    /// `cacheRead`: input tokens read from the cache.
    #[serde(rename = "cacheRead", deserialize_with = "count")]
    pub cache_read: Option<u64>,
    /// `cacheWrite`: tokens written to the cache.
    #[serde(rename = "cacheWrite", deserialize_with = "count")]
    pub cache_write: Option<u64>,
    /// `totalTokens`: the message's total tokens as OpenClaw logged them.
    #[serde(rename = "totalTokens", deserialize_with = "count")]
    pub total_tokens: Option<u64>,
    /// `cost.total`: the message's cost as OpenClaw logged it, in US dollars.
    #[serde(deserialize_with = "cost_total")]
    pub cost: Option<f64>,
}

/// A time as OpenClaw writes it: an RFC 3339 string, or milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Stamp<'a> {
    /// Milliseconds since the Unix epoch.
    Millis(f64),
    /// An RFC 3339 time.
    #[serde(borrow)]
    Text(Cow<'a, str>),
}

/// How a line's JSON is decoded into its fields.
///
/// `line` is any bytes. A decoder fills `out` (a default one) and returns `true` only when the
/// whole line is one JSON object, nothing but whitespace after it, whose fields have the types
/// above; otherwise the line is malformed and `out` is not read. `scratch` is the reader
/// thread's buffer, kept from line to line, for a decoder that must copy the line to decode it
/// (strings in `out` may borrow from it).
pub trait Decode: Sync {
    /// A short name, for the benchmark's tables.
    fn name(&self) -> &'static str;
    /// A Claude Code line decoded into `out`; `false` when it is malformed.
    fn claude<'a>(
        &self,
        line: &'a [u8],
        scratch: &'a mut Vec<u8>,
        out: &mut ClaudeLine<'a>,
    ) -> bool;
    /// A Codex line decoded into `out`; `false` when it is malformed.
    fn codex<'a>(&self, line: &'a [u8], scratch: &'a mut Vec<u8>, out: &mut CodexLine<'a>) -> bool;
    /// An OpenClaw line; serde_json unless a decoder says otherwise.
    fn openclaw<'a>(
        &self,
        line: &'a [u8],
        _scratch: &'a mut Vec<u8>,
        out: &mut OpenClawLine<'a>,
    ) -> bool {
        serde_json_object(line, out)
    }
}

/// The decoder the product uses.
pub static DEFAULT: &dyn Decode = &SerdeJson;

/// serde_json into the structs above, strings borrowed from the line, the rest skipped.
pub struct SerdeJson;

impl Decode for SerdeJson {
    fn name(&self) -> &'static str {
        "serde_json"
    }
    fn claude<'a>(&self, line: &'a [u8], _: &'a mut Vec<u8>, out: &mut ClaudeLine<'a>) -> bool {
        serde_json_object(line, out)
    }
    fn codex<'a>(&self, line: &'a [u8], _: &'a mut Vec<u8>, out: &mut CodexLine<'a>) -> bool {
        serde_json_object(line, out)
    }
}

/// A Claude Code line decoded by serde_json into `out`; `false` when it is malformed.
pub fn serde_claude<'a>(line: &'a [u8], out: &mut ClaudeLine<'a>) -> bool {
    serde_json_object(line, out)
}

/// An OpenClaw line decoded by serde_json into `out`; `false` when it is malformed.
pub fn serde_openclaw<'a>(line: &'a [u8], out: &mut OpenClawLine<'a>) -> bool {
    serde_json_object(line, out)
}

/// A Codex line decoded by serde_json into `out`; `false` when it is malformed.
pub fn serde_codex<'a>(line: &'a [u8], out: &mut CodexLine<'a>) -> bool {
    serde_json_object(line, out)
}

fn serde_json_object<'a, T: Deserialize<'a>>(line: &'a [u8], out: &mut T) -> bool {
    let mut de = serde_json::Deserializer::from_slice(line);
    match from_object(&mut de).and_then(|v| de.end().map(|()| v)) {
        Ok(v) => {
            *out = v;
            true
        }
        Err(_) => false,
    }
}

/// Read a `T` from `d` only if the value is an object (not `null`, not an array).
pub fn from_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    T::deserialize(StructAsMap(d))
}

/// A field holding an object of type `T`, or `null`.
fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<Object<T>>::deserialize(d).map(|o| o.map(|o| o.0))
}

struct Object<T>(T);

/// A deserializer that reads a struct as a map only (serde's derived readers would also take a
/// sequence of its fields).
struct StructAsMap<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for StructAsMap<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// Something read from an object; any other value reads as `None`.
trait FromMap<'de>: Sized {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// A value: `Some` of an object read by `T`, `None` for any other value (skipped).
struct OrNone<T>(Option<T>);

impl<'de, T: FromMap<'de>> Deserialize<'de> for OrNone<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Lenient::<T>(PhantomData)).map(OrNone)
    }
}

struct Lenient<T>(PhantomData<T>);

macro_rules! anything_else_is_none {
    ($($method:ident($ty:ty)),*) => {
        $(fn $method<E: de::Error>(self, _: $ty) -> Result<Self::Value, E> {
            Ok(None)
        })*
    };
}

/// The arms every lenient visitor shares: `null` and a missing value are `None`, `Some(x)` is
/// read as `x`, and an array is skipped as `None`.
macro_rules! empty_and_arrays_are_none {
    () => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    };
}

/// An object is skipped as `None` (for visitors of scalar fields).
macro_rules! objects_are_none {
    () => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    };
}

impl<'de, T: FromMap<'de>> Visitor<'de> for Lenient<T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    anything_else_is_none!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str),
        visit_bytes(&[u8])
    );
    empty_and_arrays_are_none!();
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::from_map(map).map(Some)
    }
}

/// A number as an `f64`; `None` for any other value (skipped).
struct NumberOrNone(Option<f64>);

impl<'de> Deserialize<'de> for NumberOrNone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<f64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<f64>, E> {
                Ok(Some(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<f64>, E> {
                Ok(Some(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<f64>, E> {
                Ok(Some(v))
            }
            anything_else_is_none!(visit_bool(bool), visit_str(&str), visit_bytes(&[u8]));
            empty_and_arrays_are_none!();
            objects_are_none!();
        }
        d.deserialize_any(V).map(NumberOrNone)
    }
}

/// A map key: its index in the given keys, `None` for any other.
struct Key(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|k| *k == v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|k| k.as_bytes() == v))
    }
}

/// Walk an object, calling `field(map, i)` to read the value of `keys[i]` (at most once each)
/// and skipping the values of other keys.
fn walk<'de, A: MapAccess<'de>>(
    mut map: A,
    keys: &'static [&'static str],
    mut field: impl FnMut(&mut A, usize) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    let mut seen = 0u64;
    while let Some(key) = map.next_key_seed(Key(keys))? {
        match key {
            Some(i) => {
                if seen & (1 << i) != 0 {
                    return Err(de::Error::duplicate_field(keys[i]));
                }
                seen |= 1 << i;
                field(&mut map, i)?;
            }
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

impl<'de> FromMap<'de> for RawWindow {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        const KEYS: &[&str] = &[
            "used_percent",
            "window_minutes",
            "resets_at",
            "resets_in_seconds",
        ];
        let mut w = RawWindow::default();
        walk(map, KEYS, |map, i| {
            let v = map.next_value::<NumberOrNone>()?.0;
            match i {
                0 => w.used_percent = v,
                1 => w.window_minutes = v,
                2 => w.resets_at = v,
                _ => w.resets_in_seconds = v,
            }
            Ok(())
        })?;
        Ok(w)
    }
}

struct Limits((Option<RawWindow>, Option<RawWindow>));

impl<'de> FromMap<'de> for Limits {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut windows = (None, None);
        walk(map, &["primary", "secondary"], |map, i| {
            let w = map.next_value::<OrNone<RawWindow>>()?.0;
            if i == 0 {
                windows.0 = w;
            } else {
                windows.1 = w;
            }
            Ok(())
        })?;
        Ok(Limits(windows))
    }
}

#[allow(clippy::type_complexity)]
fn rate_limits<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<(Option<RawWindow>, Option<RawWindow>)>, D::Error> {
    Ok(OrNone::<Limits>::deserialize(d)?.0.map(|l| l.0))
}

/// A field holding an object of type `T`; any other value (or an object `T` cannot read) is
/// `None`, and the line is still read.
fn lenient_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Ok(OrNone::<Whole<T>>::deserialize(d)?.0.map(|w| w.0))
}

/// A `T` read from an object's entries, for [`lenient_object`].
struct Whole<T>(T);

impl<'de, T: Deserialize<'de>> FromMap<'de> for Whole<T> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Whole)
    }
}

/// A string field; any other value is `None`.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any value")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        anything_else_is_none!(
            visit_bool(bool),
            visit_i64(i64),
            visit_u64(u64),
            visit_f64(f64),
            visit_bytes(&[u8])
        );
        empty_and_arrays_are_none!();
        objects_are_none!();
    }
    d.deserialize_any(V)
}

/// A token count: a whole number from 0 up; any other value is `None`.
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any value")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<u64>, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<u64>, E> {
            Ok(u64::try_from(v).ok())
        }
        anything_else_is_none!(
            visit_f64(f64),
            visit_bool(bool),
            visit_str(&str),
            visit_bytes(&[u8])
        );
        empty_and_arrays_are_none!();
        objects_are_none!();
    }
    d.deserialize_any(V)
}

/// `cost.total` when `cost` is an object with a number there.
fn cost_total<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct Total(Option<f64>);
    impl<'de> FromMap<'de> for Total {
        fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
            let mut total = None;
            walk(map, &["total"], |map, _| {
                total = map.next_value::<NumberOrNone>()?.0;
                Ok(())
            })?;
            Ok(Total(total))
        }
    }
    Ok(OrNone::<Total>::deserialize(d)?.0.and_then(|t| t.0))
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_object(d).map(Object)
    }
}
