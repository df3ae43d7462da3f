//! The plumbing shared by the fake model servers: an axum server on 127.0.0.1:0 running on its
//! own tokio runtime thread (so plain `#[test]` functions can use it), a log of every request
//! it received, and a queue of scripted replies.
//!
//! It never reaches the network: it only answers the programs under test.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};
use serde_json::Value;

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub body: Value,
    pub raw_body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub type BoxResponse = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// The request log and the scripted replies of one fake, shared with its handler.
pub struct State<R> {
    pub requests: Mutex<Vec<Recorded>>,
    arrived: Condvar,
    pub queue: Mutex<VecDeque<R>>,
    pub fallback: Mutex<R>,
}

impl<R: Clone> State<R> {
    pub fn new(fallback: R) -> Self {
        Self {
            requests: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            queue: Mutex::new(VecDeque::new()),
            fallback: Mutex::new(fallback),
        }
    }

    /// The next scripted reply, or the fallback when the script is used up.
    pub fn next_reply(&self) -> R {
        self.queue
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.fallback.lock().unwrap().clone())
    }

    fn record(&self, request: Recorded) {
        self.requests.lock().unwrap().push(request);
        self.arrived.notify_all();
    }

    /// Wait until `count` requests matching `filter` have arrived (or the timeout passes).
    pub fn wait_for(
        &self,
        count: usize,
        timeout: Duration,
        filter: impl Fn(&Recorded) -> bool,
    ) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        let mut requests = self.requests.lock().unwrap();
        loop {
            let matching: Vec<Recorded> = requests.iter().filter(|r| filter(r)).cloned().collect();
            let now = Instant::now();
            if matching.len() >= count || now >= deadline {
                return matching;
            }
            requests = self
                .arrived
                .wait_timeout(requests, deadline - now)
                .unwrap()
                .0;
        }
    }
}

