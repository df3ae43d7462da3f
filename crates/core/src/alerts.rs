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
//! Every alert of every module goes through [`raise`], so each one is an incident; the desktop
//! sees it through the core's one [`Notifier`] (the platform's notification service for the
//! daemon, the app's own when the app hosts the core — the app never notifies by itself, so
//! an alert is shown once, whoever runs the core).
//!
//! This module never fails its caller: a notification that cannot be shown is logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::Core;
use crate::events::payload::{AlertRaised, AlertResolved};
use crate::events::{Event, format_ts};
use crate::store::{EventQuery, query_events};

/// How serious an alert is; ordered, so a `Critical` alert escalates an open `Warning` incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something went wrong and is being handled (a restart, a budget nearly spent).
    Warning,
    /// Something is down or refused until the user acts.
    Critical,
}

impl Severity {
    /// The name in events and JSON: `warning` or `critical`.
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
    /// A usage budget is nearly spent (`[budgets] warn_percent`).
    BudgetWarning,
    /// A usage budget is spent: the router passes the brain over.
    BudgetExceeded,
    /// An MCP server registered in a brain fails its probe (exits, hangs, errors, no tools).
    McpServerFailing,
    /// An MCP server is registered in a way the brain cannot use (not on PATH, the removed
    /// `codex mcp-server`, a name too long, the config unreadable).
    McpServerMisconfigured,
    /// An MCP server's tool list changed since the last probe.
    McpToolsChanged,
    /// A link of the mesh (a brain → PAIOS, or a brain → another) fails its check.
    McpLinkBroken,
    /// A watched configuration file is invalid and was not restored.
    ConfigInvalid,
    /// A watched configuration file was invalid and was restored to its last good version.
    ConfigRolledBack,
}

impl AlertKind {
    /// Every kind, once each (the runbook test walks this list).
    pub const ALL: [AlertKind; 14] = [
        AlertKind::ServiceExited,
        AlertKind::ServiceHung,
        AlertKind::ServiceCrashLoop,
        AlertKind::ServiceConfigError,
        AlertKind::ServiceSpawnFailed,
        AlertKind::ServiceUnreachable,
        AlertKind::BudgetWarning,
        AlertKind::BudgetExceeded,
        AlertKind::McpServerFailing,
        AlertKind::McpServerMisconfigured,
        AlertKind::McpToolsChanged,
        AlertKind::McpLinkBroken,
        AlertKind::ConfigInvalid,
        AlertKind::ConfigRolledBack,
    ];

