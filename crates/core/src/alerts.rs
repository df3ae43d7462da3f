//! Alert fan-out: `alert.raised` / `alert.resolved` events, de-duplicated per incident; a desktop
//! notification where a notification service exists (else the log); every alert carries a
//! runbook id (`paios runbook ID`).
//!
//! An *incident* is one stretch of trouble of one component: the first alert opens it, later
//! alerts of the same or lower severity are folded into it (not re-raised), a more severe one is
//! raised again as an escalation of the same incident, and `resolve` closes it. Incidents are
//! views over the event log (no table of their own), so they survive restarts and
//! `paios incidents` works with the daemon down.
//!
//! This module never fails its caller: a notification that cannot be shown is logged.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::Core;
use crate::events::{Event, format_ts, kind};
use crate::store::{EventQuery, query_events};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Every kind of alert PAIOS raises. Each maps to a runbook (tested).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// A supervised service exited unexpectedly (it is being restarted).
    ServiceExited,
    /// Alive but failing its probe; killed and restarted.
    ServiceHung,
    /// Too many exits in the crash-loop window: no more restarts.
    ServiceCrashLoop,
    /// Exited with a "do not restart" code (OpenClaw 78: configuration error).
    ServiceConfigError,
    /// Its command could not be started at all.
    ServiceSpawnFailed,
    /// A copy adopted from outside PAIOS stopped answering.
    ServiceUnreachable,
}

impl AlertKind {
    pub const ALL: [AlertKind; 6] = [
        AlertKind::ServiceExited,
        AlertKind::ServiceHung,
        AlertKind::ServiceCrashLoop,
        AlertKind::ServiceConfigError,
        AlertKind::ServiceSpawnFailed,
        AlertKind::ServiceUnreachable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::ServiceExited => "service_exited",
            AlertKind::ServiceHung => "service_hung",
            AlertKind::ServiceCrashLoop => "service_crash_loop",
            AlertKind::ServiceConfigError => "service_config_error",
            AlertKind::ServiceSpawnFailed => "service_spawn_failed",
            AlertKind::ServiceUnreachable => "service_unreachable",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            AlertKind::ServiceExited | AlertKind::ServiceHung => Severity::Warning,
            _ => Severity::Critical,
        }
    }

    /// The runbook for this kind of alert about a component whose own runbook is
    /// `component_runbook`: configuration errors go to the configs runbook unless the component
    /// has its own (the gateway's covers its config).
    pub fn runbook(self, component_runbook: &str) -> String {
        match self {
            AlertKind::ServiceConfigError if component_runbook == "services" => "configs".into(),
            _ => component_runbook.to_string(),
        }
    }
}

/// One alert to raise.
#[derive(Debug, Clone)]
pub struct Alert {
    /// What is in trouble (a service name, `store`, a credential name, …).
    pub component: String,
    pub kind: AlertKind,
    pub severity: Severity,
    /// For people, with the component's own error text where there is one.
    pub message: String,
    pub runbook: String,
}

/// An incident as listed by `paios incidents --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: String,
    pub component: String,
    /// Same as `component` (service incidents are named after the service).
    pub service: String,
    pub kind: String,
    pub severity: String,
    pub message: String,
    pub runbook: String,
    pub raised_at: String,
    pub resolved_at: Option<String>,
    /// Alerts folded into this incident (1 = only the first).
    pub alerts: u32,
}

#[derive(Debug, Clone)]
struct Open {
    id: String,
    severity: Severity,
}

#[derive(Default)]
struct State {
    open: HashMap<String, Open>,
}

fn registry() -> &'static Mutex<HashMap<PathBuf, State>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, State>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Load the open incidents of this home from the event log (call once at start).
pub fn init(core: &Core) {
    let mut state = State::default();
    if let Ok(conn) = core.store().reader()
        && let Ok(incidents) = list_incidents(&conn, 10_000)
    {
        for i in incidents.into_iter().filter(|i| i.resolved_at.is_none()) {
            let severity = if i.severity == "critical" {
                Severity::Critical
            } else {
                Severity::Warning
            };
            state
                .open
                .insert(i.component.clone(), Open { id: i.id, severity });
        }
    }
    if let Ok(mut reg) = registry().lock() {
        reg.insert(core.paths().home().to_path_buf(), state);
    }
}

