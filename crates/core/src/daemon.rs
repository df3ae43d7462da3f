//! `paios daemon`: the headless core with its listeners, logs and signal handling.
//!
//! Start-up order: logging → Core (lock, store, spool replay, modules) → token → unix socket →
//! loopback HTTP (port written to `api.port`) → config watcher. SIGTERM/SIGINT: stop accepting,
//! stop supervised children, flush the store, exit 0.

use std::time::Duration;

use anyhow::Context;
use notify::Watcher;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::core::Core;
use crate::paths::Paths;

/// Options of `paios daemon`.
#[derive(Debug, Clone, Default)]
pub struct DaemonOptions {
    /// Also log to stderr.
    pub verbose: bool,
}

/// Install the tracing subscriber: daily-rotated files under logs/ (and stderr when verbose).
/// Returns the guard that flushes the file writer on drop.
pub fn init_logging(
    paths: &Paths,
    config: &Config,
    verbose: bool,
) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    crate::paths::create_private_dir(&paths.logs_dir())?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("paios")
        .filename_suffix("log")
        .max_log_files(config.log.keep_files)
        .build(paths.logs_dir())
        .context("cannot open the log folder")?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("PAIOS_LOG")
            .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let file_layer = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(writer)
        .with_filter(filter());
    let stderr_layer = verbose.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter())
    });
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    Ok(guard)
}

/// Listeners bound for a running core.
pub struct Listeners {
    /// The loopback HTTP port actually bound (the configured `[api] port`, or the one the OS
    /// chose when that is 0); also written to `api.port` in the home.
    pub http_port: u16,
    /// The bearer token HTTP clients must present: read from the token file, or created there
    /// (32 random bytes, hex) on first start.
    pub token: String,
}

/// Bind the socket and HTTP listeners for `core` and serve them until `shutdown`.
pub async fn start_listeners(
    core: &Core,
    shutdown: CancellationToken,
) -> anyhow::Result<Listeners> {
    let paths = core.paths().clone();
    let token = crate::api::http::load_or_create_token(&paths.token_file()).with_context(|| {
        format!(
            "cannot create the API token at {}",
            paths.token_file().display()
        )
    })?;
    let unix = crate::api::socket::bind(&paths.socket())
        .with_context(|| format!("cannot listen on {}", paths.socket().display()))?;
    tokio::spawn(crate::api::socket::serve(
        core.clone(),
        unix,
        shutdown.clone(),
    ));
    let port = core.config().api.port;
    let tcp = crate::api::http::bind(port).await.with_context(|| {
        format!("cannot listen on 127.0.0.1:{port} (set [api] port in paios.toml, or 0 for any free port)")
    })?;
    let http_port = tcp.local_addr()?.port();
    crate::atomic::write_atomic(
        &paths.api_port_file(),
        http_port.to_string().as_bytes(),
        crate::atomic::Mode::Keep,
    )?;
    tokio::spawn(crate::api::http::serve(
        core.clone(),
        tcp,
        token.clone(),
        shutdown.clone(),
    ));
    Ok(Listeners { http_port, token })
}

/// Watch paios.toml and reload on change (debounced).
pub fn watch_config(core: &Core, shutdown: CancellationToken) -> anyhow::Result<()> {
    let path = core.paths().config_file();
    let dir = core.paths().home().to_path_buf();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(16);
    let file_name = path.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            // Reading the file (as every reload does) is not a change: without this, each
            // reload would trigger the next one.
            if ev.kind.is_access() {
                return;
            }
            if ev
                .paths
                .iter()
                .any(|p| p.file_name().map(|n| n.to_os_string()) == file_name)
            {
                let _ = tx.try_send(());
            }
        }
    })?;
    // Watch the folder, not the file: editors replace files by renaming.
    watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
    let core = core.clone();
    tokio::spawn(async move {
        let _watcher = watcher;
        // An edit made between loading the configuration and arming the watcher.
        core.reload_config().await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                got = rx.recv() => if got.is_none() { return },
            }
            // Debounce: editors write in several steps.
            tokio::time::sleep(Duration::from_millis(200)).await;
            while rx.try_recv().is_ok() {}
            core.reload_config().await;
        }
    });
    Ok(())
}

/// Run the daemon until SIGTERM, SIGINT, SIGHUP or SIGQUIT. Exit code 0 on a clean stop.
pub async fn run(paths: Paths, config: Config, options: DaemonOptions) -> anyhow::Result<()> {
    // Handlers first: a SIGTERM that arrives while we start must still mean "stop cleanly".
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    // Closing the terminal of a foreground daemon (SIGHUP), or SIGQUIT, stops it the same
    // clean way: services stopped, the stop recorded.
    let mut hup = signal(SignalKind::hangup())?;
    let mut quit = signal(SignalKind::quit())?;
    let _log_guard = init_logging(&paths, &config, options.verbose)?;
    let core = Core::start(paths.clone(), config).await?;
    let shutdown = core.shutdown_token();
    // Watch before announcing readiness: an edit made as soon as the socket answers is seen.
    watch_config(&core, shutdown.clone())?;
    let listeners = match start_listeners(&core, shutdown.clone()).await {
        Ok(l) => l,
        Err(e) => {
            core.shutdown().await;
            return Err(e);
        }
    };
    tracing::info!(
        pid = std::process::id(),
        home = %paths.home().display(),
        port = listeners.http_port,
        "PAIOS daemon started"
    );
    eprintln!(
        "paios daemon: running (pid {}), home {}\n  panel: http://127.0.0.1:{}/#token={}",
        std::process::id(),
        paths.home().display(),
        listeners.http_port,
        listeners.token
    );
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        _ = hup.recv() => tracing::info!("SIGHUP: shutting down"),
        _ = quit.recv() => tracing::info!("SIGQUIT: shutting down"),
        _ = shutdown.cancelled() => {}
    }
    core.shutdown().await;
    let _ = std::fs::remove_file(paths.socket());
    tracing::info!("PAIOS daemon stopped");
    Ok(())
}