    /// The kind's name in `alert.raised` events (`alert`) and in `paios incidents`: snake case,
    /// stable.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::ServiceExited => "service_exited",
            AlertKind::ServiceHung => "service_hung",
            AlertKind::ServiceCrashLoop => "service_crash_loop",
            AlertKind::ServiceConfigError => "service_config_error",
            AlertKind::ServiceSpawnFailed => "service_spawn_failed",
            AlertKind::ServiceUnreachable => "service_unreachable",
            AlertKind::BudgetWarning => "budget_warning",
            AlertKind::BudgetExceeded => "budget_exceeded",
            AlertKind::McpServerFailing => "mcp_server_failing",
            AlertKind::McpServerMisconfigured => "mcp_server_misconfigured",
            AlertKind::McpToolsChanged => "mcp_tools_changed",
            AlertKind::McpLinkBroken => "mcp_link_broken",
            AlertKind::ConfigInvalid => "config_invalid",
            AlertKind::ConfigRolledBack => "config_rolled_back",
        }
    }

    /// The severity an alert of this kind is raised with: a warning for a service that exited
    /// or hung (it is being restarted), a budget nearly spent and a changed tool list; critical
    /// for everything else.
    pub fn severity(self) -> Severity {
        match self {
            AlertKind::ServiceExited
            | AlertKind::ServiceHung
            | AlertKind::BudgetWarning
            | AlertKind::McpToolsChanged
            | AlertKind::ConfigRolledBack => Severity::Warning,
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
    /// What happened.
    pub kind: AlertKind,
    /// How serious it is ([`AlertKind::severity`] unless the caller changed it).
    pub severity: Severity,
    /// For people, with the component's own error text where there is one.
    pub message: String,
    /// The runbook id (`paios runbook ID`), or an `http(s)://` address shown as is.
    pub runbook: String,
    /// Kind-specific facts recorded with the alert (a budget's limit and spend, …).
    pub details: serde_json::Map<String, Value>,
}

impl Alert {
    /// An alert of `kind` about `component`, with the kind's severity.
    pub fn new(
        component: impl Into<String>,
        kind: AlertKind,
        message: impl Into<String>,
        runbook: impl Into<String>,
    ) -> Self {
        Self {
            component: component.into(),
            kind,
            severity: kind.severity(),
            message: message.into(),
            runbook: runbook.into(),
            details: Default::default(),
        }
    }

    /// The desktop notification's title and body.
    pub fn notification(&self) -> (String, String) {
        let runbook = if self.runbook.starts_with("http://") || self.runbook.starts_with("https://")
        {
            self.runbook.clone()
        } else {
            format!("paios runbook {}", self.runbook)
        };
        (
            format!("PAIOS {}: {}", self.severity.as_str(), self.component),
            format!("{}\nRunbook: {runbook}", self.message),
        )
    }
}

/// How alerts reach the desktop. One per core ([`crate::module::ModuleOptions`]).
pub trait Notifier: Send + Sync {
    /// Show `title` / `body`; never blocks the caller for long, never fails it.
    fn notify(&self, title: &str, body: &str);
}

/// The platform's notification service (`notify-rust`: the freedesktop service on Linux, the
/// Notification Center on macOS), used by the headless daemon.
pub struct DesktopNotifier;

impl Notifier for DesktopNotifier {
    fn notify(&self, title: &str, body: &str) {
        notify_desktop(title.to_string(), body.to_string());
    }
}

/// An incident as listed by `paios incidents --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// The incident id, `inc-<uuid v7, simple>`, shared by its raised and resolved events.
    pub id: String,
    /// What is in trouble (the events' subject).
    pub component: String,
    /// Same as `component` (service incidents are named after the service).
    pub service: String,
    /// The latest alert's kind ([`AlertKind::as_str`]).
    pub kind: String,
    /// The latest alert's severity (`warning` or `critical`): an escalation raises it.
    pub severity: String,
    /// The latest alert's message.
    pub message: String,
    /// The latest alert's runbook id.
    pub runbook: String,
    /// When the first alert was raised (RFC 3339, UTC, milliseconds).
    pub raised_at: String,
    /// When it was resolved (same format); `None` while it is open.
    pub resolved_at: Option<String>,
    /// Alerts folded into this incident (1 = only the first).
    pub alerts: u32,
}

#[derive(Debug, Clone)]
struct Open {
    id: String,
    severity: Severity,
}

/// The alerts module: the open incidents of this core, and its notifier.
pub struct Alerts {
    open: Mutex<HashMap<String, Open>>,
    notifier: Arc<dyn Notifier>,
}

impl Alerts {
    /// An alerts module that shows alerts through `notifier`; no incident is open until
    /// [`crate::module::Module::start`] loads them from the event log.
    pub fn new(notifier: Arc<dyn Notifier>) -> Self {
        Self {
            open: Mutex::new(HashMap::new()),
            notifier,
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<String, Open>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many incidents are open.
    pub fn open_count(&self) -> usize {
        self.open().len()
    }
}

impl crate::module::Module for Alerts {
    fn name(&self) -> &'static str {
        "alerts"
    }

    /// Load the open incidents from the event log, so a restarted core folds into them.
    fn start<'a>(
        &'a self,
        core: &'a Core,
    ) -> BoxFuture<'a, Result<(), crate::module::ModuleError>> {
        Box::pin(async move {
            let conn = core
                .store()
                .reader()
                .map_err(crate::module::ModuleError::new)?;
            let incidents =
                list_incidents(&conn, 10_000).map_err(crate::module::ModuleError::new)?;
            let mut open = self.open();
            for i in incidents.into_iter().filter(|i| i.resolved_at.is_none()) {
                let severity = if i.severity == "critical" {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                open.insert(i.component.clone(), Open { id: i.id, severity });
            }
            Ok(())
        })
    }

    fn detail(&self) -> Option<String> {
        match self.open().len() {
            0 => None,
            1 => Some("1 open incident".into()),
            n => Some(format!("{n} open incidents")),
        }
    }
}

