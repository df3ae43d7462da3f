//! Desktop notifications through Tauri's notification plugin.
//!
//! Alerts are the core's: when the app hosts the core it hands the core an [`AppNotifier`], and
//! the core's alerts module decides what to show (one notification per incident, and one per
//! escalation). When the app is attached to a daemon, the daemon shows them. The app never
//! notifies an alert by itself, so an alert is never shown twice. Notification failures are
//! silent on Linux, so the app checks once for a notification service and logs a warning.

use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;

/// The core's notifier when the app hosts the core: notifications come from the app.
pub struct AppNotifier(pub AppHandle);

impl paios_core::alerts::Notifier for AppNotifier {
    fn notify(&self, title: &str, body: &str) {
        notify(&self.0, title, body);
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
