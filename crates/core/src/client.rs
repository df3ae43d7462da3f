//! Talking to the daemon from short-lived processes (`paios`, `ai`, hooks).
//!
//! [`Client`] is a blocking unix-socket client (no async runtime needed, so a hook starts in
//! milliseconds). [`emit`] sends an event to the daemon and, when the daemon cannot be reached,
//! falls back to the fsync'd spool, so an event is never lost because the daemon is down.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::api::ApiError;
use crate::events::Event;
use crate::paths::Paths;

/// Errors talking to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing accepted a connection on the home's socket.
    #[error(
        "the PAIOS daemon is not running (no answer on {socket}); start it with `paios daemon`"
    )]
    NotRunning {
        /// The socket path tried.
        socket: String,
        /// Why connecting failed (usually not found, or connection refused).
        source: io::Error,
    },
    /// Connected, but reading or writing failed: a timeout, a reset, or the daemon closing the
    /// connection before answering.
    #[error("lost the connection to the PAIOS daemon: {0}")]
    Io(#[from] io::Error),
    /// The daemon could not take the event and the spool could not be written either.
    #[error("cannot write the spool {path} (the daemon did not take the event): {cause}")]
    Spool {
        /// The spool file that could not be appended to.
        path: String,
        /// The write error.
        cause: io::Error,
    },
    /// The daemon answered with an error (e.g. it refused an invalid event).
    #[error("the daemon answered: {0}")]
    Api(ApiError),
    /// The answer was not the protocol's JSON line, or lacked a field the operation promises.
    #[error("the daemon sent a malformed answer: {0}")]
    Protocol(String),
}

/// A connection to the daemon's socket.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connect to the home's daemon; [`Client::call`] then waits up to 60 s for each answer.
    /// Fails with [`ClientError::NotRunning`] when no daemon listens.
    pub fn connect(paths: &Paths) -> Result<Self, ClientError> {
        Self::connect_with_timeout(paths, Duration::from_secs(60))
    }

    /// Connect with `timeout` as the wait for each answer (writes time out after 10 s).
    pub fn connect_with_timeout(paths: &Paths, timeout: Duration) -> Result<Self, ClientError> {
        let socket = paths.socket();
        let stream = UnixStream::connect(&socket).map_err(|source| ClientError::NotRunning {
            socket: socket.display().to_string(),
            source,
        })?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        let writer = stream.try_clone()?;
        Ok(Self {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Change how long [`Client::call`] waits for an answer (e.g. a hook waiting for a person).
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.writer.set_read_timeout(timeout)
    }

    /// Run one operation on the daemon.
    pub fn call(&mut self, op: &str, args: Value) -> Result<Value, ClientError> {
        let mut line = serde_json::to_vec(&json!({"op": op, "args": args}))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.writer.write_all(&line)?;
        let mut answer = Vec::new();
        let n = self.reader.read_until(b'\n', &mut answer)?;
        if n == 0 {
            return Err(ClientError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            )));
        }
        let answer: Value =
            serde_json::from_slice(&answer).map_err(|e| ClientError::Protocol(e.to_string()))?;
        if answer.get("ok").and_then(Value::as_bool) == Some(true) {
            Ok(answer.get("result").cloned().unwrap_or(Value::Null))
        } else {
            let err: ApiError =
                serde_json::from_value(answer.get("error").cloned().unwrap_or(Value::Null))
                    .map_err(|e| ClientError::Protocol(e.to_string()))?;
            Err(ClientError::Api(err))
        }
    }

    /// Append an event through the daemon; returns its store id.
    pub fn emit(&mut self, event: &Event) -> Result<i64, ClientError> {
        let result = self.call("core.emit", json!({ "event": event }))?;
        result
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| ClientError::Protocol(format!("no id in {result}")))
    }
}

/// Where an emitted event went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Committed by the daemon, with this id.
    Stored(i64),
    /// The daemon was unreachable; the event is durable in the spool.
    Spooled,
}

/// Send an event to the daemon, or spool it when the daemon cannot take it.
/// Only an event the daemon *rejected* (invalid) is an error.
///
/// A daemon that does not answer within [`EMIT_TIMEOUT`] (stopped, hung) is treated as down:
/// the event is spooled (if the daemon did store it after all, the replay's dedupe on `uid`
/// keeps it once), so a hook recording a tool call never waits long.
pub fn emit(paths: &Paths, event: &Event) -> Result<Delivery, ClientError> {
    match Client::connect_with_timeout(paths, EMIT_TIMEOUT).and_then(|mut c| c.emit(event)) {
        Ok(id) => Ok(Delivery::Stored(id)),
        Err(ClientError::Api(e)) => Err(ClientError::Api(e)),
        Err(_) => {
            let dir = paths.spool_dir();
            crate::spool::append(&dir, event).map_err(|cause| ClientError::Spool {
                path: dir.join(crate::spool::SPOOL_FILE).display().to_string(),
                cause,
            })?;
            Ok(Delivery::Spooled)
        }
    }
}

/// How long [`emit`] waits for the daemon to store an event (it takes milliseconds).
pub const EMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// A short-lived process records through the home's daemon, or its spool when it is down.
impl crate::events::EventSink for Paths {
    fn emit(&self, event: Event) {
        emit_quietly(self, &event);
    }
}

/// Best-effort emit for callers that must not fail because of bookkeeping (logs a warning).
pub fn emit_quietly(paths: &Paths, event: &Event) {
    if let Err(e) = emit(paths, event) {
        tracing::warn!(kind = %event.kind, error = %e, "could not record event");
    }
}
