//! The event vocabulary shared by every part of PAIOS.
//!
//! An [`Event`] is created once, where the thing happened, and carries a globally unique `uid`
//! (UUID v7) from that moment on. The store keys on `uid`, so an event that reaches it twice (a
//! spool replay after a crash, a client retry) is stored once. The integer `id` is assigned by
//! the store and orders events as they were committed.
//!
//! This module defines data only: it never does I/O.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Well-known event kinds. Kinds are free-form dotted strings; these constants keep the spelling
/// of the ones PAIOS itself emits in one place.
pub mod kind {
    pub const DAEMON_STARTED: &str = "daemon.started";
    pub const DAEMON_STOPPED: &str = "daemon.stopped";
    pub const CONFIG_CHANGED: &str = "config.changed";
    pub const CONFIG_INVALID: &str = "config.invalid";
    pub const CONFIG_ROLLED_BACK: &str = "config.rolled_back";
    pub const STORE_SPOOL_REPLAYED: &str = "store.spool_replayed";
    pub const STORE_SPOOL_CORRUPT: &str = "store.spool_corrupt";
    pub const SERVICE_STARTED: &str = "service.started";
    pub const SERVICE_EXITED: &str = "service.exited";
    pub const SERVICE_RESTARTED: &str = "service.restarted";
    pub const SERVICE_HUNG: &str = "service.hung";
    pub const SERVICE_RECOVERED: &str = "service.recovered";
    pub const SERVICE_CRASH_LOOP: &str = "service.crash_loop";
    pub const SERVICE_ADOPTED: &str = "service.adopted";
    pub const SERVICE_STOPPED: &str = "service.stopped";
    pub const ALERT_RAISED: &str = "alert.raised";
    pub const ALERT_RESOLVED: &str = "alert.resolved";
    pub const ROUTE_DECIDED: &str = "route.decided";
    pub const ROUTE_FALLBACK: &str = "route.fallback";
    pub const TASK_STARTED: &str = "task.started";
    pub const TASK_FINISHED: &str = "task.finished";
    pub const APPROVAL_REQUESTED: &str = "approval.requested";
    pub const APPROVAL_DECIDED: &str = "approval.decided";
    pub const USAGE_RECORDED: &str = "usage.recorded";
    pub const BRAIN_UPGRADED: &str = "brain.upgraded";
    pub const BRAIN_UPGRADE_FAILED: &str = "brain.upgrade_failed";
    pub const BRAIN_ROLLED_BACK: &str = "brain.rolled_back";
    pub const CREDENTIAL_EXPIRING: &str = "credential.expiring";
    pub const CREDENTIAL_INVALID: &str = "credential.invalid";
}

/// Where a part of PAIOS records the events it makes: the core's store when it runs inside the
/// core, the daemon's socket (or the spool when it is down) when it runs in a short-lived
/// process. Recording never fails the caller: a sink logs what it could not store.
pub trait EventSink {
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

    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    pub fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
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

    pub fn serialize<S: Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&ts.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

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
