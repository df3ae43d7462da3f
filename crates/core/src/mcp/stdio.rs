//! `paios mcp`: the stdio MCP server a brain starts (the shim).
//!
//! Built to start in milliseconds and to die cleanly: a single-threaded runtime, no
//! configuration read and no daemon contacted before `initialize` is answered (the tool list is
//! static); it ends with exit 0 at the end of its input, or on SIGTERM / SIGINT / SIGHUP, after
//! stopping any bridge call still running (the brain's process group is stopped, bounded wait).
//! A line longer than [`MAX_LINE`] is dropped by the transport, and malformed JSON-RPC gets a
//! JSON-RPC error; neither ends the session.

use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::async_rw::AsyncRwTransport;
use tokio::signal::unix::{SignalKind, signal};

use super::server::{Backend, PaiosMcp, Shim};
use crate::paths::Paths;

/// The longest JSON-RPC message accepted on stdin (bytes).
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// How long the shim waits for running bridge calls to stop their brains when told to stop.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Why the shim stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The client closed its end (the normal way a session ends).
    EndOfInput,
    /// SIGTERM, SIGINT or SIGHUP.
    Signal,
}

/// Serve MCP on stdin/stdout for `paths`'s home until the client goes away or a signal comes.
pub fn run(paths: Paths) -> std::io::Result<Stopped> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let shim = Shim::new(paths);
    let handler = PaiosMcp::new(Backend::Shim(shim.clone()));
    let stopped = runtime.block_on(async move {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let (read, write) = rmcp::transport::stdio_pipes();
        let transport = AsyncRwTransport::new_server(read, write).with_max_line_length(MAX_LINE);
        let session = async move {
            match handler.serve(transport).await {
                // The client left before (or while) initializing: nothing to serve.
                Err(e) => {
                    tracing::debug!(error = %e, "MCP client went away during initialize");
                }
                Ok(service) => {
                    let _ = service.waiting().await;
                }
            }
        };
        let stopped = tokio::select! {
            _ = session => Stopped::EndOfInput,
            _ = term.recv() => Stopped::Signal,
            _ = int.recv() => Stopped::Signal,
            _ = hup.recv() => Stopped::Signal,
        };
        Ok::<_, std::io::Error>(stopped)
    })?;
    shim.cancel_all();
    let deadline = std::time::Instant::now() + STOP_GRACE;
    while shim.running() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // A blocking read of a terminal's stdin cannot be interrupted: do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(stopped)
}
