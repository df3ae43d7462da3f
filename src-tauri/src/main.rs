//! `paios-app`: the PAIOS menu-bar app. A thin shell over the core library and the daemon-served
//! panel: tray icon, panel window, approval popups, alert notifications, settings window, login
//! item. It hosts the core in-process (or attaches to a running `paios daemon`) and shows the
//! same `ui/` a browser shows. Its windows live in a child process, the window host (`host`,
//! `windows`), which exits when no window has been shown for a while: the app that stays in the
//! tray all day never creates a web view.
//!
//! Never here: business logic (supervision, policy, costs live in `paios`), or a second copy of
//! the core for a home that already has one (see `backend`).
//!
//! Usage: `paios-app [--open-panel] [--show-panel|--hide-panel|--toggle-panel|--settings]
//! [--keep-panel-on-blur] [--dump-panel-text FILE]`. A second launch hands its flags to the
//! running app (single instance) and exits.

mod alerts;
mod backend;
mod debug;
mod feed;
mod host;
mod tray;
mod windows;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use serde_json::{Value, json};
use tauri::{AppHandle, Manager, RunEvent};
use tauri_plugin_autostart::ManagerExt;

use crate::backend::{Backend, Mode};
use crate::feed::{Api, Snapshot};
use crate::host::{Anchor, Command, WindowHost};

/// Command-line flags (also what a second launch forwards to the running app).
#[derive(Debug, Clone, Default)]
pub struct Options {
    open_panel: bool,
    hide_panel: bool,
    toggle_panel: bool,
    settings: bool,
    keep_panel_on_blur: bool,
    dump_panel_text: Option<PathBuf>,
    /// Test hook: (window, script, result file); see `debug`.
    eval: Option<(String, String, PathBuf)>,
}

const USAGE: &str = "usage: paios-app [--open-panel] [--show-panel|--hide-panel|--toggle-panel|--settings] [--keep-panel-on-blur] [--dump-panel-text FILE]";

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut o = Options::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--open-panel" | "--show-panel" => o.open_panel = true,
                "--hide-panel" => o.hide_panel = true,
                "--toggle-panel" => o.toggle_panel = true,
                "--settings" => o.settings = true,
                "--keep-panel-on-blur" => o.keep_panel_on_blur = true,
                "--dump-panel-text" => {
                    let file = args.next().ok_or("--dump-panel-text needs a file name")?;
                    o.dump_panel_text = Some(PathBuf::from(file));
                }
                "--eval" => {
                    let mut next = || args.next().ok_or("--eval needs WINDOW SCRIPT FILE");
                    o.eval = Some((next()?, next()?, PathBuf::from(next()?)));
                }
                // Added by the login item on some platforms.
                "--autostart" | "--minimized" => {}
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(o)
    }
}

/// Everything the app's handlers share.
pub struct AppState {
    pub backend: Backend,
    pub api: Api,
    pub host: WindowHost,
    pub options: Options,
    /// What the tray shows now (redrawn as is when only the login item changed).
    pub snapshot: Mutex<Snapshot>,
}

/// The app's Tauri context (configuration, capabilities, assets), for the app and the host.
pub fn context() -> tauri::Context {
    tauri::generate_context!()
}

/// Linux: a second launch hands its flags to the running app over the session bus and ends
/// here, before Tauri has started, the display is opened or the home is read. The running app
/// serves the call through tauri-plugin-single-instance, whose own check (kept, for two launches
/// at the same instant) would find the name taken only after Tauri has started and then end the
/// process with `exit` while its threads run; returning from `main` ends it cleanly.
#[cfg(target_os = "linux")]
fn handed_over_to_running_app() -> bool {
    let Some(identifier) = app_identifier() else {
        return false;
    };
    let name = format!("{identifier}.SingleInstance");
    let path = format!("/{}", name.replace('.', "/").replace('-', "_"));
    let Ok(bus) = zbus::blocking::Connection::session() else {
        return false;
    };
    let owned = zbus::blocking::fdo::DBusProxy::new(&bus)
        .ok()
        .zip(zbus::names::BusName::try_from(name.as_str()).ok())
        .and_then(|(dbus, bus_name)| dbus.name_has_owner(bus_name).ok())
        .unwrap_or(false);
    if !owned {
        return false;
    }
    let argv: Vec<String> = std::env::args().collect();
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| d.to_str().map(str::to_owned))
        .unwrap_or_default();
    bus.call_method(
        Some(name.as_str()),
        path.as_str(),
        Some("org.SingleInstance.DBus"),
        "ExecuteCallback",
        &(argv, cwd),
    )
    .is_ok()
}

