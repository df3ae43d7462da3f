//! The kinds of event PAIOS itself records: one enum, each kind with its documentation and the
//! views of the panel and tray it changes. The panel never retypes a kind: every event it is
//! sent carries its `views`, and `core.kinds` lists the vocabulary with its documentation.
//!
//! Clients may record kinds of their own (`paios emit KIND`); [`Kind::parse`] answers `None`
//! for those, and [`views_of`] judges them by their prefix.

use serde::{Deserialize, Serialize};

/// A part of what the panel and the tray show, re-read when an event changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// The supervised services and the overall health (which counts waiting approvals).
    Services,
    /// Open and recent incidents.
    Incidents,
    /// Approval requests waiting for an answer.
    Approvals,
    /// Usage, costs and budgets.
    Costs,
    /// The brains and the links between them.
    Mesh,
    /// The configuration (everything may change with it).
    Config,
}

impl View {
    /// Every view, in the order the panel lays them out.
    pub const ALL: [View; 6] = [
        View::Services,
        View::Incidents,
        View::Approvals,
        View::Costs,
        View::Mesh,
        View::Config,
    ];
}

macro_rules! kinds {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $name:literal => [$($view:ident),*]; )+) => {
        /// Every kind of event PAIOS records itself (see the module docs).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl Kind {
            /// Every kind, in the order of this file.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),+];

            /// The dotted name stored and shown (`service.exited`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)+
                }
            }

            /// The kind of a dotted name, if it is one of PAIOS's own.
            pub fn parse(name: &str) -> Option<Kind> {
                match name {
                    $($name => Some(Kind::$variant),)+
                    _ => None,
                }
            }

            /// What an event of this kind means (its documentation, for `core.kinds`).
            pub fn doc(self) -> &'static str {
                match self {
                    $(Kind::$variant => concat!($($doc),+).trim_ascii(),)+
                }
            }

            /// The views an event of this kind changes.
            pub fn views(self) -> &'static [View] {
                match self {
                    $(Kind::$variant => &[$(View::$view),*],)+
                }
            }
        }
    };
}

