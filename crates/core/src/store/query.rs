//! Read queries over the `events` table.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, types::Value as SqlValue};

use crate::events::{Event, format_ts};

/// Filters for [`query_events`]. Results are the newest `limit` matches, oldest first, unless
/// `after_id` is set (then the first `limit` events after it, for tailing).
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only kinds starting with this text (`alert.` matches `alert.raised`); a plain prefix,
    /// no wildcards. `None`: every kind.
    pub kind_prefix: Option<String>,
    /// Only this exact subject. `None`: every subject.
    pub subject: Option<String>,
    /// Only events at or after this instant (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Only events before this instant (exclusive).
    pub until: Option<DateTime<Utc>>,
    /// Only events with a store id greater than this; also switches to tailing order (see the
    /// type's docs).
    pub after_id: Option<i64>,
    /// 0 means the default (100).
    pub limit: usize,
}

impl EventQuery {
    /// Whether `event` passes the filters (not the limit): what a live stream applies to each
    /// committed event, the same rules [`query_events`] applies in SQL. Timestamps compare as
    /// stored (millisecond RFC 3339, UTC).
    pub fn matches(&self, event: &Event) -> bool {
        let ts = format_ts(&event.ts);
        self.kind_prefix
            .as_ref()
            .is_none_or(|p| event.kind.starts_with(p.as_str()))
            && self.subject.as_ref().is_none_or(|s| event.subject == *s)
            && self.since.as_ref().is_none_or(|t| ts >= format_ts(t))
            && self.until.as_ref().is_none_or(|t| ts < format_ts(t))
            && self
                .after_id
                .is_none_or(|after| event.id.is_some_and(|id| id > after))
    }
}

/// The events matching `q` (see [`EventQuery`] for the order and the limit). A stored
/// timestamp or data that no longer parses comes back as the epoch or `null`, never an error;
/// errors are SQLite's.
pub fn query_events(conn: &Connection, q: &EventQuery) -> Result<Vec<Event>, rusqlite::Error> {
    let mut sql =
        String::from("SELECT id, uid, ts, kind, source, subject, data FROM events WHERE 1=1");
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(prefix) = &q.kind_prefix {
        // Prefix match without LIKE's wildcard surprises.
        sql.push_str(" AND substr(kind, 1, length(?)) = ?");
        args.push(SqlValue::Text(prefix.clone()));
        args.push(SqlValue::Text(prefix.clone()));
    }
    if let Some(subject) = &q.subject {
        sql.push_str(" AND subject = ?");
        args.push(SqlValue::Text(subject.clone()));
    }
    if let Some(since) = &q.since {
        sql.push_str(" AND ts >= ?");
        args.push(SqlValue::Text(format_ts(since)));
    }
    if let Some(until) = &q.until {
        sql.push_str(" AND ts < ?");
        args.push(SqlValue::Text(format_ts(until)));
    }
    let limit = if q.limit == 0 { 100 } else { q.limit } as i64;
    let tail = q.after_id.is_some();
    if let Some(after) = q.after_id {
        sql.push_str(" AND id > ?");
        args.push(SqlValue::Integer(after));
    }
    sql.push_str(if tail {
        " ORDER BY id ASC LIMIT ?"
    } else {
        " ORDER BY id DESC LIMIT ?"
    });
    args.push(SqlValue::Integer(limit));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
        let ts: String = r.get(2)?;
        let data: String = r.get(6)?;
        Ok(Event {
            id: Some(r.get(0)?),
            uid: r.get(1)?,
            ts: DateTime::parse_from_rfc3339(&ts)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
            kind: r.get(3)?,
            source: r.get(4)?,
            subject: r.get(5)?,
            data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
        })
    })?;
    let mut out: Vec<Event> = rows.collect::<Result<_, _>>()?;
    if !tail {
        out.reverse();
    }
    Ok(out)
}
