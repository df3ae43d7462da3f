-- The event log: everything that happens in PAIOS.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    uid     TEXT    NOT NULL UNIQUE,   -- assigned where the event was created; replays dedupe on it
    ts      TEXT    NOT NULL,          -- RFC 3339, UTC, millisecond precision
    kind    TEXT    NOT NULL,
    source  TEXT    NOT NULL,
    subject TEXT    NOT NULL DEFAULT '',
    data    TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX events_kind ON events(kind, id);
CREATE INDEX events_subject ON events(subject, id);
CREATE INDEX events_ts ON events(ts);