/// Raise an alert. Returns the incident id, and whether an `alert.raised` event was emitted
/// (false when it was folded into an open incident of the same or higher severity).
pub async fn raise(core: &Core, alert: Alert) -> (String, bool) {
    let alerts = &core.modules().alerts;
    let (id, emit, escalated) = {
        let mut open = alerts.open();
        match open.get_mut(&alert.component) {
            Some(o) if o.severity >= alert.severity => (o.id.clone(), false, false),
            Some(o) => {
                o.severity = alert.severity;
                (o.id.clone(), true, true)
            }
            None => {
                let id = format!("inc-{}", uuid::Uuid::now_v7().simple());
                open.insert(
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
        let raised = AlertRaised {
            incident: id.clone(),
            alert: alert.kind.as_str().into(),
            severity: alert.severity.as_str().into(),
            message: alert.message.clone(),
            runbook: alert.runbook.clone(),
            escalated,
        };
        let mut event = Event::of("alerts", alert.component.clone(), &raised);
        if let Some(object) = event.data.as_object_mut() {
            for (key, value) in &alert.details {
                object.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        core.emit(event).await;
        tracing::warn!(
            component = %alert.component,
            severity = alert.severity.as_str(),
            runbook = %alert.runbook,
            "ALERT: {}",
            alert.message
        );
        if core.config().alerts.desktop {
            let (title, body) = alert.notification();
            alerts.notifier.notify(&title, &body);
        }
    }
    (id, emit)
}

/// Close the open incident of `component`, if any. Returns whether one was closed.
pub async fn resolve(core: &Core, component: &str, message: &str) -> bool {
    let open = core.modules().alerts.open().remove(component);
    let Some(open) = open else { return false };
    let resolved = AlertResolved {
        incident: open.id,
        message: message.to_string(),
    };
    core.emit(Event::of("alerts", component, &resolved)).await;
    true
}

/// Whether `component` has an open incident.
pub fn is_open(core: &Core, component: &str) -> bool {
    core.modules().alerts.open().contains_key(component)
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
        if let Some(raised) = ev.decode::<AlertRaised>() {
            if raised.incident.is_empty() {
                continue;
            }
            if let Some(inc) = by_id.get_mut(&raised.incident) {
                inc.alerts += 1;
                inc.severity = raised.severity;
                inc.message = raised.message;
                inc.kind = raised.alert;
                inc.runbook = raised.runbook;
            } else {
                order.push(raised.incident.clone());
                by_id.insert(
                    raised.incident.clone(),
                    Incident {
                        id: raised.incident,
                        component: ev.subject.clone(),
                        service: ev.subject.clone(),
                        kind: raised.alert,
                        severity: raised.severity,
                        message: raised.message,
                        runbook: raised.runbook,
                        raised_at: format_ts(&ev.ts),
                        resolved_at: None,
                        alerts: 1,
                    },
                );
            }
        } else if let Some(resolved) = ev.decode::<AlertResolved>()
            && let Some(inc) = by_id.get_mut(&resolved.incident)
        {
            inc.resolved_at = Some(format_ts(&ev.ts));
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
    use crate::events::kind;
    use serde_json::json;

    fn ev(kind: impl Into<String>, subject: &str, data: Value) -> Event {
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

    /// Counts what reaches the desktop.
    #[derive(Default)]
    struct Counting(Mutex<Vec<(String, String)>>);

    impl Notifier for Counting {
        fn notify(&self, title: &str, body: &str) {
            self.0.lock().unwrap().push((title.into(), body.into()));
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_incident_reaches_the_desktop_once_through_the_cores_one_notifier() {
        let home = tempfile::tempdir().unwrap();
        let counting = Arc::new(Counting::default());
        let options = crate::module::ModuleOptions {
            notifier: counting.clone(),
        };
        let core = Core::start_with(
            crate::paths::Paths::at(home.path()),
            Default::default(),
            options,
        )
        .await
        .unwrap();
        let warning = Alert::new(
            "gw",
            AlertKind::ServiceExited,
            "exited 1",
            "openclaw-gateway",
        );
        assert!(raise(&core, warning.clone()).await.1);
        assert!(
            !raise(&core, warning).await.1,
            "folded into the open incident"
        );
        let critical = Alert::new(
            "gw",
            AlertKind::ServiceCrashLoop,
            "crash loop",
            "openclaw-gateway",
        );
        assert!(
            raise(&core, critical).await.1,
            "an escalation is raised again"
        );
        let shown = counting.0.lock().unwrap().clone();
        assert_eq!(
            shown,
            vec![
                (
                    "PAIOS warning: gw".to_string(),
                    "exited 1\nRunbook: paios runbook openclaw-gateway".to_string()
                ),
                (
                    "PAIOS critical: gw".to_string(),
                    "crash loop\nRunbook: paios runbook openclaw-gateway".to_string()
                ),
            ]
        );
        core.shutdown().await;
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
                    let kind = [kind::ALERT_RAISED.as_str(), kind::ALERT_RESOLVED.as_str(), "alert.other"][*k as usize];
                    ev(kind, subject, json!({"incident": id, "severity": 3}))
                })
                .collect();
            let out = fold_incidents(&events, 5);
            proptest::prop_assert!(out.len() <= 5);
        }
    }
}
