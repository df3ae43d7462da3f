//! The tray icon: colour by overall health, pending approvals in the title, a one-line tooltip,
//! and a menu with each service's state, the mesh (each broken link with its reason) and the
//! app's actions.
//!
//! The health — each service's tone, the overall tone, the summary — is the core's
//! (`paios_core::status`, served in `/api/status`); the tray only draws it, as the panel does.
//! Where no tray host exists (no StatusNotifier watcher on Linux) creating the icon still
//! succeeds or fails softly: the app logs a warning and stays usable through the panel.

use serde_json::Value;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Wry};

use crate::feed::Snapshot;

pub const TRAY_ID: &str = "paios";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Warn,
    Down,
    Unknown,
}

fn tone_of(value: &Value) -> Tone {
    match value.as_str() {
        Some("ok") => Tone::Ok,
        Some("warn") => Tone::Warn,
        Some("down") => Tone::Down,
        _ => Tone::Unknown,
    }
}

fn mark(tone: Tone) -> &'static str {
    match tone {
        Tone::Ok => "●",
        Tone::Warn => "◐",
        Tone::Down => "✖",
        Tone::Unknown => "○",
    }
}

/// The most links the menu names one by one; the panel lists them all.
const MESH_LINES: usize = 5;

/// The mesh's lines in the menu: its summary, then each broken link or failing server with
/// its reason (as the core judged them: `health.mesh`). Empty for a daemon that does not
/// report the mesh.
pub fn mesh_lines(snapshot: &Snapshot) -> Vec<String> {
    let mesh = &snapshot.health["mesh"];
    let Some(summary) = mesh["summary"].as_str() else {
        return Vec::new();
    };
    let mut lines = vec![format!("{} Mesh — {summary}", mark(tone_of(&mesh["tone"])))];
    let broken = ["links", "servers"]
        .iter()
        .filter_map(|k| mesh[k].as_array())
        .flatten()
        .filter(|l| l["tone"] == "down");
    for line in broken.take(MESH_LINES) {
        let reason = line["reason"].as_str().unwrap_or("failed");
        let reason: String = if reason.chars().count() > 60 {
            reason.chars().take(59).chain(['…']).collect()
        } else {
            reason.to_string()
        };
        lines.push(format!(
            "    ✖ {} → {} — {reason}",
            line["from"].as_str().unwrap_or("?"),
            line["to"].as_str().unwrap_or("?")
        ));
    }
    lines
}

/// The tone of one service, as the core judged it.
fn service_tone(snapshot: &Snapshot, name: &str) -> Tone {
    snapshot.health["services"]
        .as_array()
        .and_then(|lines| lines.iter().find(|l| l["name"] == name))
        .map_or(Tone::Unknown, |l| tone_of(&l["tone"]))
}

/// The overall tone, as the core judged it (grey when the daemon is not reachable).
pub fn overall(snapshot: &Snapshot) -> Tone {
    if !snapshot.reachable {
        return Tone::Unknown;
    }
    tone_of(&snapshot.health["tone"])
}

fn icon(tone: Tone) -> Image<'static> {
    let bytes: &'static [u8] = match tone {
        Tone::Ok => include_bytes!("../../icons/tray-green.png"),
        Tone::Warn => include_bytes!("../../icons/tray-amber.png"),
        Tone::Down => include_bytes!("../../icons/tray-red.png"),
        Tone::Unknown => include_bytes!("../../icons/tray-grey.png"),
    };
    Image::from_bytes(bytes).expect("the tray icons are valid PNGs")
}

/// One line: "PAIOS: all 3 services running · 1 approval waiting".
pub fn summary(snapshot: &Snapshot) -> String {
    if !snapshot.reachable {
        return "PAIOS: the daemon is not reachable".into();
    }
    match snapshot.health["summary"].as_str() {
        Some(line) => format!("PAIOS: {line}"),
        None => "PAIOS: this daemon does not report its health".into(),
    }
}

