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

/// A scripted fake API: a queue of replies answered in order, a fallback once it is empty, and
/// the log of every request. `FakeAnthropic` and `FakeOpenAi` are this with their own replies.
pub struct Fake<R> {
    state: Arc<State<R>>,
    server: Server,
}

impl<R: Clone + Send + 'static> Fake<R> {
    pub fn start(
        name: &'static str,
        fallback: R,
        handler: impl Fn(Arc<State<R>>, Recorded) -> BoxResponse + Send + Sync + 'static,
    ) -> Self {
        let state = Arc::new(State::new(fallback));
        let server = Server::start(name, state.clone(), handler);
        Self { state, server }
    }

    /// The server's root URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Queue replies, answered in order to the next API requests.
    pub fn push(&self, reply: R) -> &Self {
        self.state.queue.lock().unwrap().push_back(reply);
        self
    }

    /// What to answer once the queue is empty.
    pub fn set_fallback(&self, reply: R) {
        *self.state.fallback.lock().unwrap() = reply;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Wait until at least `count` requests matching `filter` arrived; returns them.
    pub fn wait_for(
        &self,
        count: usize,
        timeout: std::time::Duration,
        filter: fn(&Recorded) -> bool,
    ) -> Vec<Recorded> {
        self.state.wait_for(count, timeout, filter)
    }
}
