//! A fake OpenAI Responses API for driving the real `codex` offline.
//!
//! `POST /v1/responses` answers from a per-test script ([`Reply`]): text, function calls, given
//! usage numbers, HTTP errors, a `response.failed` event, delays, hangs — streamed as the
//! Responses API's server-sent events (response.created, response.output_item.added,
//! response.output_text.delta, response.output_item.done, response.completed with usage).
//! When the script is used up the fallback reply (text `ok`) is used. Every request is recorded
//! (e.g. to assert the `function_call_output` Codex sent back). Other endpoints the CLI may
//! probe get a harmless answer and are logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_http::{self, BoxResponse, Recorded, State};

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

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Output(Vec<Item>),
    HttpError {
        status: u16,
        code: String,
        message: String,
    },
    Failed {
        code: String,
        message: String,
    },
    Hang,
}

/// What the fake answers to one `POST /v1/responses`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    outcome: Outcome,
    usage: Usage,
    delay: Duration,
    stall: bool,
}

static IDS: AtomicU64 = AtomicU64::new(1);

fn next_id(prefix: &str) -> String {
    format!("{prefix}_fake{:06}", IDS.fetch_add(1, Ordering::Relaxed))
}

impl Reply {
    fn of(outcome: Outcome) -> Self {
        Self {
            outcome,
            usage: Usage::default(),
            delay: Duration::ZERO,
            stall: false,
        }
    }

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

    /// Never answer (the connection stays open until the fake is dropped).
    pub fn hang() -> Self {
        Self::of(Outcome::Hang)
    }

    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Send `response.created`, then stall with the stream open.
    pub fn stall_after_start(mut self) -> Self {
        self.stall = true;
        self
    }
}

/// The fake server. One per test.
pub struct FakeOpenAi {
    inner: fake_http::Fake<Reply>,
}

/// The queue, fallback, request log and URL are the shared [`fake_http::Fake`]'s.
impl std::ops::Deref for FakeOpenAi {
    type Target = fake_http::Fake<Reply>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Default for FakeOpenAi {
    fn default() -> Self {
        Self::start()
    }
}

impl FakeOpenAi {
    pub fn start() -> Self {
        Self {
            inner: fake_http::Fake::start("fake-openai", Reply::text("ok"), handle),
        }
    }

    /// The `POST /v1/responses` requests received so far.
    pub fn response_requests(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(is_responses).collect()
    }

    pub fn wait_for_responses(&self, count: usize, timeout: Duration) -> Vec<Recorded> {
        self.inner.wait_for(count, timeout, is_responses)
    }

    /// Every `function_call_output` input item the client sent back.
    pub fn function_call_outputs(&self) -> Vec<Value> {
        self.response_requests()
            .iter()
            .flat_map(|r| r.body["input"].as_array().cloned().unwrap_or_default())
            .filter(|item| item["type"] == "function_call_output")
            .collect()
    }
}

fn is_responses(r: &Recorded) -> bool {
    r.method == "POST" && r.path == "/v1/responses"
}

fn handle(state: Arc<State<Reply>>, request: Recorded) -> BoxResponse {
    Box::pin(async move {
        match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/v1/responses") => {
                let reply = state.next_reply();
                answer(reply, &request).await
            }
            ("GET", "/v1/models") => {
                fake_http::json_response(200, &json!({"object": "list", "data": [], "models": []}))
            }
            _ => {
                fake_http::log_unknown("fake-openai", &request);
                fake_http::json_response(
                    404,
                    &json!({"error": {"message": "not found", "type": "invalid_request_error", "code": "not_found"}}),
                )
            }
        }
    })
}

fn ev(kind: &str, mut data: Value) -> (String, Value) {
    data["type"] = json!(kind);
    (kind.to_string(), data)
}

async fn answer(reply: Reply, request: &Recorded) -> axum::http::Response<axum::body::Body> {
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let model = request.body["model"]
        .as_str()
        .unwrap_or("gpt-5-codex")
        .to_string();
    let id = next_id("resp");
    let created = ev(
        "response.created",
        json!({"response": {"id": id, "object": "response", "status": "in_progress", "model": model, "output": []}}),
    );
    let items = match reply.outcome {
        Outcome::Hang => std::future::pending().await,
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
