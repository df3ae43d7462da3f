-- The approval gate: requests waiting for (or given) an answer, learned trust, settings.
CREATE TABLE approval_requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ts          TEXT    NOT NULL,              -- RFC 3339, UTC
    brain       TEXT    NOT NULL DEFAULT '',
    project     TEXT    NOT NULL DEFAULT '',
    session     TEXT    NOT NULL DEFAULT '',
    tool        TEXT    NOT NULL,
    summary     TEXT    NOT NULL DEFAULT '',   -- the command or path, for people
    rule        TEXT    NOT NULL,
    rules       TEXT    NOT NULL DEFAULT '[]', -- every ask rule involved (JSON array)
    reason      TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL DEFAULT 'pending', -- pending | approved | denied | expired
    decided_at  TEXT,
    decided_by  TEXT                           -- user | trust | autonomy | timeout
);
CREATE INDEX approval_requests_state ON approval_requests(state, id);

-- Trust learned per (rule, brain, project).
CREATE TABLE approval_trust (
    rule        TEXT    NOT NULL,
    brain       TEXT    NOT NULL,
    project     TEXT    NOT NULL,
    approvals   INTEGER NOT NULL DEFAULT 0,
    always      TEXT,                          -- NULL | 'approve' | 'deny'
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (rule, brain, project)
);

CREATE TABLE approval_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
