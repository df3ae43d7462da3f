//! The unix-socket transport: newline-delimited JSON, one request per line, answered in order.
//!
//! The socket is created with mode 0600 (umask set around `bind`) and every peer's uid is
//! checked against ours, so only the owning user can talk to the daemon.

use std::path::Path;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Interest};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use super::{Request, dispatch};
use crate::core::Core;

/// Longest request line accepted (events are small; this stops a runaway client).
const MAX_LINE: usize = 4 * 1024 * 1024;

/// Bind the socket with owner-only permissions. The caller holds the home's lock, so any
/// socket file already there is stale (left by a killed daemon) and is replaced.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(socket = %path.display(), "removed a stale socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // SAFETY: umask is process-wide; we set and restore it around bind only, before any other
    // thread of ours creates files.
    let old = unsafe { libc::umask(0o177) };
    let listener = UnixListener::bind(path);
    unsafe { libc::umask(old) };
    let listener = listener?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(listener)
}

/// Serve until `shutdown` is cancelled.
pub async fn serve(core: Core, listener: UnixListener, shutdown: CancellationToken) {
    let my_uid = nix::unistd::getuid().as_raw();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                match stream.peer_cred() {
                    Ok(cred) if cred.uid() == my_uid => {}
                    _ => {
                        tracing::warn!("refused a socket client of another user");
                        continue;
                    }
                }
                let core = core.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move { handle(core, stream, shutdown).await });
            }
        }
    }
}

async fn handle(core: Core, stream: UnixStream, shutdown: CancellationToken) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut reader).take(MAX_LINE as u64 + 1);
        let n = tokio::select! {
            _ = shutdown.cancelled() => break,
            n = limited.read_until(b'\n', &mut line) => n,
        };
        match n {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let response = if line.len() > MAX_LINE {
            json!({"ok": false, "error": {"code": "bad_request", "message": "request line too long"}})
        } else {
            match serde_json::from_slice::<Request>(&line) {
                Ok(req) => {
                    // A client that has closed its socket (a hook killed while it waits for an
                    // approval) is gone: the work is dropped, not finished for nobody. Only a
                    // full close counts (hang-up): a client that just shut down its writing side
                    // still waits for this answer.
                    let gone = peer_gone(reader.get_ref().as_ref());
                    tokio::select! {
                        answer = dispatch(&core, &req.op, req.args) => match answer {
                            Ok(result) => json!({"ok": true, "result": result}),
                            Err(e) => json!({"ok": false, "error": e}),
                        },
                        _ = gone => break,
                    }
                }
                Err(e) => {
                    json!({"ok": false, "error": {"code": "bad_request", "message": format!("not a request: {e}")}})
                }
            }
        };
        let mut out = serde_json::to_vec(&response).unwrap_or_default();
        out.push(b'\n');
        if write.write_all(&out).await.is_err() {
            break;
        }
        if line.len() > MAX_LINE {
            break;
        }
    }
}

/// Resolves once the peer has closed its socket (hang-up); never for a peer that only shut down
/// its writing side or has sent more bytes (those are read later, as usual).
async fn peer_gone(stream: &UnixStream) {
    use std::os::fd::AsRawFd;
    loop {
        let Ok(ready) = stream.ready(Interest::READABLE).await else {
            return;
        };
        if ready.is_write_closed() {
            return;
        }
        // The readiness may be left over from reading the request: peek to learn whether
        // anything is there, which clears it when nothing is.
        let peeked = stream.try_io(Interest::READABLE, || {
            let mut byte = 0u8;
            // SAFETY: a one-byte peek into a local buffer on a socket this stream owns.
            let n = unsafe {
                libc::recv(
                    stream.as_raw_fd(),
                    (&mut byte as *mut u8).cast(),
                    1,
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(n)
            }
        });
        match peeked {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
            // End of stream: closed, or only its writing side shut down — the hang-up flag
            // tells which.
            Ok(0) if hung_up(stream.as_raw_fd()) => return,
            // Bytes waiting, or the writing side shut down: the peer is still there.
            Ok(_) => std::future::pending::<()>().await,
        }
    }
}

fn hung_up(fd: std::os::fd::RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: one pollfd on the stack, no wait.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & libc::POLLHUP != 0
}
