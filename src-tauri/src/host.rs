//! The window host, seen from the app: every web view of the app (panel, settings window,
//! approval popups) lives in a child process — this same binary started with `--window-host` —
//! so the long-lived app process (tray, core, feed, notifications) never creates a WebKit
//! context. The child is told to exit once it has shown no window for [`keep`]; its WebKit helper
//! processes (web content, network) go with it. Each child is started ahead of need, with the
//! app and again when the previous one exits, as a *spare*: it loads its libraries and waits,
//! connected to nothing, until a window is wanted (about 55 MB RSS, 15 MB of it its own, no
//! CPU), so opening a window does not wait for the dynamic loader.
//!
//! Owns: starting, commanding and stopping the child and its spare, the keep period, and the
//! panel's open timings (measured here, from the request to the child's report, child start
//! included).
//! Never: builds a window itself, or lets a window outlive the keep period by more than the
//! child's exit.
//!
//! Protocol (one JSON object per line): the app writes a [`Hello`] (the API's address and token,
//! never put on a command line) then [`Order`]s on the child's stdin; the child answers with
//! [`Report`]s on its stdout. End of stdin means "exit now"; the child also exits if the app dies.
//! Every report carries the sequence number of the last order the child has carried out, so a
//! "no window visible" that was sent before a newer order cannot stop a child that is opening one.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tauri::AppHandle;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::{mpsc, oneshot};

/// The hidden flag that turns `paios-app` into the window host.
pub const FLAG: &str = "--window-host";

/// `GDK_GL` as the user had it, passed on to the window host if set (otherwise the window host
/// inherits this process's `disable`: WebKit draws its pages on the CPU there).
static USER_GDK_GL: std::sync::OnceLock<Option<std::ffi::OsString>> = std::sync::OnceLock::new();

/// The app process draws nothing with GL (its windows live in the window host), but GTK probes
/// GL when it opens the display, which loads the GL driver (with Mesa's llvmpipe, ~50 MB of
/// RSS for the app's whole life). `GDK_GL=disable` skips that probe here and, unless the user
/// set `GDK_GL`, in the window host.
///
/// Call first thing in `main`, before any thread exists.
pub fn keep_gl_out_of_this_process() {
    USER_GDK_GL.get_or_init(|| std::env::var_os("GDK_GL"));
    // SAFETY: called at the start of `main`, while the process has a single thread.
    unsafe { std::env::set_var("GDK_GL", "disable") };
}

/// How long the window host lives on after its last window was hidden or closed
/// (`PAIOS_APP_PANEL_KEEP_S`, default 20 s): reopening within it is instant, after it the
/// web views' memory is gone with the child.
pub fn keep() -> Duration {
    std::env::var("PAIOS_APP_PANEL_KEEP_S")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(20))
}

/// First line to the child: where the panel is served, and the app's options for windows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub token: String,
    #[serde(default)]
    pub keep_panel_on_blur: bool,
    #[serde(default)]
    pub dump_panel_text: Option<PathBuf>,
}

/// Where the tray icon is (physical pixels), so the panel can open under it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Anchor {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// What the app asks of the window host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Command {
    ShowPanel {
        #[serde(default)]
        under: Option<Anchor>,
    },
    HidePanel,
    TogglePanel {
        #[serde(default)]
        under: Option<Anchor>,
    },
    Settings,
    Popup {
        id: String,
    },
    ClosePopup {
        id: String,
    },
    /// Test hook (see `debug`): run a script in a window, write its result to a file.
    Eval {
        window: String,
        script: String,
        out: PathBuf,
    },
}

impl Command {
    /// Worth starting a window host for (hiding or closing something needs none).
    fn opens_a_window(&self) -> bool {
        !matches!(
            self,
            Command::HidePanel | Command::ClosePopup { .. } | Command::Eval { .. }
        )
    }

