//! The unix-socket transport: newline-delimited JSON, one request per line, answered in order.
//!
//! The socket is created with mode 0600 (umask set around `bind`) and every peer's uid is
//! checked against ours, so only the owning user can talk to the daemon.

use std::path::Path;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
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
                Ok(req) => match dispatch(&core, &req.op, req.args).await {
                    Ok(result) => json!({"ok": true, "result": result}),
                    Err(e) => json!({"ok": false, "error": e}),
                },
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
