//! The app's windows, all showing pages the daemon serves from `ui/` (so the app and a browser
//! show the same UI): the panel (a small window under the tray icon that hides when it loses
//! focus), the settings window, and one always-on-top popup per approval request.
//!
//! Memory: a hidden panel keeps its WebKit content process alive, so after it has been hidden
//! for [`panel_keep`] it is destroyed; showing it again builds a new one (loopback, fast).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tauri::webview::PageLoadEvent;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent};
use tauri_plugin_positioner::{Position, WindowExt};

use crate::AppState;

pub const PANEL: &str = "panel";
pub const SETTINGS: &str = "settings";
const POPUP_PREFIX: &str = "approval-";

/// Book-keeping for the panel window.
#[derive(Default)]
pub struct PanelState {
    /// Bumped on every show/hide, so a pending "destroy" can tell it is stale.
    generation: AtomicU64,
    /// Set once the panel had focus since it was shown (only then does blur hide it).
    focused: AtomicBool,
    /// When the last show was requested (to report how long opening took).
    show_requested: Mutex<Option<Instant>>,
}

/// How long a hidden panel keeps its web view (`PAIOS_APP_PANEL_KEEP_S`, default 20 s).
pub fn panel_keep() -> Duration {
    std::env::var("PAIOS_APP_PANEL_KEEP_S")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(20))
}

fn url(app: &AppHandle, page: &str) -> Option<WebviewUrl> {
    let state = app.state::<AppState>();
    let href = state.backend.page_url(page);
    match href.parse() {
        Ok(u) => Some(WebviewUrl::External(u)),
        Err(e) => {
            tracing::error!(error = %e, "bad panel URL");
            None
        }
    }
}

pub fn toggle_panel(app: &AppHandle) {
    match app.get_webview_window(PANEL) {
        Some(w) if w.is_visible().unwrap_or(false) => hide_panel(app),
        _ => show_panel(app),
    }
}

pub fn show_panel(app: &AppHandle) {
    let state = app.state::<AppState>();
    let panel = &state.panel;
    panel.generation.fetch_add(1, Ordering::SeqCst);
    panel.focused.store(false, Ordering::SeqCst);
    let requested = Instant::now();
    *panel.show_requested.lock().unwrap() = Some(requested);
    if let Some(window) = app.get_webview_window(PANEL) {
        place(&window);
        let _ = window.show();
        let _ = window.set_focus();
        tracing::info!(
            ms = requested.elapsed().as_millis() as u64,
            "panel shown (kept web view)"
        );
        return;
    }
    let Some(url) = url(app, "") else { return };
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
            if payload.event() == PageLoadEvent::Finished {
                let app = window.app_handle();
                let state = app.state::<AppState>();
                if let Some(at) = state.panel.show_requested.lock().unwrap().take() {
                    tracing::info!(
                        ms = at.elapsed().as_millis() as u64,
                        "panel opened (new web view, page loaded)"
                    );
                }
                if let Some(path) = &state.options.dump_panel_text {
                    crate::debug::dump_text_later(window.clone(), path.clone());
                }
            }
        })
        .build();
    match built {
        Ok(window) => {
            place(&window);
            let _ = window.show();
            let _ = window.set_focus();
            let app = app.clone();
            window.on_window_event(move |event| match event {
                WindowEvent::Focused(true) => {
                    app.state::<AppState>()
                        .panel
                        .focused
                        .store(true, Ordering::SeqCst);
                }
                WindowEvent::Focused(false) => {
                    let had_focus = app.state::<AppState>().panel.focused.load(Ordering::SeqCst);
                    if had_focus && !app.state::<AppState>().options.keep_panel_on_blur {
                        hide_panel(&app);
                    }
                }
                WindowEvent::CloseRequested { api, .. } => {
                    // Closing the panel only hides it; the app lives in the tray.
                    api.prevent_close();
                    hide_panel(&app);
                }
                _ => {}
            });
        }
        Err(e) => tracing::error!(error = %e, "cannot open the panel window"),
    }
}

const PANEL_SIZE: (f64, f64) = (760.0, 600.0);

/// Under the tray icon where the platform reports its position (after a tray click), else the
/// top-right corner of the screen — computed from the panel's configured size, because an
/// unmapped window reports no size yet.
fn place(window: &WebviewWindow) {
    if window
        .move_window_constrained(Position::TrayBottomCenter)
        .is_ok()
    {
        return;
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

pub fn hide_panel(app: &AppHandle) {
    let Some(window) = app.get_webview_window(PANEL) else {
        return;
    };
    let _ = window.hide();
    let state = app.state::<AppState>();
    let generation = state.panel.generation.fetch_add(1, Ordering::SeqCst) + 1;
    let keep = panel_keep();
    tracing::info!(keep_s = keep.as_secs_f64(), "panel hidden");
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(keep).await;
        let state = app.state::<AppState>();
        if state.panel.generation.load(Ordering::SeqCst) != generation {
            return; // shown (or hidden again) since
        }
        if let Some(window) = app.get_webview_window(PANEL) {
            if !window.is_visible().unwrap_or(true) {
                tracing::info!("panel hidden for a while: releasing its web view");
                let _ = window.destroy();
                release_freed_memory();
            }
        }
    });
}

/// Give the heap pages the destroyed web view freed back to the system (glibc keeps them).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tauri::async_runtime::spawn(async {
        // Let GTK finish tearing the window down first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        // SAFETY: malloc_trim only walks and trims glibc's own arenas.
        unsafe { libc::malloc_trim(0) };
    });
}

pub fn show_settings(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(SETTINGS) {
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let Some(url) = url(app, "settings.html") else {
        return;
    };
    if let Err(e) = WebviewWindowBuilder::new(app, SETTINGS, url)
        .title("PAIOS settings")
        .inner_size(860.0, 720.0)
        .build()
    {
        tracing::error!(error = %e, "cannot open the settings window");
    }
}

/// A small always-on-top window for one approval request.
pub fn show_approval_popup(app: &AppHandle, id: &str) {
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
        }
        Err(e) => tracing::error!(error = %e, "cannot open the approval popup"),
    }
}

/// The request was answered (here, in the panel, from the CLI or by timeout): drop its popup.
pub fn close_approval_popup(app: &AppHandle, id: &str) {
    let label = format!("{POPUP_PREFIX}{}", sanitize(id));
    if let Some(window) = app.get_webview_window(&label) {
        let _ = window.destroy();
    }
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
