//! The window host process (`paios-app --window-host`, started and stopped by `host`): builds
//! and shows the app's windows, all showing pages the daemon serves from `ui/` (so the app and a
//! browser show the same UI): the panel (a small window under the tray icon that hides when it
//! loses focus), the settings window (with the login item commands), and one always-on-top popup
//! per approval request. It carries out the app's orders from stdin and reports on stdout how
//! many windows are visible; the app ends it when none has been for a while, so WebKit's
//! processes and memory never stay behind in the long-lived app.
//!
//! It is usually started ahead of need as a spare (see `host`): it then sets up logging and waits
//! for its `Hello`, touching neither the display nor WebKit until it gets one.
//!
//! Never here: the core, the tray, notifications, or a decision about its own lifetime (it exits
//! when its stdin closes: asked to by the app, or because the app is gone).

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tauri::webview::PageLoadEvent;
use tauri::{
    AppHandle, Manager, RunEvent, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent,
};
use tauri_plugin_positioner::{Position, WindowExt};

use crate::host::{Anchor, Command, Hello, Order, Report};

pub const PANEL: &str = "panel";
pub const SETTINGS: &str = "settings";
const POPUP_PREFIX: &str = "approval-";

/// What the window host's handlers share.
pub struct HostState {
    hello: Hello,
    /// Sequence number of the last order carried out (sent back with every count).
    done: AtomicU64,
    /// The panel is shown (it is hidden, not destroyed, when it loses focus).
    panel_shown: AtomicBool,
    /// Set once the panel had focus since it was shown (only then does blur hide it).
    panel_focused: AtomicBool,
    /// The panel was built and has not finished loading its page yet.
    panel_loading: AtomicBool,
    /// Counts the panel's hides and shows, so a release planned at a hide knows if it is stale.
    panel_turns: AtomicU64,
    /// Reports go out one line at a time.
    out: Mutex<std::io::Stdout>,
}

/// `paios-app --window-host`: read the [`Hello`], then carry out orders until stdin closes.
pub fn run() -> ExitCode {
    #[cfg(target_os = "linux")]
    draw_on_the_cpu();
    // Logging is set up while this may still be a spare, before the app needs a window.
    let _log_guard = paios_core::paths::Paths::from_env().ok().and_then(|paths| {
        let config = paios_core::config::Config::load(&paths.config_file()).unwrap_or_default();
        paios_core::daemon::init_logging(&paths, &config, true).ok()
    });
    let mut stdin = std::io::stdin().lock();
    let mut first = String::new();
    let hello: Hello = match stdin
        .read_line(&mut first)
        .map(|n| (n, serde_json::from_str(&first)))
    {
        Ok((_, Ok(hello))) => hello,
        // A spare host the app no longer needs (it quit, or died): nothing was started yet.
        Ok((0, _)) => return ExitCode::SUCCESS,
        _ => {
            eprintln!("paios-app: --window-host is started by paios-app itself");
            return ExitCode::from(2);
        }
    };
    drop(stdin);
    let t0 = std::time::Instant::now();
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_positioner::init())
        .plugin(tauri_plugin_autostart::Builder::new().build())
        .invoke_handler(tauri::generate_handler![login_item_get, login_item_set])
        .setup(move |app| {
            tracing::debug!(
                ms = t0.elapsed().as_millis() as u64,
                "window host: Tauri set up"
            );
            app.manage(HostState {
                hello,
                done: AtomicU64::new(0),
                panel_shown: AtomicBool::new(false),
                panel_focused: AtomicBool::new(false),
                panel_loading: AtomicBool::new(false),
                panel_turns: AtomicU64::new(0),
                out: Mutex::new(std::io::stdout()),
            });
            let handle = app.handle().clone();
            std::thread::Builder::new()
                .name("orders".into())
                .spawn(move || read_orders(handle))?;
            Ok(())
        })
        .build(crate::context());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("paios-app: the window host cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    app.run(|_app, event| {
        // Closing the last window does not end the host: the app decides when it goes.
        if let RunEvent::ExitRequested { api, code, .. } = event
            && code.is_none()
        {
            api.prevent_exit();
        }
    });
    ExitCode::SUCCESS
}