/// The app's identifier, which names its single-instance bus name: read from the
/// `tauri.conf.json` compiled in, without building the whole Tauri context.
#[cfg(target_os = "linux")]
fn app_identifier() -> Option<String> {
    const CONF: &str = include_str!("../tauri.conf.json");
    serde_json::from_str::<Value>(CONF)
        .ok()
        .and_then(|v| v["identifier"].as_str().map(str::to_owned))
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(host::FLAG) {
        return windows::run();
    }
    host::keep_gl_out_of_this_process();
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("paios-app: {e}");
            return ExitCode::from(2);
        }
    };
    #[cfg(target_os = "linux")]
    if handed_over_to_running_app() {
        return ExitCode::SUCCESS;
    }
    let paths = match paios_core::paths::Paths::from_env() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("paios-app: cannot find the PAIOS home: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = match paios_core::config::Config::load(&paths.config_file()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("paios-app: {e}\nFix paios.toml (or move it away to start with defaults).");
            return ExitCode::FAILURE;
        }
    };
    let _log_guard = match paios_core::daemon::init_logging(&paths, &config, true) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!("paios-app: logging to files is off: {e}");
            None
        }
    };

    let first_options = options.clone();
    let app = tauri::Builder::default()
        // The running app serves second launches (on Linux most hand over before this point,
        // see `handed_over_to_running_app`); a racing one still ends here.
        .plugin(tauri_plugin_single_instance::init(
            |app, argv, _cwd| match Options::parse(argv.into_iter().skip(1)) {
                Ok(o) => apply(app, &o, true),
                Err(e) => tracing::warn!("ignoring a second launch: {e}"),
            },
        ))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::Builder::new().build())
        .setup(move |app| {
            quit_on_signals(app.handle());
            let notifier = std::sync::Arc::new(alerts::AppNotifier(app.handle().clone()));
            let backend = tauri::async_runtime::block_on(backend::start(paths, config, notifier))?;
            tracing::info!("{}", backend.describe());
            eprintln!(
                "paios-app: {}\n  panel: {}/",
                backend.describe(),
                backend.base_url()
            );
            let api = Api::new(&backend);
            let host = WindowHost::start(
                app.handle(),
                host::Hello {
                    base: backend.base_url(),
                    token: backend.token.clone(),
                    keep_panel_on_blur: first_options.keep_panel_on_blur,
                    dump_panel_text: first_options.dump_panel_text.clone(),
                },
            );
            app.manage(AppState {
                backend,
                api,
                host,
                options: first_options.clone(),
                snapshot: Mutex::new(Snapshot::default()),
            });
            let handle = app.handle().clone();
            tray::create(&handle);
            alerts::check_notification_service();
            start_feed(&handle);
            apply(&handle, &first_options, false);
            Ok(())
        })
        .build(context());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("paios-app: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    app.run(|app, event| match event {
        // Closing every window does not quit a menu-bar app; only "Quit" does.
        RunEvent::ExitRequested { api, code, .. } if code.is_none() => api.prevent_exit(),
        RunEvent::Exit => {
            if let Some(state) = app.try_state::<AppState>() {
                tauri::async_runtime::block_on(state.host.stop());
                if let Mode::Hosted(core) = &state.backend.mode {
                    tracing::info!("stopping the PAIOS core");
                    tauri::async_runtime::block_on(core.clone().shutdown());
                }
            }
        }
        _ => {}
    });
    ExitCode::SUCCESS
}

/// SIGTERM/SIGINT quit like the menu's Quit: supervised children stop, the store is flushed.
/// Called first thing in set-up: the handlers are in place before the core starts anything, and
/// a quit asked for during set-up is carried out once it is done.
fn quit_on_signals(app: &AppHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    let registered = {
        let _runtime = tauri::async_runtime::handle().inner().enter();
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    let (Ok(mut term), Ok(mut int)) = registered else {
        tracing::warn!("cannot watch SIGTERM/SIGINT");
        return;
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: quitting"),
            _ = int.recv() => tracing::info!("SIGINT: quitting"),
        }
        app.exit(0);
    });
}

