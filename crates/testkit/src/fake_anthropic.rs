//! A fake Anthropic Messages API for driving the real `claude` offline.
//!
//! `POST /v1/messages` answers from a per-test script ([`Reply`]): text, `tool_use` blocks,
//! given usage numbers, Anthropic-style errors (429/529/500 …), delays, hangs — streamed as
//! server-sent events exactly like the real API (message_start, content_block_start/delta/stop,
//! message_delta with usage, message_stop) when the request asks for `stream: true`, as one
//! JSON message otherwise. When the script is used up the fallback reply (text `ok`) is used.
//! Every request is recorded, so tests can assert what the CLI sent (e.g. `tool_result` blocks).
//! Other endpoints the CLI may probe get a harmless answer and are logged.

use axum::body::Body;
use axum::http::Response;
use serde_json::{Value, json};

use crate::fake_http::{self, Recorded, next_id};

/// Token counts reported for one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl Default for Usage {
    fn default() -> Self {
        Self {
            input_tokens: 10,
            output_tokens: 5,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
        }
    }
}

impl Usage {
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Self {
            input_tokens,
            output_tokens,
            ..Self::default()
        }
    }

    pub fn with_cache(mut self, creation: u64, read: u64) -> Self {
        self.cache_creation_input_tokens = creation;
        self.cache_read_input_tokens = read;
        self
    }

    /// As the Messages API reports usage: the cache writes also broken down by lifetime (all
    /// five-minute here). Claude Code logs the breakdown, zeros when the API sent none, and
    /// ccusage (so PAIOS) counts the breakdown.
    fn to_json(self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_input_tokens,
                "ephemeral_1h_input_tokens": 0,
            },
        })
    }
}

/// One content block of a scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

/// The Messages API's part of a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A message with these content blocks.
    Message(Vec<Block>),
    /// An HTTP error with Anthropic's error JSON.
    Error {
        /// The HTTP status.
        status: u16,
        /// The error `type` (`rate_limit_error`, …).
        kind: String,
        /// The error message.
        message: String,
    },
}

/// The Anthropic Messages API, for [`fake_http::Fake`].
#[derive(Debug, Clone, PartialEq)]
pub struct Anthropic;

/// What the fake answers to one `POST /v1/messages`.
pub type Reply = fake_http::Reply<Anthropic>;

/// The fake server. Cheap to create; one per test. The queue, fallback, request log and URL
/// are the shared [`fake_http::Fake`]'s; [`fake_http::Fake::calls`] are the `POST /v1/messages`.
pub type FakeAnthropic = fake_http::Fake<Anthropic>;

impl Reply {
    /// Answer with this text (stop reason `end_turn`).
    pub fn text(text: impl Into<String>) -> Self {
        Self::of(Outcome::Message(vec![Block::Text(text.into())]))
    }

    /// Ask the client to call tool `name` with `input` (stop reason `tool_use`).
    pub fn tool_use(name: impl Into<String>, input: Value) -> Self {
        Self::of(Outcome::Message(vec![Block::ToolUse {
            id: next_id("toolu"),
            name: name.into(),
            input,
        }]))
    }

    /// Answer with these blocks (stop reason `tool_use` if any block is a tool call).
    pub fn blocks(blocks: Vec<Block>) -> Self {
        Self::of(Outcome::Message(blocks))
    }

    /// Fail with an HTTP error and Anthropic's error JSON: 429 `rate_limit_error`,
    /// 529 `overloaded_error`, 500 `api_error`, 401 `authentication_error`, ….
    pub fn error(status: u16) -> Self {
        let (kind, message) = match status {
            400 => ("invalid_request_error", "Invalid request"),
            401 => ("authentication_error", "invalid x-api-key"),
            403 => ("permission_error", "Permission denied"),
            404 => ("not_found_error", "Not found"),
            413 => (
                "request_too_large",
                "Request exceeds the maximum allowed size",
            ),
            429 => ("rate_limit_error", "Rate limited: too many requests"),
            529 => ("overloaded_error", "Overloaded"),
            _ => ("api_error", "Internal server error"),
        };
        Self::error_with(status, kind, message)
    }

    pub fn error_with(status: u16, kind: &str, message: &str) -> Self {
        Self::of(Outcome::Error {
            status,
            kind: kind.into(),
            message: message.into(),
        })
    }
}