/// Linux: the panel and the other windows are small pages of text and tables, so WebKit draws
/// them without accelerated compositing (`WEBKIT_DISABLE_COMPOSITING_MODE=1`, unless the user
/// set that variable): a fresh window host then shows its first page sooner (measured on Xvfb
/// with Mesa's llvmpipe, 8 cold reopens each: p50 about 240 ms instead of 285 ms, max 299
/// instead of 410), and GTK's GL is off here too (`GDK_GL=disable`, passed on by the app).
/// WebKitGTK still opens an EGL display in its processes; only the compositor's GL is skipped.
///
/// Call before GTK starts and before any thread exists (the WebKit processes inherit it).
#[cfg(target_os = "linux")]
fn draw_on_the_cpu() {
    const VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    if std::env::var_os(VAR).is_none() {
        // SAFETY: called at the start of the window host's `main`, while it has one thread.
        unsafe { std::env::set_var(VAR, "1") };
    }
}

fn read_orders(app: AppHandle) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let order: Order = match serde_json::from_str(&line) {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "window host: ignoring a bad order");
                continue;
            }
        };
        let app2 = app.clone();
        tracing::debug!(seq = order.seq, "window host: order read");
        let ran = app.run_on_main_thread(move || {
            tracing::debug!(seq = order.seq, "window host: order run");
            carry_out(&app2, order.cmd);
            let state = app2.state::<HostState>();
            state.done.store(order.seq, Ordering::SeqCst);
            report_visible(&app2, None);
        });
        if ran.is_err() {
            break;
        }
    }
    // The app closed our stdin (or died): go.
    app.exit(0);
}

fn carry_out(app: &AppHandle, cmd: Command) {
    match cmd {
        Command::ShowPanel { under } => show_panel(app, under),
        Command::HidePanel => hide_panel(app),
        Command::TogglePanel { under } => {
            if app.state::<HostState>().panel_shown.load(Ordering::SeqCst) {
                hide_panel(app);
            } else {
                show_panel(app, under);
            }
        }
        Command::Settings => show_settings(app),
        Command::Popup { id } => show_approval_popup(app, &id),
        Command::ClosePopup { id } => close_approval_popup(app, &id),
        Command::Eval {
            window,
            script,
            out,
        } => match app.get_webview_window(&window) {
            Some(w) => crate::debug::eval_to_file(&w, &script, out),
            None => tracing::warn!(window, "eval: no such window"),
        },
    }
}

fn send(app: &AppHandle, report: &Report) {
    let state = app.state::<HostState>();
    let line = serde_json::to_string(report).expect("reports serialize");
    let mut out = state.out.lock().unwrap();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        // The app is gone; its closed pipe will end the order reader too.
        tracing::debug!("window host: cannot report");
    }
}

/// Tell the app how many windows are visible (`closing`: a window being destroyed right now).
fn report_visible(app: &AppHandle, closing: Option<&str>) {
    let state = app.state::<HostState>();
    let others = app
        .webview_windows()
        .keys()
        .filter(|label| label.as_str() != PANEL && Some(label.as_str()) != closing)
        .count();
    let panel = usize::from(state.panel_shown.load(Ordering::SeqCst));
    send(
        app,
        &Report::Visible {
            seq: state.done.load(Ordering::SeqCst),
            windows: panel + others,
        },
    );
}

/// Windows other than the panel are destroyed when closed: count them down.
fn on_destroyed(window: &WebviewWindow) {
    let app = window.app_handle().clone();
    let label = window.label().to_string();
    window.on_window_event(move |event| {
        if let WindowEvent::Destroyed = event {
            report_visible(&app, Some(&label));
        }
    });
}

fn url(app: &AppHandle, page: &str) -> Option<WebviewUrl> {
    let hello = &app.state::<HostState>().hello;
    let href = format!("{}/{}#token={}", hello.base, page, hello.token);
    match href.parse() {
        Ok(u) => Some(WebviewUrl::External(u)),
        Err(e) => {
            tracing::error!(error = %e, "bad panel URL");
            None
        }
    }
}