/// Ask the window host for a window (it is started if need be).
pub fn window(app: &AppHandle, cmd: Command) {
    app.state::<AppState>().host.send(cmd);
}

/// Act on flags, at start or forwarded by a second launch.
fn apply(app: &AppHandle, o: &Options, forwarded: bool) {
    if let Some((window_label, script, out)) = &o.eval {
        if debug::hooks_enabled() {
            window(
                app,
                Command::Eval {
                    window: window_label.clone(),
                    script: script.clone(),
                    out: out.clone(),
                },
            );
        } else {
            tracing::warn!("--eval ignored: the app runs without PAIOS_APP_TEST_HOOKS=1");
        }
        return;
    }
    if o.settings {
        window(app, Command::Settings);
    }
    if o.hide_panel {
        window(app, Command::HidePanel);
    } else if o.toggle_panel {
        window(app, Command::TogglePanel { under: None });
    } else if o.open_panel || (forwarded && !o.settings) {
        window(app, Command::ShowPanel { under: None });
    }
}

/// Redraw the tray from the last snapshot (the login item changed).
pub fn redraw_tray(app: &AppHandle) {
    let snapshot = app.state::<AppState>().snapshot.lock().unwrap().clone();
    tray::update(app, &snapshot);
}

/// The tray icon's rectangle from a click, for placing the panel under it.
pub fn anchor(rect: &tauri::Rect) -> Anchor {
    let position = rect.position.to_physical::<f64>(1.0);
    let size = rect.size.to_physical::<f64>(1.0);
    Anchor {
        x: position.x,
        y: position.y,
        width: size.width,
        height: size.height,
    }
}

/// Follow the event stream: redraw the tray, open and close approval popups, notify alerts.
fn start_feed(app: &AppHandle) {
    let api = app.state::<AppState>().api.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Value>(512);
    tauri::async_runtime::spawn(api.clone().follow(tx));
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut popups_opened_for_backlog = false;
        while let Some(first) = rx.recv().await {
            // Take whatever else has already arrived, so a burst costs one redraw.
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let mut redraw = false;
            for event in &batch {
                // A reconnect (null) or any event that changes what the tray shows.
                redraw |= event.is_null() || changes_the_tray(event);
                for reaction in reactions(event) {
                    match reaction {
                        Reaction::Popup(id) => window(&app, Command::Popup { id }),
                        Reaction::ClosePopup(id) => window(&app, Command::ClosePopup { id }),
                    }
                }
            }
            if redraw {
                let snapshot = Snapshot::read(&api).await;
                tray::update(&app, &snapshot);
                *app.state::<AppState>().snapshot.lock().unwrap() = snapshot.clone();
                if !popups_opened_for_backlog && snapshot.reachable {
                    // Requests that were already waiting when the app started get a popup too.
                    popups_opened_for_backlog = true;
                    for request in &snapshot.pending {
                        if let Some(id) = id_of(request) {
                            window(&app, Command::Popup { id });
                        }
                    }
                }
            }
        }
    });
}