/// Raise an alert. Returns the incident id, and whether an `alert.raised` event was emitted
/// (false when it was folded into an open incident of the same or higher severity).
pub async fn raise(core: &Core, alert: Alert) -> (String, bool) {
    let home = core.paths().home().to_path_buf();
    let (id, emit, escalated) = {
        let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
        let state = reg.entry(home).or_default();
        match state.open.get_mut(&alert.component) {
            Some(open) if open.severity >= alert.severity => (open.id.clone(), false, false),
            Some(open) => {
                open.severity = alert.severity;
                (open.id.clone(), true, true)
            }
            None => {
                let id = format!("inc-{}", uuid::Uuid::now_v7().simple());
                state.open.insert(
                    alert.component.clone(),
                    Open {
                        id: id.clone(),
                        severity: alert.severity,
                    },
                );
                (id, true, false)
            }
        }
    };
    if emit {
        core.emit(
            Event::new(kind::ALERT_RAISED, "alerts")
                .subject(alert.component.clone())
                .data(json!({
                    "incident": id,
                    "alert": alert.kind.as_str(),
                    "severity": alert.severity.as_str(),
                    "message": alert.message,
                    "runbook": alert.runbook,
                    "escalated": escalated,
                })),
        )
        .await;
        tracing::warn!(
            component = %alert.component,
            severity = alert.severity.as_str(),
            runbook = %alert.runbook,
            "ALERT: {}",
            alert.message
        );
        if core.config().alerts.desktop {
            notify_desktop(
                format!("PAIOS: {} ({})", alert.component, alert.severity.as_str()),
                format!(
                    "{}\nRunbook: paios runbook {}",
                    alert.message, alert.runbook
                ),
            );
        }
    }
    (id, emit)
}

/// Close the open incident of `component`, if any. Returns whether one was closed.
pub async fn resolve(core: &Core, component: &str, message: &str) -> bool {
    let open = {
        let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
        reg.get_mut(core.paths().home())
            .and_then(|s| s.open.remove(component))
    };
    let Some(open) = open else { return false };
    core.emit(
        Event::new(kind::ALERT_RESOLVED, "alerts")
            .subject(component.to_string())
            .data(json!({"incident": open.id, "message": message})),
    )
    .await;
    true
}

/// Whether `component` has an open incident.
pub fn is_open(core: &Core, component: &str) -> bool {
    let reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    reg.get(core.paths().home())
        .is_some_and(|s| s.open.contains_key(component))
}

/// Forget this home's state (the core stopped).
pub fn forget(core: &Core) {
    if let Ok(mut reg) = registry().lock() {
        reg.remove(core.paths().home());
    }
}

/// Open incidents first (newest first), then the most recent resolved ones, `limit` in all.
pub fn list_incidents(
    conn: &rusqlite::Connection,
    limit: usize,
) -> Result<Vec<Incident>, rusqlite::Error> {
    let events = query_events(
        conn,
        &EventQuery {
            kind_prefix: Some("alert.".into()),
            limit: 100_000,
            ..Default::default()
        },
    )?;
    Ok(fold_incidents(&events, limit))
}