fn menu(app: &AppHandle, snapshot: &Snapshot, login_item: bool) -> tauri::Result<Menu<Wry>> {
    let menu = Menu::new(app)?;
    if snapshot.services.is_empty() {
        menu.append(&MenuItem::with_id(
            app,
            "svc:none",
            if snapshot.reachable {
                "No supervised services"
            } else {
                "Daemon not reachable"
            },
            false,
            None::<&str>,
        )?)?;
    }
    for service in &snapshot.services {
        let name = service["name"].as_str().unwrap_or("?");
        let state = service["state"].as_str().unwrap_or("?");
        let mark = mark(service_tone(snapshot, name));
        menu.append(&MenuItem::with_id(
            app,
            format!("svc:{name}"),
            format!("{mark} {name} — {state}"),
            false,
            None::<&str>,
        )?)?;
    }
    for (i, line) in mesh_lines(snapshot).into_iter().enumerate() {
        menu.append(&MenuItem::with_id(
            app,
            format!("mesh:{i}"),
            line,
            false,
            None::<&str>,
        )?)?;
    }
    if !snapshot.pending.is_empty() {
        menu.append(&MenuItem::with_id(
            app,
            "approvals",
            format!("{} waiting for approval…", snapshot.pending.len()),
            true,
            None::<&str>,
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "open",
        "Open panel",
        true,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(
        app,
        "pause",
        "Pause autonomy",
        true,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(
        app,
        "settings",
        "Settings…",
        true,
        None::<&str>,
    )?)?;
    menu.append(&CheckMenuItem::with_id(
        app,
        "login",
        "Start at login",
        true,
        login_item,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?)?;
    Ok(menu)
}

/// Create the tray icon. `Ok(None)` (with a warning logged) where the desktop has no tray.
pub fn create(app: &AppHandle) -> Option<TrayIcon> {
    let snapshot = Snapshot::default();
    let built = menu(app, &snapshot, crate::login_item_enabled(app)).and_then(|menu| {
        TrayIconBuilder::with_id(TRAY_ID)
            .icon(icon(Tone::Unknown))
            .tooltip("PAIOS: starting")
            .menu(&menu)
            .show_menu_on_left_click(false)
            .on_menu_event(|app, event| crate::on_menu(app, event.id().as_ref()))
            .on_tray_icon_event(|tray, event| {
                if let TrayIconEvent::Click {
                    button: MouseButton::Left,
                    button_state: MouseButtonState::Up,
                    rect,
                    ..
                } = event
                {
                    let under = Some(crate::anchor(&rect));
                    crate::window(
                        tray.app_handle(),
                        crate::host::Command::TogglePanel { under },
                    );
                }
            })
            .build(app)
    });
    match built {
        Ok(tray) => {
            if !tray_host_present() {
                tracing::warn!(
                    "no system tray host found on this desktop: the tray icon will not be visible; use the panel (paios-app --show-panel) or the browser"
                );
            }
            Some(tray)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot create the tray icon; continuing without it");
            None
        }
    }
}

/// Redraw the tray from a snapshot, on the main thread, without waiting for it. Each tray call
/// made elsewhere blocks until the main thread has run it; a task blocked so holds a runtime
/// worker and the core, and deadlocks against a main thread that is stopping the core on Quit
/// (seen: a redraw queued as SIGTERM arrived hung the app).
pub fn update(app: &AppHandle, snapshot: &Snapshot) {
    let (handle, snapshot) = (app.clone(), snapshot.clone());
    if let Err(e) = app.run_on_main_thread(move || redraw(&handle, &snapshot)) {
        tracing::debug!(error = %e, "tray not redrawn (the app is stopping)");
    }
}

fn redraw(app: &AppHandle, snapshot: &Snapshot) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let tone = overall(snapshot);
    let line = summary(snapshot);
    let pending = snapshot.pending.len();
    let result = (|| -> tauri::Result<()> {
        tray.set_icon(Some(icon(tone)))?;
        tray.set_tooltip(Some(&line))?;
        tray.set_title((pending > 0).then(|| pending.to_string()))?;
        tray.set_menu(Some(menu(app, snapshot, crate::login_item_enabled(app))?))?;
        Ok(())
    })();
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot update the tray icon");
    }
    tracing::debug!(?tone, summary = %line, "tray updated");
}

/// Linux: a StatusNotifier host registers `org.kde.StatusNotifierWatcher` on the session bus;
/// without one (and without a legacy XEmbed tray) the icon exists but nobody draws it.
#[cfg(target_os = "linux")]
fn tray_host_present() -> bool {
    let Ok(address) = std::env::var("DBUS_SESSION_BUS_ADDRESS") else {
        return false;
    };
    if address.is_empty() {
        return false;
    }
    std::process::Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.kde.StatusNotifierWatcher",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
        .unwrap_or(false)
}

#[cfg(not(target_os = "linux"))]
fn tray_host_present() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snap(health: Value) -> Snapshot {
        Snapshot {
            services: vec![
                json!({"name":"a","state":"running"}),
                json!({"name":"b","state":"hung"}),
            ],
            health,
            pending: Vec::new(),
            reachable: true,
        }
    }

    #[test]
    fn health_colours() {
        let s = snap(
            json!({"tone":"down","services":[{"name":"a","tone":"ok"},{"name":"b","tone":"down"}]}),
        );
        assert_eq!(overall(&s), Tone::Down);
        assert_eq!(service_tone(&s, "a"), Tone::Ok);
        assert_eq!(service_tone(&s, "b"), Tone::Down);
        assert_eq!(service_tone(&s, "c"), Tone::Unknown);
        assert_eq!(overall(&snap(json!({"tone":"warn"}))), Tone::Warn);
        assert_eq!(overall(&snap(json!({"tone":"idle"}))), Tone::Unknown);
        assert_eq!(overall(&Snapshot::default()), Tone::Unknown);
    }

    #[test]
    fn summary_line() {
        let s = snap(json!({"summary":"1 of 2 services running · 2 approvals waiting"}));
        assert_eq!(
            summary(&s),
            "PAIOS: 1 of 2 services running · 2 approvals waiting"
        );
        assert_eq!(
            summary(&Snapshot::default()),
            "PAIOS: the daemon is not reachable"
        );
    }

    #[test]
    fn the_mesh_summary_and_each_broken_link_with_its_reason() {
        let s = snap(json!({"mesh": {
            "tone": "warn",
            "summary": "1 of 3 links broken",
            "links": [
                {"from": "claude", "to": "paios", "tone": "ok", "reason": null},
                {"from": "codex", "to": "claude", "tone": "down", "reason": "exited before answering"}
            ],
            "servers": [{"from": "claude", "to": "web", "tone": "idle", "reason": "not probed"}]
        }}));
        assert_eq!(
            mesh_lines(&s),
            [
                "◐ Mesh — 1 of 3 links broken",
                "    ✖ codex → claude — exited before answering"
            ]
        );
        assert!(
            mesh_lines(&snap(json!({}))).is_empty(),
            "an older daemon: no mesh lines"
        );
    }
}