/// A running fake HTTP server; stops (dropping any hanging connection) when dropped.
pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Serve every request with `handler`, which sees the request after it has been recorded.
    pub fn start<R: Clone + Send + 'static>(
        name: &'static str,
        state: Arc<State<R>>,
        handler: impl Fn(Arc<State<R>>, Recorded) -> BoxResponse + Send + Sync + 'static,
    ) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handler = Arc::new(handler);
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let app = axum::Router::new().fallback(
                        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                            let state = state.clone();
                            let handler = handler.clone();
                            async move {
                                let request = recorded(method, uri, headers, body);
                                state.record(request.clone());
                                handler(state, request).await
                            }
                        },
                    );
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = rx => {}
                    }
                });
                // Dropping the runtime here cancels connections that are still hanging.
            })
            .unwrap();
        Self {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn recorded(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Recorded {
    let raw_body = String::from_utf8_lossy(&body).into_owned();
    Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: serde_json::from_str(&raw_body).unwrap_or(Value::Null),
        raw_body,
    }
}

/// A JSON response.
pub fn json_response(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A server-sent-events response: `events` are (event name, data) pairs; with `stall` the
/// stream stays open after them and never ends.
pub fn sse_response(events: Vec<(String, Value)>, stall: bool) -> Response<Body> {
    use futures_util::StreamExt;
    let chunks: Vec<Result<Bytes, std::io::Error>> = events
        .into_iter()
        .map(|(name, data)| Ok(Bytes::from(format!("event: {name}\ndata: {data}\n\n"))))
        .collect();
    let stream = futures_util::stream::iter(chunks);
    let body = if stall {
        Body::from_stream(stream.chain(futures_util::stream::pending()))
    } else {
        Body::from_stream(stream)
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(body)
        .unwrap()
}

/// Log a request the fake does not know (to stderr, shown when a test fails).
pub fn log_unknown(name: &str, request: &Recorded) {
    eprintln!(
        "[{name}] unscripted request: {} {}{}",
        request.method,
        request.path,
        request
            .query
            .as_deref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
}

/// What makes a fake model API: the request the script answers, how a reply is written in the
/// API's own wire format, and what the other endpoints a CLI probes get. [`Fake`] and [`Reply`]
/// do the rest (the queue, the fallback, the request log, delays and hangs) once for all APIs.
pub trait Api: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The fake's name in thread names and logs.
    const NAME: &'static str;
    /// The API-specific part of a reply (text, tool calls, an error in the API's format, …).
    type Outcome: Clone + std::fmt::Debug + PartialEq + Send + 'static;
    /// The token counts the API reports.
    type Usage: Copy + std::fmt::Debug + Default + PartialEq + Send + 'static;
    /// The reply used once the script is empty.
    fn fallback() -> Reply<Self>;
    /// Whether this request is the one the script answers (e.g. `POST /v1/messages`).
    fn is_call(request: &Recorded) -> bool;
    /// A scripted reply in the API's wire format (delays and hangs were already served).
    fn answer(reply: Reply<Self>, request: &Recorded) -> Response<Body>;
    /// Every other request: a harmless answer, logged when the fake does not know it.
    fn other(request: &Recorded) -> Response<Body>;
}

/// What the fake answers to one scripted call: the API's outcome, its usage numbers, and the
/// behaviour every API shares (a delay, a stall after the stream starts, a hang, the model).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<A: Api> {
    /// The API-specific answer.
    pub outcome: A::Outcome,
    /// Token counts to report.
    pub usage: A::Usage,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Start the stream, then stall with it open (streaming requests only).
    pub stall: bool,
    /// Never answer: the connection stays open until the fake is dropped.
    pub hang: bool,
    /// The model name to report (default: the one the request asked for).
    pub model: Option<String>,
}

impl<A: Api> Reply<A> {
    /// A reply with this outcome and the defaults for everything else.
    pub fn of(outcome: A::Outcome) -> Self {
        Self {
            outcome,
            usage: A::Usage::default(),
            delay: Duration::ZERO,
            stall: false,
            hang: false,
            model: None,
        }
    }

    /// Never answer (the connection stays open until the fake is dropped).
    pub fn hang() -> Self {
        Self {
            hang: true,
            ..A::fallback()
        }
    }

    /// Report these token counts.
    pub fn with_usage(mut self, usage: A::Usage) -> Self {
        self.usage = usage;
        self
    }

    /// Wait this long before answering.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Start the stream, then stall with it open (streaming requests only).
    pub fn stall_after_start(mut self) -> Self {
        self.stall = true;
        self
    }

    /// Report this model name (default: the model the request asked for).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// The model to report: the scripted one, else the request's, else `default`.
    pub fn model_for(&self, request: &Recorded, default: &str) -> String {
        self.model
            .clone()
            .or_else(|| request.body["model"].as_str().map(str::to_string))
            .unwrap_or_else(|| default.to_string())
    }
}

/// A fresh id such as `msg_fake000042`, unique within the test process.
pub fn next_id(prefix: &str) -> String {
    static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}_fake{n:06}")
}

/// A scripted fake API: a queue of replies answered in order, a fallback once it is empty, and
/// the log of every request. `FakeAnthropic` and `FakeOpenAi` are this with their own [`Api`].
pub struct Fake<A: Api> {
    state: Arc<State<Reply<A>>>,
    server: Server,
}

impl<A: Api> Default for Fake<A> {
    fn default() -> Self {
        Self::start()
    }
}

impl<A: Api> Fake<A> {
    /// Start the fake on 127.0.0.1 and a free port. Cheap; one per test.
    pub fn start() -> Self {
        let state = Arc::new(State::new(A::fallback()));
        let server = Server::start(A::NAME, state.clone(), |state, request| {
            Box::pin(serve::<A>(state, request))
        });
        Self { state, server }
    }

    /// The server's root URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Queue replies, answered in order to the next API requests.
    pub fn push(&self, reply: Reply<A>) -> &Self {
        self.state.queue.lock().unwrap().push_back(reply);
        self
    }

    /// What to answer once the queue is empty.
    pub fn set_fallback(&self, reply: Reply<A>) {
        *self.state.fallback.lock().unwrap() = reply;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The scripted calls (e.g. `POST /v1/messages`) received so far.
    pub fn calls(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(A::is_call).collect()
    }

    /// Wait until at least `count` scripted calls arrived (or the timeout passes); returns them.
    pub fn wait_for_calls(&self, count: usize, timeout: Duration) -> Vec<Recorded> {
        self.state.wait_for(count, timeout, A::is_call)
    }
}

async fn serve<A: Api>(state: Arc<State<Reply<A>>>, request: Recorded) -> Response<Body> {
    if !A::is_call(&request) {
        return A::other(&request);
    }
    let reply = state.next_reply();
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    if reply.hang {
        std::future::pending::<()>().await;
    }
    A::answer(reply, &request)
}