kinds! {
    /// The core started (`data`: pid, version).
    DaemonStarted = "daemon.started" => [Services, Incidents, Approvals, Costs, Mesh];
    /// The core stopped cleanly (`data`: pid).
    DaemonStopped = "daemon.stopped" => [Services];
    /// A watched configuration file changed and the new one is in force.
    ConfigChanged = "config.changed" => [Config];
    /// A watched configuration file is invalid; the last good one stays in force
    /// (`data.error` says where and why).
    ConfigInvalid = "config.invalid" => [Config, Incidents];
    /// A configuration file was restored to its last good version.
    ConfigRolledBack = "config.rolled_back" => [Config, Incidents];
    /// Spooled events (written while the daemon was down) were stored (`data.events`).
    StoreSpoolReplayed = "store.spool_replayed" => [];
    /// Lines of the spool could not be read and were set aside (`data.quarantine`).
    StoreSpoolCorrupt = "store.spool_corrupt" => [Incidents];
    /// A supervised service's process started (`data`: pid, restart).
    ServiceStarted = "service.started" => [Services];
    /// A supervised service's process exited (`data`: code, signal, stderr_tail, uptime_ms).
    ServiceExited = "service.exited" => [Services];
    /// The watchdog started a service again (`data`: reason, attempt, backoff_ms).
    ServiceRestarted = "service.restarted" => [Services];
    /// A service is alive but failed its probe too often; it is killed and restarted.
    ServiceHung = "service.hung" => [Services];
    /// A service answers its probe again after trouble (`data.down_ms`).
    ServiceRecovered = "service.recovered" => [Services, Incidents];
    /// A service exited too often within the crash-loop window: no more restarts.
    ServiceCrashLoop = "service.crash_loop" => [Services, Incidents];
    /// A service could not be run and will not be restarted (spawn error, exit code that means
    /// "do not restart", crash loop); `data.reason` says which.
    ServiceFailed = "service.failed" => [Services, Incidents];
    /// A copy of a service already running outside PAIOS is monitored instead of started.
    ServiceAdopted = "service.adopted" => [Services];
    /// A service was stopped (`data.by`: request, shutdown, orphan).
    ServiceStopped = "service.stopped" => [Services];
    /// An alert opened or escalated an incident (`data`: incident, severity, message, runbook).
    AlertRaised = "alert.raised" => [Incidents, Services];
    /// An incident was resolved (`data.incident`).
    AlertResolved = "alert.resolved" => [Incidents, Services];
    /// The router chose a brain for a task (`data`: the decision and its task_id).
    RouteDecided = "route.decided" => [];
    /// A task moved on to the next brain after one failed (`data`: from, to, reason).
    RouteFallback = "route.fallback" => [];
    /// A brain started working on a task (`data`: task_id, brain, attempt).
    TaskStarted = "task.started" => [];
    /// A brain finished a task (`data`: outcome, duration_ms, usage, cost_usd, error).
    TaskFinished = "task.finished" => [Costs];
    /// A tool call waits for the user's answer (`data`: id, tool, the verdict).
    ApprovalRequested = "approval.requested" => [Approvals, Services];
    /// A tool call was allowed or denied (`data.by`: the user, trust, autonomy, the policy,
    /// or `gone` when its hook went away).
    ApprovalDecided = "approval.decided" => [Approvals, Services];
    /// The autonomy level changed.
    ApprovalAutonomyChanged = "approval.autonomy_changed" => [Approvals];
    /// New usage was read from the brains' logs (`data`: requests, files).
    UsageRecorded = "usage.recorded" => [Costs];
    /// A brain was upgraded after its smoke check passed.
    BrainUpgraded = "brain.upgraded" => [Mesh];
    /// A brain upgrade failed its smoke check; the previous version stays.
    BrainUpgradeFailed = "brain.upgrade_failed" => [Mesh, Incidents];
    /// A brain was rolled back to its previous version.
    BrainRolledBack = "brain.rolled_back" => [Mesh];
    /// A bridge tool call of PAIOS's MCP server finished (`data`: caller, tool, brain,
    /// duration, outcome, cost).
    McpCalled = "mcp.called" => [Costs];
    /// The mesh check's result changed: a link or a registered MCP server started or stopped
    /// answering (`data`: links and servers counted, the broken ones named).
    MeshChecked = "mesh.checked" => [Mesh, Services];
    /// A credential expires soon.
    CredentialExpiring = "credential.expiring" => [Incidents];
    /// A credential is invalid or expired.
    CredentialInvalid = "credential.invalid" => [Incidents];
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Kind> for String {
    fn from(kind: Kind) -> String {
        kind.as_str().to_string()
    }
}

impl PartialEq<Kind> for String {
    fn eq(&self, kind: &Kind) -> bool {
        self == kind.as_str()
    }
}

impl PartialEq<Kind> for str {
    fn eq(&self, kind: &Kind) -> bool {
        self == kind.as_str()
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let name = String::deserialize(d)?;
        Kind::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event kind {name:?}")))
    }
}

/// The views an event of kind `name` changes: its kind's, or for a kind of a client's own, the
/// views of its family (`service.` → services, …); an unknown family changes nothing.
pub fn views_of(name: &str) -> &'static [View] {
    if let Some(kind) = Kind::parse(name) {
        return kind.views();
    }
    let family = name.split('.').next().unwrap_or("");
    Kind::ALL
        .iter()
        .find(|k| k.as_str().split('.').next() == Some(family))
        .map_or(&[], |k| k.views())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name_and_is_documented() {
        for &kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert!(!kind.doc().is_empty(), "{kind} has no documentation");
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), kind);
        }
        assert_eq!(Kind::parse("service.nope"), None);
    }

    #[test]
    fn a_clients_own_kind_changes_the_views_of_its_family() {
        assert_eq!(views_of("service.custom"), Kind::ServiceStarted.views());
        assert_eq!(views_of("alert.raised"), &[View::Incidents, View::Services]);
        assert!(views_of("contract.check").is_empty());
    }
}