fn id_of(value: &Value) -> Option<String> {
    match &value["id"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The approval id an `approval.*` event is about: `data.id`, else the subject.
fn approval_id(event: &Value) -> Option<String> {
    id_of(&event["data"])
        .or_else(|| id_of(&json!({"id": event["data"]["request_id"]})))
        .or_else(|| event["subject"].as_str().map(str::to_string))
}

/// What the app does about one event of the stream (besides redrawing the tray).
#[derive(Debug, PartialEq, Eq)]
enum Reaction {
    /// An approval waits: show its popup.
    Popup(String),
    /// An approval was answered (by anyone, or it expired): close its popup.
    ClosePopup(String),
}

/// The app's reactions to `event`. Alerts are not among them: the core notifies them.
fn reactions(event: &Value) -> Vec<Reaction> {
    use paios_core::events::Kind;
    let kind = event["kind"].as_str().and_then(Kind::parse);
    match (kind, approval_id(event)) {
        (Some(Kind::ApprovalRequested), Some(id)) => vec![Reaction::Popup(id)],
        (Some(Kind::ApprovalDecided), Some(id)) => vec![Reaction::ClosePopup(id)],
        _ => Vec::new(),
    }
}

/// Whether `event` changes what the tray shows (the core says which views each event changes).
fn changes_the_tray(event: &Value) -> bool {
    use paios_core::events::{View, views_of};
    views_of(event["kind"].as_str().unwrap_or(""))
        .iter()
        .any(|v| {
            matches!(
                v,
                View::Services | View::Incidents | View::Approvals | View::Mesh | View::Config
            )
        })
}

/// Tray menu actions.
pub fn on_menu(app: &AppHandle, id: &str) {
    match id {
        "open" | "approvals" => window(app, Command::ShowPanel { under: None }),
        "settings" => window(app, Command::Settings),
        "pause" => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let api = app.state::<AppState>().api.clone();
                let result = api.rpc("approvals.autonomy_set", json!({"level": 0})).await;
                let message = match result {
                    Ok(Some(_)) => {
                        "Autonomy paused: every \"ask\" action now waits for you.".to_string()
                    }
                    Ok(None) => "This PAIOS daemon has no autonomy levels yet.".to_string(),
                    Err(e) => format!("Could not pause autonomy: {e}"),
                };
                tracing::info!("{message}");
                alerts::notify(&app, "PAIOS", &message);
            });
        }
        "login" => match set_login_item(app, !login_item_enabled(app)) {
            Ok(enabled) => tracing::info!(enabled, "login item"),
            Err(e) => tracing::warn!("{e}"),
        },
        "quit" => app.exit(0),
        _ => {}
    }
}

/// Turn the login item on or off (tray menu, settings page); answers the new state.
pub fn set_login_item(app: &AppHandle, enabled: bool) -> Result<bool, String> {
    let manager = app.autolaunch();
    // Linux: the plugin writes `$HOME/.config/autostart/PAIOS.desktop` but creates only the last
    // folder, so a home without `.config` yet would fail.
    #[cfg(target_os = "linux")]
    if enabled && let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let dir = PathBuf::from(home).join(".config").join("autostart");
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let result = if enabled {
        manager.enable()
    } else {
        manager.disable()
    };
    result.map_err(|e| format!("cannot change the login item: {e}"))?;
    Ok(login_item_enabled(app))
}

pub fn login_item_enabled(app: &AppHandle) -> bool {
    app.try_state::<tauri_plugin_autostart::AutoLaunchManager>()
        .and_then(|m| m.is_enabled().ok())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn an_alert_is_left_to_the_core_and_approvals_open_and_close_their_popups() {
        let raised = json!({"kind":"alert.raised","subject":"gw","data":{"severity":"critical","message":"exited 78","runbook":"openclaw-gateway"}});
        assert_eq!(reactions(&raised), vec![]);
        assert!(changes_the_tray(&raised));
        let requested = json!({"kind":"approval.requested","subject":"7","data":{"id":7}});
        assert_eq!(reactions(&requested), vec![Reaction::Popup("7".into())]);
        let decided = json!({"kind":"approval.decided","subject":"7","data":{"id":7,"by":"gone"}});
        assert_eq!(reactions(&decided), vec![Reaction::ClosePopup("7".into())]);
        assert!(!changes_the_tray(&json!({"kind":"task.started"})));
    }
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_handover_names_the_identifier_tauri_uses() {
        assert_eq!(
            app_identifier(),
            Some(context().config().identifier.clone())
        );
    }

    #[test]
    fn flags() {
        let o = Options::parse(["--open-panel", "--dump-panel-text", "x.txt"].map(String::from))
            .unwrap();
        assert!(o.open_panel);
        assert_eq!(o.dump_panel_text, Some(PathBuf::from("x.txt")));
        assert!(Options::parse(["--nope".to_string()]).is_err());
        assert!(Options::parse(["--dump-panel-text".to_string()]).is_err());
        let o =
            Options::parse(["--eval", "settings", "1 + 1", "out.txt"].map(String::from)).unwrap();
        assert_eq!(
            o.eval,
            Some(("settings".into(), "1 + 1".into(), PathBuf::from("out.txt")))
        );
        assert!(Options::parse(["--eval", "settings"].map(String::from)).is_err());
    }

    #[test]
    fn approval_ids_from_events() {
        assert_eq!(
            approval_id(&json!({"subject": "s", "data": {"id": 7}})),
            Some("7".into())
        );
        assert_eq!(
            approval_id(&json!({"subject": "abc", "data": {}})),
            Some("abc".into())
        );
    }
}
