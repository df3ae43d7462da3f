//! Where the app's PAIOS runs: hosted in this process (the app takes the home's lock and runs the
//! same `paios_core::Core` and listeners as `paios daemon`), or — when a daemon already holds the
//! lock — attached to that daemon as a client over its loopback API.
//!
//! Invariant: the app and `paios daemon` never both supervise a home; the lock inside
//! `Core::start` decides, and this module only reacts to its answer. No business logic here.

use std::time::{Duration, Instant};

use anyhow::Context;
use paios_core::Core;
use paios_core::config::Config;
use paios_core::core::CoreError;
use paios_core::paths::Paths;

/// How this app reaches PAIOS.
pub enum Mode {
    /// The core runs inside the app.
    Hosted(Core),
    /// Another process (pid) runs the core; the app is its client.
    Attached { pid: String },
}

/// The running PAIOS as the app sees it: the loopback API the panel loads from.
pub struct Backend {
    pub mode: Mode,
    pub paths: Paths,
    pub port: u16,
    pub token: String,
}

impl Backend {
    /// `http://127.0.0.1:PORT` — the daemon-served panel and API.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A page of the panel with the token in the fragment (never sent to the server).
    pub fn page_url(&self, page: &str) -> String {
        format!("{}/{}#token={}", self.base_url(), page, self.token)
    }

    pub fn describe(&self) -> String {
        match &self.mode {
            Mode::Hosted(_) => format!(
                "running PAIOS in-process for {} (panel on {})",
                self.paths.home().display(),
                self.base_url()
            ),
            Mode::Attached { pid } => format!(
                "attached to the PAIOS daemon (pid {pid}) of {} at {}",
                self.paths.home().display(),
                self.base_url()
            ),
        }
    }
}

/// Host the core (its alerts shown through `notifier`), or attach to the one that already runs
/// for this home (which shows its own).
pub async fn start(
    paths: Paths,
    config: Config,
    notifier: std::sync::Arc<dyn paios_core::alerts::Notifier>,
) -> anyhow::Result<Backend> {
    let options = paios_core::module::ModuleOptions { notifier };
    match Core::start_with(paths.clone(), config, options).await {
        Ok(core) => {
            let shutdown = core.shutdown_token();
            let listeners = match paios_core::daemon::start_listeners(&core, shutdown.clone()).await
            {
                Ok(l) => l,
                Err(e) => {
                    core.shutdown().await;
                    return Err(e);
                }
            };
            paios_core::daemon::watch_config(&core, shutdown)?;
            Ok(Backend {
                mode: Mode::Hosted(core),
                paths,
                port: listeners.http_port,
                token: listeners.token,
            })
        }
        Err(CoreError::AlreadyRunning { pid, .. }) => attach(paths, pid).await,
        Err(e) => Err(e.into()),
    }
}

/// Read the running daemon's port and token (it may still be starting: wait a little).
async fn attach(paths: Paths, pid: String) -> anyhow::Result<Backend> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let port = std::fs::read_to_string(paths.api_port_file())
            .ok()
            .and_then(|p| p.trim().parse::<u16>().ok());
        let token = std::fs::read_to_string(paths.token_file())
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        if let (Some(port), Some(token)) = (port, token) {
            let backend = Backend {
                mode: Mode::Attached { pid },
                paths,
                port,
                token,
            };
            crate::feed::Api::new(&backend)
                .status()
                .await
                .with_context(|| {
                    format!(
                        "another PAIOS holds {} but its API at {} does not answer; stop it or wait for it to start",
                        backend.paths.home().display(),
                        backend.base_url()
                    )
                })?;
            return Ok(backend);
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "another PAIOS (pid {pid}) holds {} but has not written {} and {} yet; is it stuck? (`paios status`)",
                paths.home().display(),
                paths.api_port_file().display(),
                paths.token_file().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
