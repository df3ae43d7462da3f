//! The event vocabulary shared by every part of PAIOS.
//!
//! An [`Event`] is created once, where the thing happened, and carries a globally unique `uid`
//! (UUID v7) from that moment on. The store keys on `uid`, so an event that reaches it twice (a
//! spool replay after a crash, a client retry) is stored once. The integer `id` is assigned by
//! the store and orders events as they were committed.
//!
//! Each of PAIOS's own kinds is a [`Kind`] with a typed [`Payload`]; clients may record kinds of
//! their own. This module defines data only: it never does I/O.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod kinds;
pub mod payload;

pub use kinds::{Kind, View, views_of};
pub use payload::Payload;

/// The kinds PAIOS emits, by their old constant names (each is a [`Kind`]).
pub mod kind {
    use super::Kind;
    /// `daemon.started`: [`Kind::DaemonStarted`].
    pub const DAEMON_STARTED: Kind = Kind::DaemonStarted;
    /// `daemon.stopped`: [`Kind::DaemonStopped`].
    pub const DAEMON_STOPPED: Kind = Kind::DaemonStopped;
    /// `config.changed`: [`Kind::ConfigChanged`].
    pub const CONFIG_CHANGED: Kind = Kind::ConfigChanged;
    /// `config.invalid`: [`Kind::ConfigInvalid`].
    pub const CONFIG_INVALID: Kind = Kind::ConfigInvalid;
    /// `config.rolled_back`: [`Kind::ConfigRolledBack`].
    pub const CONFIG_ROLLED_BACK: Kind = Kind::ConfigRolledBack;
    /// `store.spool_replayed`: [`Kind::StoreSpoolReplayed`].
    pub const STORE_SPOOL_REPLAYED: Kind = Kind::StoreSpoolReplayed;
    /// `store.spool_corrupt`: [`Kind::StoreSpoolCorrupt`].
    pub const STORE_SPOOL_CORRUPT: Kind = Kind::StoreSpoolCorrupt;
    /// `service.started`: [`Kind::ServiceStarted`].
    pub const SERVICE_STARTED: Kind = Kind::ServiceStarted;
    /// `service.exited`: [`Kind::ServiceExited`].
    pub const SERVICE_EXITED: Kind = Kind::ServiceExited;
    /// `service.restarted`: [`Kind::ServiceRestarted`].
    pub const SERVICE_RESTARTED: Kind = Kind::ServiceRestarted;
    /// `service.hung`: [`Kind::ServiceHung`].
    pub const SERVICE_HUNG: Kind = Kind::ServiceHung;
    /// `service.recovered`: [`Kind::ServiceRecovered`].
    pub const SERVICE_RECOVERED: Kind = Kind::ServiceRecovered;
    /// `service.crash_loop`: [`Kind::ServiceCrashLoop`].
    pub const SERVICE_CRASH_LOOP: Kind = Kind::ServiceCrashLoop;
    /// `service.failed`: [`Kind::ServiceFailed`].
    pub const SERVICE_FAILED: Kind = Kind::ServiceFailed;
    /// `service.adopted`: [`Kind::ServiceAdopted`].
    pub const SERVICE_ADOPTED: Kind = Kind::ServiceAdopted;
    /// `service.stopped`: [`Kind::ServiceStopped`].
    pub const SERVICE_STOPPED: Kind = Kind::ServiceStopped;
    /// `alert.raised`: [`Kind::AlertRaised`].
    pub const ALERT_RAISED: Kind = Kind::AlertRaised;
    /// `alert.resolved`: [`Kind::AlertResolved`].
    pub const ALERT_RESOLVED: Kind = Kind::AlertResolved;
    /// `route.decided`: [`Kind::RouteDecided`].
    pub const ROUTE_DECIDED: Kind = Kind::RouteDecided;
    /// `route.fallback`: [`Kind::RouteFallback`].
    pub const ROUTE_FALLBACK: Kind = Kind::RouteFallback;
    /// `task.started`: [`Kind::TaskStarted`].
    pub const TASK_STARTED: Kind = Kind::TaskStarted;
    /// `task.finished`: [`Kind::TaskFinished`].
    pub const TASK_FINISHED: Kind = Kind::TaskFinished;
    /// `approval.requested`: [`Kind::ApprovalRequested`].
    pub const APPROVAL_REQUESTED: Kind = Kind::ApprovalRequested;
    /// `approval.decided`: [`Kind::ApprovalDecided`].
    pub const APPROVAL_DECIDED: Kind = Kind::ApprovalDecided;
    /// `approval.autonomy_changed`: [`Kind::ApprovalAutonomyChanged`].
    pub const APPROVAL_AUTONOMY_CHANGED: Kind = Kind::ApprovalAutonomyChanged;
    /// `usage.recorded`: [`Kind::UsageRecorded`].
    pub const USAGE_RECORDED: Kind = Kind::UsageRecorded;
    /// `brain.upgraded`: [`Kind::BrainUpgraded`].
    pub const BRAIN_UPGRADED: Kind = Kind::BrainUpgraded;
    /// `brain.upgrade_failed`: [`Kind::BrainUpgradeFailed`].
    pub const BRAIN_UPGRADE_FAILED: Kind = Kind::BrainUpgradeFailed;
    /// `brain.rolled_back`: [`Kind::BrainRolledBack`].
    pub const BRAIN_ROLLED_BACK: Kind = Kind::BrainRolledBack;
    /// `mcp.called`: [`Kind::McpCalled`].
    pub const MCP_CALLED: Kind = Kind::McpCalled;
    /// `mesh.checked`: [`Kind::MeshChecked`].
    pub const MESH_CHECKED: Kind = Kind::MeshChecked;
    /// `credential.expiring`: [`Kind::CredentialExpiring`].
    pub const CREDENTIAL_EXPIRING: Kind = Kind::CredentialExpiring;
    /// `credential.invalid`: [`Kind::CredentialInvalid`].
    pub const CREDENTIAL_INVALID: Kind = Kind::CredentialInvalid;
}