impl FakeAnthropic {
    /// Every `tool_result` block the client sent back, with the `tool_use_id` it answers.
    pub fn tool_results(&self) -> Vec<Value> {
        self.calls()
            .iter()
            .flat_map(|r| r.body["messages"].as_array().cloned().unwrap_or_default())
            .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
            .filter(|block| block["type"] == "tool_result")
            .collect()
    }
}

impl fake_http::Api for Anthropic {
    const NAME: &'static str = "fake-anthropic";
    type Outcome = Outcome;
    type Usage = Usage;

    fn fallback() -> Reply {
        Reply::text("ok")
    }

    fn is_call(r: &Recorded) -> bool {
        r.method == "POST" && r.path == "/v1/messages"
    }

    fn answer(reply: Reply, request: &Recorded) -> Response<Body> {
        answer(reply, request)
    }

    fn other(request: &Recorded) -> Response<Body> {
        match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/v1/messages/count_tokens") => {
                fake_http::json_response(200, &json!({"input_tokens": 10}))
            }
            ("GET", "/v1/models") => fake_http::json_response(
                200,
                &json!({"data": [], "has_more": false, "first_id": null, "last_id": null}),
            ),
            _ => {
                fake_http::log_unknown("fake-anthropic", request);
                fake_http::json_response(
                    404,
                    &json!({"type": "error", "error": {"type": "not_found_error", "message": "not found"}}),
                )
            }
        }
    }
}

fn answer(reply: Reply, request: &Recorded) -> Response<Body> {
    let model = reply.model_for(request, "claude-sonnet-4-5");
    let blocks = match reply.outcome {
        Outcome::Error {
            status,
            kind,
            message,
        } => {
            let mut response = fake_http::json_response(
                status,
                &json!({"type": "error", "error": {"type": kind, "message": message}}),
            );
            if status == 429 || status == 529 {
                response
                    .headers_mut()
                    .insert("retry-after", axum::http::HeaderValue::from_static("1"));
            }
            return response;
        }
        Outcome::Message(blocks) => blocks,
    };
    let stop_reason = if blocks.iter().any(|b| matches!(b, Block::ToolUse { .. })) {
        "tool_use"
    } else {
        "end_turn"
    };
    let id = next_id("msg");
    let usage = reply.usage;
    if request.body["stream"] != true {
        let content: Vec<Value> = blocks
            .iter()
            .map(|b| match b {
                Block::Text(text) => json!({"type": "text", "text": text}),
                Block::ToolUse { id, name, input } => {
                    json!({"type": "tool_use", "id": id, "name": name, "input": input})
                }
            })
            .collect();
        return fake_http::json_response(
            200,
            &json!({
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": content, "stop_reason": stop_reason, "stop_sequence": null,
                "usage": usage.to_json(),
            }),
        );
    }
    let mut start_usage = usage.to_json();
    start_usage["output_tokens"] = json!(1);
    let mut events = vec![(
        "message_start".to_string(),
        json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": start_usage,
        }}),
    )];
    if reply.stall {
        return fake_http::sse_response(events, true);
    }
    events.push(("ping".into(), json!({"type": "ping"})));
    for (index, block) in blocks.iter().enumerate() {
        let (start, deltas) = match block {
            Block::Text(text) => (
                json!({"type": "text", "text": ""}),
                split(text)
                    .into_iter()
                    .map(|piece| json!({"type": "text_delta", "text": piece}))
                    .collect::<Vec<_>>(),
            ),
            Block::ToolUse { id, name, input } => (
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                split(&input.to_string())
                    .into_iter()
                    .map(|piece| json!({"type": "input_json_delta", "partial_json": piece}))
                    .collect(),
            ),
        };
        events.push((
            "content_block_start".into(),
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        for delta in deltas {
            events.push((
                "content_block_delta".into(),
                json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
        }
        events.push((
            "content_block_stop".into(),
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push((
        "message_delta".into(),
        json!({"type": "message_delta",
               "delta": {"stop_reason": stop_reason, "stop_sequence": null},
               "usage": usage.to_json()}),
    ));
    events.push(("message_stop".into(), json!({"type": "message_stop"})));
    fake_http::sse_response(events, false)
}

/// Split text into two pieces (at a char boundary) so clients see real incremental deltas.
fn split(text: &str) -> Vec<String> {
    let mid = text
        .char_indices()
        .map(|(i, _)| i)
        .nth(text.chars().count() / 2)
        .unwrap_or(0);
    let (a, b) = text.split_at(mid);
    [a, b]
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}
