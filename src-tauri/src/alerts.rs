//! Desktop notifications for `alert.raised`, with the runbook to follow; one per incident.
//!
//! De-duplication: an alert with the same subject and message is shown once until it is
//! resolved (`alert.resolved` for that subject) or an hour has passed. Respects
//! `[alerts] desktop = false`. Notification failures are silent on Linux, so the app checks
//! once for a notification service and logs a warning when there is none.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

use crate::AppState;
use crate::backend::Mode;

const REPEAT_AFTER: Duration = Duration::from_secs(3600);

#[derive(Default)]
pub struct Alerts {
    shown: HashMap<String, (String, Instant)>,
}

impl Alerts {
    /// Decide whether `event` deserves a notification now; returns (title, body) if so.
    fn admit(&mut self, event: &Value, now: Instant) -> Option<(String, String)> {
        let subject = event["subject"].as_str().unwrap_or("paios").to_string();
        let data = &event["data"];
        let message = data["message"].as_str().unwrap_or("an alert was raised");
        let key = format!("{subject}\u{1f}{message}");
        if let Some((_, at)) = self.shown.get(&key)
            && now.duration_since(*at) < REPEAT_AFTER
        {
            return None;
        }
        self.shown.insert(key, (subject.clone(), now));
        let severity = data["severity"].as_str().unwrap_or("alert");
        let mut body = message.to_string();
        if let Some(runbook) = data["runbook"].as_str().filter(|r| !r.is_empty()) {
            if runbook.starts_with("http://") || runbook.starts_with("https://") {
                body.push_str(&format!("\nRunbook: {runbook}"));
            } else {
                body.push_str(&format!("\nRunbook: paios runbook {runbook}"));
            }
        }
        Some((format!("PAIOS {severity}: {subject}"), body))
    }

    pub fn raised(&mut self, app: &AppHandle, event: &Value) {
        if !desktop_enabled(app) {
            return;
        }
        if let Some((title, body)) = self.admit(event, Instant::now()) {
            notify(app, &title, &body);
        }
    }

    pub fn resolved(&mut self, event: &Value) {
        let subject = event["subject"].as_str().unwrap_or("paios");
        self.shown.retain(|_, (s, _)| s != subject);
    }
}

fn desktop_enabled(app: &AppHandle) -> bool {
    let state = app.state::<AppState>();
    match &state.backend.mode {
        Mode::Hosted(core) => core.config().alerts.desktop,
        Mode::Attached { .. } => {
            paios_core::config::Config::load(&state.backend.paths.config_file())
                .map(|c| c.alerts.desktop)
                .unwrap_or(true)
        }
    }
}

pub fn notify(app: &AppHandle, title: &str, body: &str) {
    tracing::info!(title, body, "notification");
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(error = %e, "cannot show a notification");
    }
}

/// Warn once when no notification service is on the session bus (notifications would vanish).
pub fn check_notification_service() {
    #[cfg(target_os = "linux")]
    {
        let present = std::process::Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.Notifications",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
            .unwrap_or(false);
        if !present {
            tracing::warn!(
                "no desktop notification service on the session bus: alerts show only in the panel and tray"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_notification_per_incident_until_resolved() {
        let mut alerts = Alerts::default();
        let t0 = Instant::now();
        let ev = json!({"kind":"alert.raised","subject":"gw","data":{"severity":"critical","message":"exited 78","runbook":"openclaw-gateway"}});
        let (title, body) = alerts.admit(&ev, t0).unwrap();
        assert_eq!(title, "PAIOS critical: gw");
        assert_eq!(body, "exited 78\nRunbook: paios runbook openclaw-gateway");
        assert!(alerts.admit(&ev, t0 + Duration::from_secs(5)).is_none());
        alerts.resolved(&json!({"kind":"alert.resolved","subject":"gw"}));
        assert!(alerts.admit(&ev, t0 + Duration::from_secs(6)).is_some());
        assert!(alerts.admit(&ev, t0 + REPEAT_AFTER * 2).is_some());
    }
}