/// Where a part of PAIOS records the events it makes: the core's store when it runs inside the
/// core, the daemon's socket (or the spool when it is down) when it runs in a short-lived
/// process. Recording never fails the caller: a sink logs what it could not store.
pub trait EventSink {
    /// Record `event`, returning once it is stored (or spooled); what cannot be recorded is
    /// logged, never returned.
    fn emit(&self, event: Event);
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Store-assigned sequence number; `None` until stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Globally unique id assigned at creation (UUID v7, time-ordered).
    pub uid: String,
    /// When it happened (UTC).
    #[serde(with = "rfc3339")]
    pub ts: DateTime<Utc>,
    /// Dotted kind, e.g. `service.exited`.
    pub kind: String,
    /// Which part of PAIOS (or which client) produced it: `watchdog`, `router`, `cli`, ….
    pub source: String,
    /// What it is about: a service name, a brain, a file; empty when nothing in particular.
    #[serde(default)]
    pub subject: String,
    /// Kind-specific details.
    #[serde(default)]
    pub data: Value,
}

impl Event {
    /// Create a new event, stamping a fresh uid and the current time.
    pub fn new(kind: impl Into<String>, source: impl Into<String>) -> Self {
        Self {
            id: None,
            uid: uuid::Uuid::now_v7().to_string(),
            ts: Utc::now(),
            kind: kind.into(),
            source: source.into(),
            subject: String::new(),
            data: Value::Object(Default::default()),
        }
    }

    /// Set what the event is about (see the `subject` field).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Set the kind-specific details (see [`Event::of`] for a typed payload).
    pub fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    /// A new event of `P`'s kind with `payload` as its data.
    pub fn of<P: Payload>(
        source: impl Into<String>,
        subject: impl Into<String>,
        payload: &P,
    ) -> Self {
        Self::new(P::KIND, source)
            .subject(subject)
            .data(serde_json::to_value(payload).unwrap_or_default())
    }

    /// This event's kind, if it is one of PAIOS's own.
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.kind)
    }

    /// The typed data, if this event is of `P`'s kind (lenient: see [`payload`]).
    pub fn decode<P: Payload>(&self) -> Option<P> {
        (self.kind == P::KIND)
            .then(|| serde_json::from_value(self.data.clone()).ok())
            .flatten()
    }

    /// The views of the panel and tray this event changes.
    pub fn views(&self) -> &'static [View] {
        views_of(&self.kind)
    }

    /// The JSON shape of the public contract (`paios events --json`): no `uid`.
    pub fn to_contract_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "ts": self.ts.to_rfc3339_opts(SecondsFormat::Millis, true),
            "kind": self.kind,
            "source": self.source,
            "subject": self.subject,
            "data": self.data,
        })
    }

    /// Check the fields a client supplied; used before accepting an event from outside.
    pub fn validate(&self) -> Result<(), String> {
        if self.kind.is_empty() || self.kind.len() > 128 {
            return Err("event kind must be 1–128 characters".into());
        }
        if !self
            .kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(format!(
                "event kind {:?} may only contain letters, digits, '.', '_' and '-'",
                self.kind
            ));
        }
        if self.uid.is_empty() || self.uid.len() > 64 {
            return Err("event uid must be 1–64 characters".into());
        }
        Ok(())
    }
}

/// RFC 3339 timestamps with millisecond precision, always UTC (`Z`).
pub mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write `ts` as RFC 3339 in UTC with milliseconds (`2025-01-31T09:05:00.123Z`).
    pub fn serialize<S: Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&ts.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    /// Read an RFC 3339 timestamp with any offset, converted to UTC.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Format a timestamp the way every PAIOS output does.
pub fn format_ts(ts: &DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_unique_and_roundtrip() {
        let a = Event::new("x.y", "test")
            .subject("s")
            .data(serde_json::json!({"n": 1}));
        let b = Event::new("x.y", "test");
        assert_ne!(a.uid, b.uid);
        let back: Event = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back.uid, a.uid);
        assert_eq!(back.data, a.data);
        assert_eq!(back.ts.timestamp_millis(), a.ts.timestamp_millis());
    }

    #[test]
    fn bad_kinds_are_rejected() {
        assert!(Event::new("", "t").validate().is_err());
        assert!(Event::new("a b", "t").validate().is_err());
        assert!(Event::new("service.exited", "t").validate().is_ok());
    }
}
