//! A fake OpenAI Responses API for driving the real `codex` offline.
//!
//! `POST /v1/responses` answers from a per-test script ([`Reply`]): text, function calls, given
//! usage numbers, HTTP errors, a `response.failed` event, delays, hangs — streamed as the
//! Responses API's server-sent events (response.created, response.output_item.added,
//! response.output_text.delta, response.output_item.done, response.completed with usage).
//! When the script is used up the fallback reply (text `ok`) is used. Every request is recorded
//! (e.g. to assert the `function_call_output` Codex sent back). Other endpoints the CLI may
//! probe get a harmless answer and are logged.

use axum::body::Body;
use axum::http::Response;
use serde_json::{Value, json};

use crate::fake_http::{self, Recorded, next_id};

/// Token counts reported in `response.completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// All input tokens, cached ones included (as the Responses API counts them).
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
}

impl Default for Usage {
    fn default() -> Self {
        Self {
            input_tokens: 10,
            cached_input_tokens: 0,
            output_tokens: 5,
            reasoning_output_tokens: 0,
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

    pub fn with_cached(mut self, cached: u64) -> Self {
        self.cached_input_tokens = cached;
        self
    }

    fn to_json(self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_input_tokens},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_output_tokens},
            "total_tokens": self.input_tokens + self.output_tokens,
        })
    }
}

/// One output item of a scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Text(String),
    FunctionCall {
        call_id: String,
        name: String,
        /// The arguments as a JSON string (as the API sends them).
        arguments: String,
        /// The tool namespace the function is in (Codex puts MCP tools in `mcp__<server>`).
        namespace: Option<String>,
    },
}

/// The Responses API's part of a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Output items, streamed and then completed.
    Output(Vec<Item>),
    /// An HTTP error with OpenAI's error JSON.
    HttpError {
        /// The HTTP status.
        status: u16,
        /// The error code (`rate_limit_exceeded`, …).
        code: String,
        /// The error message.
        message: String,
    },
    /// The stream starts, then ends with `response.failed`.
    Failed {
        /// The error code.
        code: String,
        /// The error message.
        message: String,
    },
}

/// The OpenAI Responses API, for [`fake_http::Fake`].
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAi;

/// What the fake answers to one `POST /v1/responses`.
pub type Reply = fake_http::Reply<OpenAi>;

/// The fake server. One per test. The queue, fallback, request log and URL are the shared
/// [`fake_http::Fake`]'s; [`fake_http::Fake::calls`] are the `POST /v1/responses`.
pub type FakeOpenAi = fake_http::Fake<OpenAi>;

impl Reply {
    /// Answer with an assistant message.
    pub fn text(text: impl Into<String>) -> Self {
        Self::of(Outcome::Output(vec![Item::Text(text.into())]))
    }

    /// Ask the client to call function `name` with `arguments` (a JSON value).
    pub fn function_call(name: impl Into<String>, arguments: Value) -> Self {
        Self::of(Outcome::Output(vec![Item::FunctionCall {
            call_id: next_id("call"),
            name: name.into(),
            arguments: arguments.to_string(),
            namespace: None,
        }]))
    }

    /// Ask the client to call function `name` of tool namespace `namespace` (how Codex offers
    /// an MCP server's tools: namespace `mcp__<server>`, name the server's tool name).
    pub fn namespaced_call(
        namespace: impl Into<String>,
        name: impl Into<String>,
        arguments: Value,
    ) -> Self {
        Self::of(Outcome::Output(vec![Item::FunctionCall {
            call_id: next_id("call"),
            name: name.into(),
            arguments: arguments.to_string(),
            namespace: Some(namespace.into()),
        }]))
    }

    pub fn items(items: Vec<Item>) -> Self {
        Self::of(Outcome::Output(items))
    }

    /// Fail with an HTTP status and OpenAI's error JSON (429 `rate_limit_exceeded`, 500 …).
    pub fn error(status: u16) -> Self {
        let (code, message) = match status {
            401 => ("invalid_api_key", "Incorrect API key provided"),
            429 => ("rate_limit_exceeded", "Rate limit reached"),
            503 => ("server_overloaded", "The server is overloaded"),
            _ => (
                "server_error",
                "The server had an error processing your request",
            ),
        };
        Self::of(Outcome::HttpError {
            status,
            code: code.into(),
            message: message.into(),
        })
    }

    /// Start streaming, then end with a `response.failed` event.
    pub fn failed(code: &str, message: &str) -> Self {
        Self::of(Outcome::Failed {
            code: code.into(),
            message: message.into(),
        })
    }
}