/// Build incidents from `alert.*` events (oldest first). Pure; tolerates any event data.
pub fn fold_incidents(events: &[Event], limit: usize) -> Vec<Incident> {
    let mut by_id: HashMap<String, Incident> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for ev in events {
        let Some(id) = ev.data.get("incident").and_then(Value::as_str) else {
            continue;
        };
        let text = |k: &str| {
            ev.data
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        match ev.kind.as_str() {
            kind::ALERT_RAISED => {
                if let Some(inc) = by_id.get_mut(id) {
                    inc.alerts += 1;
                    inc.severity = text("severity");
                    inc.message = text("message");
                    inc.kind = text("alert");
                    inc.runbook = text("runbook");
                } else {
                    order.push(id.to_string());
                    by_id.insert(
                        id.to_string(),
                        Incident {
                            id: id.to_string(),
                            component: ev.subject.clone(),
                            service: ev.subject.clone(),
                            kind: text("alert"),
                            severity: text("severity"),
                            message: text("message"),
                            runbook: text("runbook"),
                            raised_at: format_ts(&ev.ts),
                            resolved_at: None,
                            alerts: 1,
                        },
                    );
                }
            }
            kind::ALERT_RESOLVED => {
                if let Some(inc) = by_id.get_mut(id) {
                    inc.resolved_at = Some(format_ts(&ev.ts));
                }
            }
            _ => {}
        }
    }
    let mut open: Vec<Incident> = Vec::new();
    let mut closed: Vec<Incident> = Vec::new();
    for id in order.iter().rev() {
        if let Some(inc) = by_id.remove(id) {
            if inc.resolved_at.is_none() {
                open.push(inc);
            } else {
                closed.push(inc);
            }
        }
    }
    open.extend(closed);
    open.truncate(limit);
    open
}

/// Show a desktop notification on a background thread; never fails, never blocks the caller.
pub fn notify_desktop(summary: String, body: String) {
    #[cfg(all(unix, not(target_os = "macos")))]
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        tracing::info!(%summary, "no session bus: alert not shown on the desktop");
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("paios-notify".into())
        .spawn(move || {
            #[cfg(all(unix, not(target_os = "macos")))]
            if let Err(e) = notify_rust::get_server_information() {
                tracing::info!(%summary, error = %e, "no notification service: alert not shown on the desktop");
                return;
            }
            if let Err(e) = notify_rust::Notification::new()
                .summary(&summary)
                .body(&body)
                .appname("PAIOS")
                .show()
            {
                tracing::info!(%summary, error = %e, "desktop notification failed");
            }
        });
    if let Err(e) = spawned {
        tracing::info!(error = %e, "cannot start the notification thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, subject: &str, data: Value) -> Event {
        Event::new(kind, "alerts").subject(subject).data(data)
    }

    #[test]
    fn incidents_fold_raises_and_resolutions() {
        let events = vec![
            ev(
                kind::ALERT_RAISED,
                "gw",
                json!({"incident": "a", "severity": "warning", "message": "exited", "runbook": "openclaw-gateway", "alert": "service_exited"}),
            ),
            ev(
                kind::ALERT_RAISED,
                "gw",
                json!({"incident": "a", "severity": "critical", "message": "crash loop", "runbook": "openclaw-gateway", "alert": "service_crash_loop"}),
            ),
            ev(
                kind::ALERT_RAISED,
                "mcp",
                json!({"incident": "b", "severity": "warning", "message": "hung", "runbook": "mcp-servers"}),
            ),
            ev(kind::ALERT_RESOLVED, "mcp", json!({"incident": "b"})),
            ev(kind::ALERT_RESOLVED, "x", json!({"incident": "unknown"})),
            ev(kind::ALERT_RAISED, "junk", json!("not an object")),
        ];
        let incidents = fold_incidents(&events, 10);
        assert_eq!(incidents.len(), 2);
        assert_eq!(incidents[0].id, "a");
        assert_eq!(incidents[0].severity, "critical");
        assert_eq!(incidents[0].alerts, 2);
        assert!(incidents[0].resolved_at.is_none());
        assert_eq!(incidents[1].id, "b");
        assert!(incidents[1].resolved_at.is_some());
        assert_eq!(fold_incidents(&events, 1).len(), 1);
    }

    #[test]
    fn every_alert_kind_names_a_runbook_that_exists() {
        for component in crate::watchdog::runbooks::COMPONENT_RUNBOOKS {
            for kind in AlertKind::ALL {
                let id = kind.runbook(component);
                assert!(
                    crate::watchdog::runbooks::get(&id).is_some(),
                    "{kind:?} for {component} points to missing runbook {id}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn folding_arbitrary_events_never_panics(
            items in proptest::collection::vec((0u8..3, "[a-c]", "[a-c]{0,2}"), 0..40)
        ) {
            let events: Vec<Event> = items
                .iter()
                .map(|(k, subject, id)| {
                    let kind = [kind::ALERT_RAISED, kind::ALERT_RESOLVED, "alert.other"][*k as usize];
                    ev(kind, subject, json!({"incident": id, "severity": 3}))
                })
                .collect();
            let out = fold_incidents(&events, 5);
            proptest::prop_assert!(out.len() <= 5);
        }
    }
}
