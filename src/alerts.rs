//! Alert fan-out: `alert.raised`/`alert.resolved` events, de-duplicated per incident; desktop
//! notification where available; every alert carries a runbook id.