fn show_panel(app: &AppHandle, under: Option<Anchor>) {
    let state = app.state::<HostState>();
    state.panel_shown.store(true, Ordering::SeqCst);
    state.panel_turns.fetch_add(1, Ordering::SeqCst);
    state.panel_focused.store(false, Ordering::SeqCst);
    if let Some(window) = app.get_webview_window(PANEL) {
        place(&window, under);
        let _ = window.show();
        let _ = window.set_focus();
        if !state.panel_loading.load(Ordering::SeqCst) {
            send(app, &Report::PanelShown);
        }
        return;
    }
    let Some(url) = url(app, "") else { return };
    state.panel_loading.store(true, Ordering::SeqCst);
    let built = WebviewWindowBuilder::new(app, PANEL, url)
        .title("PAIOS")
        .inner_size(PANEL_SIZE.0, PANEL_SIZE.1)
        .min_inner_size(420.0, 300.0)
        .decorations(false)
        .skip_taskbar(true)
        .always_on_top(true)
        .focused(true)
        .visible(false)
        .on_page_load(|window, payload| {
            tracing::debug!(event = ?payload.event(), "window host: panel page");
            if payload.event() == PageLoadEvent::Finished {
                let app = window.app_handle();
                let state = app.state::<HostState>();
                if state.panel_loading.swap(false, Ordering::SeqCst) {
                    send(app, &Report::PanelLoaded);
                }
                if let Some(path) = &state.hello.dump_panel_text {
                    crate::debug::dump_text_later(window.clone(), path.clone());
                }
            }
        })
        .build();
    tracing::debug!("window host: panel web view built");
    match built {
        Ok(window) => {
            place(&window, under);
            let _ = window.show();
            let _ = window.set_focus();
            let app = app.clone();
            window.on_window_event(move |event| {
                let state = app.state::<HostState>();
                match event {
                    WindowEvent::Focused(true) => state.panel_focused.store(true, Ordering::SeqCst),
                    WindowEvent::Focused(false) => {
                        let had_focus = state.panel_focused.load(Ordering::SeqCst);
                        if had_focus && !state.hello.keep_panel_on_blur {
                            hide_panel(&app);
                            report_visible(&app, None);
                        }
                    }
                    WindowEvent::CloseRequested { api, .. } => {
                        // Closing the panel only hides it; the app lives in the tray.
                        api.prevent_close();
                        hide_panel(&app);
                        report_visible(&app, None);
                    }
                    _ => {}
                }
            });
        }
        Err(e) => {
            state.panel_shown.store(false, Ordering::SeqCst);
            state.panel_loading.store(false, Ordering::SeqCst);
            tracing::error!(error = %e, "cannot open the panel window");
        }
    }
}

const PANEL_SIZE: (f64, f64) = (760.0, 600.0);

/// Under the tray icon where the platform reports its position (after a tray click, passed on
/// by the app), else the top-right corner of the screen — computed from the panel's configured
/// size, because an unmapped window reports no size yet.
fn place(window: &WebviewWindow, under: Option<Anchor>) {
    if let Some(a) = under {
        let app = window.app_handle();
        let event = tauri::tray::TrayIconEvent::Enter {
            id: crate::tray::TRAY_ID.into(),
            position: tauri::PhysicalPosition::new(a.x, a.y),
            rect: tauri::Rect {
                position: tauri::PhysicalPosition::new(a.x, a.y).into(),
                size: tauri::PhysicalSize::new(a.width, a.height).into(),
            },
        };
        tauri_plugin_positioner::on_tray_event(app, &event);
        if window
            .move_window_constrained(Position::TrayBottomCenter)
            .is_ok()
        {
            return;
        }
    }
    top_right(window, PANEL_SIZE.0);
}

fn top_right(window: &WebviewWindow, logical_width: f64) {
    let Ok(Some(monitor)) = window
        .current_monitor()
        .or_else(|_| window.primary_monitor())
    else {
        return;
    };
    let scale = monitor.scale_factor();
    let (width, margin) = ((logical_width * scale) as i32, (8.0 * scale) as i32);
    let origin = monitor.position();
    let size = monitor.size();
    let x = origin.x + size.width as i32 - width - margin;
    let y = origin.y + (32.0 * scale) as i32;
    let _ = window.set_position(tauri::PhysicalPosition::new(x.max(origin.x), y));
}