    fn may_show_panel(&self) -> bool {
        matches!(
            self,
            Command::ShowPanel { .. } | Command::TogglePanel { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub seq: u64,
    #[serde(flatten)]
    pub cmd: Command,
}

/// What the window host tells the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "report", rename_all = "kebab-case")]
pub enum Report {
    /// How many windows are visible after the order `seq` (and any window event since).
    Visible { seq: u64, windows: usize },
    /// The panel was shown again (its web view was kept).
    PanelShown,
    /// A new panel web view finished loading its page.
    PanelLoaded,
    /// The settings page changed the login item.
    LoginItem { enabled: bool },
}

enum Msg {
    Cmd(Command),
    Quit(oneshot::Sender<()>),
}

/// The app's handle on the window host: send it commands from anywhere.
#[derive(Clone)]
pub struct WindowHost {
    tx: mpsc::UnboundedSender<Msg>,
}

impl WindowHost {
    /// Start the task that owns the child (no child is started until a window is wanted).
    pub fn start(app: &AppHandle, hello: Hello) -> WindowHost {
        let (tx, rx) = mpsc::unbounded_channel();
        tauri::async_runtime::spawn(manage(app.clone(), hello, rx));
        WindowHost { tx }
    }

    pub fn send(&self, cmd: Command) {
        if self.tx.send(Msg::Cmd(cmd)).is_err() {
            tracing::warn!("the window host's manager has stopped");
        }
    }

    /// Quitting: close every window and wait (a little) for the child to exit.
    pub async fn stop(&self) {
        let (done, stopped) = oneshot::channel();
        if self.tx.send(Msg::Quit(done)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(6), stopped).await;
        }
    }
}

/// A window host started ahead of need: it has loaded its libraries and waits for its [`Hello`],
/// having opened no display and created no web view. Loading a WebKit-linked binary takes a
/// fresh process tens of milliseconds of symbol binding, and that would otherwise be paid
/// between the click and the panel. Costs one idle process (no CPU: it sleeps in a read).
struct Spare {
    child: Child,
    pid: u32,
}

impl Spare {
    fn spawn() -> anyhow::Result<Spare> {
        let exe = std::env::current_exe()?;
        let mut command = tokio::process::Command::new(exe);
        // The user's GDK_GL, else the app's `disable`: WebKit draws the windows on the CPU
        // (see `windows`), so GTK's GL probe would only load the GL driver for nothing.
        if let Some(Some(value)) = USER_GDK_GL.get() {
            command.env("GDK_GL", value);
        }
        let child = command
            .arg(FLAG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().unwrap_or(0);
        Ok(Spare { child, pid })
    }

    /// Still waiting (it may have been killed meanwhile).
    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    reports: Lines<BufReader<ChildStdout>>,
    pid: u32,
    started: Instant,
}

impl Running {
    /// Hand the [`Hello`] to a spare host (or to one started now, if there is none).
    async fn start(spare: Option<Spare>, hello: &Hello) -> anyhow::Result<Running> {
        let Spare { mut child, pid } = match spare {
            Some(mut spare) => {
                if spare.alive() {
                    spare
                } else {
                    Spare::spawn()?
                }
            }
            None => Spare::spawn()?,
        };
        let mut stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = serde_json::to_string(hello)?;
        line.push('\n');
        stdin.write_all(line.as_bytes()).await?;
        Ok(Running {
            child,
            stdin,
            reports: BufReader::new(stdout).lines(),
            pid,
            started: Instant::now(),
        })
    }

    async fn order(&mut self, order: &Order) -> std::io::Result<()> {
        let mut line = serde_json::to_string(order).expect("orders serialize");
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await
    }

    /// Close its stdin (the child exits), wait a moment, then make sure it is gone.
    async fn stop(self) {
        let Running {
            mut child,
            stdin,
            pid,
            started,
            ..
        } = self;
        drop(stdin);
        match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
            Ok(Ok(status)) => tracing::info!(
                pid,
                %status,
                lived_s = started.elapsed().as_secs(),
                "window host exited: its web views are released"
            ),
            _ => {
                tracing::warn!(pid, "window host did not exit when asked: killing it");
                let _ = child.kill().await;
            }
        }
    }
}

/// A spare window host for the next window, or none if it cannot be started (the next window
/// then starts its own).
fn spare_host() -> Option<Spare> {
    match Spare::spawn() {
        Ok(spare) => {
            tracing::debug!(pid = spare.pid, "spare window host started");
            Some(spare)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot start a spare window host");
            None
        }
    }
}

/// The one task that owns the child: orders in, reports out, the keep timer.
async fn manage(app: AppHandle, hello: Hello, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut running: Option<Running> = None;
    let mut spare = spare_host();
    let mut seq = 0u64;
    let mut idle_until: Option<tokio::time::Instant> = None;
    let mut panel_requested: Option<Instant> = None;
    loop {
        let report = async {
            match running.as_mut() {
                Some(r) => r.reports.next_line().await,
                None => std::future::pending().await,
            }
        };
        let idle = async {
            match idle_until {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            msg = rx.recv() => {
                let cmd = match msg {
                    Some(Msg::Cmd(cmd)) => cmd,
                    Some(Msg::Quit(done)) => {
                        drop(spare.take());
                        if let Some(r) = running.take() {
                            r.stop().await;
                        }
                        let _ = done.send(());
                        return;
                    }
                    None => break,
                };
                // Timed from here: starting the window host is part of opening the panel.
                let received = Instant::now();
                if running.is_none() {
                    if !cmd.opens_a_window() {
                        continue;
                    }
                    match Running::start(spare.take(), &hello).await {
                        Ok(r) => {
                            tracing::info!(pid = r.pid, "window host started");
                            running = Some(r);
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "cannot start the window host");
                            continue;
                        }
                    }
                }
                if cmd.may_show_panel() {
                    panel_requested = Some(received);
                }
                seq += 1;
                idle_until = None;
                let r = running.as_mut().expect("started above");
                if let Err(e) = r.order(&Order { seq, cmd }).await {
                    tracing::warn!(error = %e, "the window host is gone");
                    if let Some(r) = running.take() {
                        r.stop().await;
                    }
                    spare = spare_host();
                }
            }
            line = report => match line {
                Ok(Some(line)) => match serde_json::from_str::<Report>(&line) {
                    Ok(Report::Visible { seq: done, windows }) => {
                        if windows > 0 {
                            idle_until = None;
                        } else if done == seq {
                            let keep = keep();
                            tracing::info!(keep_s = keep.as_secs_f64(), "no window shown");
                            idle_until = Some(tokio::time::Instant::now() + keep);
                        }
                    }
                    Ok(Report::PanelShown) => {
                        if let Some(at) = panel_requested.take() {
                            let ms = at.elapsed().as_millis() as u64;
                            tracing::info!(ms, "panel shown (kept web view)");
                        }
                    }
                    Ok(Report::PanelLoaded) => {
                        if let Some(at) = panel_requested.take() {
                            let ms = at.elapsed().as_millis() as u64;
                            tracing::info!(ms, "panel opened (new web view, page loaded)");
                        }
                    }
                    Ok(Report::LoginItem { enabled }) => {
                        tracing::info!(enabled, "login item changed in the settings window");
                        crate::redraw_tray(&app);
                    }
                    Err(_) => tracing::debug!(line, "window host: not a report"),
                },
                Ok(None) | Err(_) => {
                    // The child exited on its own (crash, or its display went away).
                    if let Some(mut r) = running.take() {
                        let status = r.child.wait().await;
                        tracing::warn!(pid = r.pid, ?status, "window host exited");
                    }
                    idle_until = None;
                    panel_requested = None;
                    spare = spare_host();
                }
            },
            () = idle => {
                idle_until = None;
                if let Some(r) = running.take() {
                    r.stop().await;
                }
                spare = spare_host();
            }
        }
    }
    if let Some(r) = running.take() {
        r.stop().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_reports_round_trip_as_single_lines() {
        let order = Order {
            seq: 3,
            cmd: Command::Popup { id: "01J x".into() },
        };
        let line = serde_json::to_string(&order).unwrap();
        assert_eq!(line, r#"{"seq":3,"cmd":"popup","id":"01J x"}"#);
        assert_eq!(serde_json::from_str::<Order>(&line).unwrap(), order);
        let show: Order = serde_json::from_str(r#"{"seq":1,"cmd":"show-panel"}"#).unwrap();
        assert_eq!(show.cmd, Command::ShowPanel { under: None });
        let report = Report::Visible { seq: 3, windows: 0 };
        let line = serde_json::to_string(&report).unwrap();
        assert_eq!(line, r#"{"report":"visible","seq":3,"windows":0}"#);
        assert_eq!(serde_json::from_str::<Report>(&line).unwrap(), report);
    }

    #[test]
    fn hiding_needs_no_window_host() {
        assert!(!Command::HidePanel.opens_a_window());
        assert!(!Command::ClosePopup { id: "1".into() }.opens_a_window());
        assert!(Command::Settings.opens_a_window());
        assert!(Command::TogglePanel { under: None }.may_show_panel());
    }
}
