//! `paios service`, `paios incidents`, `paios runbook`, `paios bench watchdog`.

use std::process::ExitCode;

use super::{Ctx, NotYet, not_yet};

pub type ServiceArgs = NotYet;
pub type IncidentsArgs = NotYet;
pub type RunbookArgs = NotYet;

pub fn service(_ctx: &Ctx, _a: ServiceArgs) -> anyhow::Result<ExitCode> {
    not_yet("service")
}
pub fn incidents(_ctx: &Ctx, _a: IncidentsArgs) -> anyhow::Result<ExitCode> {
    not_yet("incidents")
}
pub fn runbook(_ctx: &Ctx, _a: RunbookArgs) -> anyhow::Result<ExitCode> {
    not_yet("runbook")
}
pub fn bench(_ctx: &Ctx) -> anyhow::Result<ExitCode> {
    not_yet("bench watchdog")
}
/// `paios daemon install [--print]`: a launchd agent / systemd user unit for the daemon.
pub fn daemon_install(_ctx: &Ctx, _print: bool) -> anyhow::Result<ExitCode> {
    not_yet("daemon install")
}