/// Where notifications usually appear, so a popup does not cover the panel.
fn bottom_right(window: &WebviewWindow, logical_size: (f64, f64)) {
    let Ok(Some(monitor)) = window
        .current_monitor()
        .or_else(|_| window.primary_monitor())
    else {
        return;
    };
    let scale = monitor.scale_factor();
    let (origin, size) = (monitor.position(), monitor.size());
    let margin = (16.0 * scale) as i32;
    let x = origin.x + size.width as i32 - (logical_size.0 * scale) as i32 - margin;
    let y = origin.y + size.height as i32 - (logical_size.1 * scale) as i32 - margin;
    let _ = window.set_position(tauri::PhysicalPosition::new(
        x.max(origin.x),
        y.max(origin.y),
    ));
}

/// Hide the panel, and release its web view if it stays hidden for the keep period while this
/// host lives on for another window (settings, a popup): otherwise the hidden panel's web
/// process would last as long as that window.
fn hide_panel(app: &AppHandle) {
    let state = app.state::<HostState>();
    state.panel_shown.store(false, Ordering::SeqCst);
    let turn = state.panel_turns.fetch_add(1, Ordering::SeqCst) + 1;
    let Some(window) = app.get_webview_window(PANEL) else {
        return;
    };
    let _ = window.hide();
    tracing::info!("panel hidden");
    let app = app.clone();
    let keep = crate::host::keep();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(keep).await;
        let app2 = app.clone();
        let _ = app.run_on_main_thread(move || {
            let state = app2.state::<HostState>();
            if state.panel_turns.load(Ordering::SeqCst) != turn {
                return;
            }
            if let Some(window) = app2.get_webview_window(PANEL) {
                state.panel_loading.store(false, Ordering::SeqCst);
                let _ = window.destroy();
                tracing::info!("hidden panel released (another window keeps the host)");
            }
        });
    });
}

fn show_settings(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(SETTINGS) {
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let Some(url) = url(app, "settings.html") else {
        return;
    };
    match WebviewWindowBuilder::new(app, SETTINGS, url)
        .title("PAIOS settings")
        .inner_size(860.0, 720.0)
        .build()
    {
        Ok(window) => on_destroyed(&window),
        Err(e) => tracing::error!(error = %e, "cannot open the settings window"),
    }
}

/// A small always-on-top window for one approval request.
fn show_approval_popup(app: &AppHandle, id: &str) {
    let label = format!("{POPUP_PREFIX}{}", sanitize(id));
    if let Some(window) = app.get_webview_window(&label) {
        let _ = window.set_focus();
        return;
    }
    let page = format!("approval.html?id={}", urlencode(id));
    let Some(url) = url(app, &page) else { return };
    let built = WebviewWindowBuilder::new(app, &label, url)
        .title("PAIOS: approval needed")
        .inner_size(480.0, 300.0)
        .always_on_top(true)
        .focused(true)
        .skip_taskbar(false)
        .build();
    match built {
        Ok(window) => {
            bottom_right(&window, (480.0, 300.0));
            on_destroyed(&window);
        }
        Err(e) => tracing::error!(error = %e, "cannot open the approval popup"),
    }
}

/// The request was answered (here, in the panel, from the CLI or by timeout): drop its popup.
fn close_approval_popup(app: &AppHandle, id: &str) {
    let label = format!("{POPUP_PREFIX}{}", sanitize(id));
    if let Some(window) = app.get_webview_window(&label) {
        let _ = window.destroy();
    }
}

/// Settings page: is the login item on?
#[tauri::command]
fn login_item_get(app: AppHandle) -> bool {
    crate::login_item_enabled(&app)
}

/// Settings page: turn the login item on or off; answers the new state (and tells the app, so
/// the tray menu's check mark follows).
#[tauri::command]
fn login_item_set(app: AppHandle, enabled: bool) -> Result<bool, String> {
    let now = crate::set_login_item(&app, enabled)?;
    tracing::info!(enabled = now, "login item changed");
    send(&app, &Report::LoginItem { enabled: now });
    Ok(now)
}

/// Window labels allow only `a-zA-Z0-9-/:_`.
fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popup_labels_and_urls_are_safe() {
        assert_eq!(sanitize("01J-abc/../x"), "01J_abc____x");
        assert_eq!(urlencode("a b&c"), "a%20b%26c");
    }
}