impl FakeOpenAi {
    /// Every `function_call_output` input item the client sent back.
    pub fn function_call_outputs(&self) -> Vec<Value> {
        self.calls()
            .iter()
            .flat_map(|r| r.body["input"].as_array().cloned().unwrap_or_default())
            .filter(|item| item["type"] == "function_call_output")
            .collect()
    }
}

impl fake_http::Api for OpenAi {
    const NAME: &'static str = "fake-openai";
    type Outcome = Outcome;
    type Usage = Usage;

    fn fallback() -> Reply {
        Reply::text("ok")
    }

    fn is_call(r: &Recorded) -> bool {
        r.method == "POST" && r.path == "/v1/responses"
    }

    fn answer(reply: Reply, request: &Recorded) -> Response<Body> {
        answer(reply, request)
    }

    fn other(request: &Recorded) -> Response<Body> {
        if request.method == "GET" && request.path == "/v1/models" {
            return fake_http::json_response(
                200,
                &json!({"object": "list", "data": [], "models": []}),
            );
        }
        fake_http::log_unknown("fake-openai", request);
        fake_http::json_response(
            404,
            &json!({"error": {"message": "not found", "type": "invalid_request_error", "code": "not_found"}}),
        )
    }
}

fn ev(kind: &str, mut data: Value) -> (String, Value) {
    data["type"] = json!(kind);
    (kind.to_string(), data)
}

fn answer(reply: Reply, request: &Recorded) -> Response<Body> {
    let model = reply.model_for(request, "gpt-5-codex");
    let id = next_id("resp");
    let created = ev(
        "response.created",
        json!({"response": {"id": id, "object": "response", "status": "in_progress", "model": model, "output": []}}),
    );
    let items = match reply.outcome {
        Outcome::HttpError {
            status,
            code,
            message,
        } => {
            let mut response = fake_http::json_response(
                status,
                &json!({"error": {"message": message, "type": code, "code": code, "param": null}}),
            );
            if status == 429 {
                response
                    .headers_mut()
                    .insert("retry-after", axum::http::HeaderValue::from_static("1"));
            }
            return response;
        }
        Outcome::Failed { code, message } => {
            let failed = ev(
                "response.failed",
                json!({"response": {"id": id, "object": "response", "status": "failed", "model": model,
                        "error": {"code": code, "message": message}}}),
            );
            return fake_http::sse_response(vec![created, failed], false);
        }
        Outcome::Output(items) => items,
    };
    if reply.stall {
        return fake_http::sse_response(vec![created], true);
    }
    let mut events = vec![created];
    let mut output = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match item {
            Item::Text(text) => {
                let item_id = next_id("msg");
                events.push(ev(
                    "response.output_item.added",
                    json!({"output_index": index, "item": {"type": "message", "id": item_id, "role": "assistant", "status": "in_progress", "content": []}}),
                ));
                events.push(ev(
                    "response.content_part.added",
                    json!({"item_id": item_id, "output_index": index, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
                ));
                events.push(ev(
                    "response.output_text.delta",
                    json!({"item_id": item_id, "output_index": index, "content_index": 0, "delta": text}),
                ));
                events.push(ev(
                    "response.output_text.done",
                    json!({"item_id": item_id, "output_index": index, "content_index": 0, "text": text}),
                ));
                let done = json!({"type": "message", "id": item_id, "role": "assistant", "status": "completed",
                                  "content": [{"type": "output_text", "text": text, "annotations": []}]});
                events.push(ev(
                    "response.output_item.done",
                    json!({"output_index": index, "item": done}),
                ));
                output.push(done);
            }
            Item::FunctionCall {
                call_id,
                name,
                arguments,
                namespace,
            } => {
                let item_id = next_id("fc");
                let mut added = json!({"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": "", "status": "in_progress"});
                if let Some(ns) = namespace {
                    added["namespace"] = json!(ns);
                }
                events.push(ev(
                    "response.output_item.added",
                    json!({"output_index": index, "item": added}),
                ));
                events.push(ev(
                    "response.function_call_arguments.done",
                    json!({"item_id": item_id, "output_index": index, "arguments": arguments}),
                ));
                let mut done = json!({"type": "function_call", "id": item_id, "call_id": call_id, "name": name,
                                  "arguments": arguments, "status": "completed"});
                if let Some(ns) = namespace {
                    done["namespace"] = json!(ns);
                }
                events.push(ev(
                    "response.output_item.done",
                    json!({"output_index": index, "item": done}),
                ));
                output.push(done);
            }
        }
    }
    events.push(ev(
        "response.completed",
        json!({"response": {"id": id, "object": "response", "status": "completed", "model": model,
                "output": output, "usage": reply.usage.to_json()}}),
    ));
    fake_http::sse_response(events, false)
}
