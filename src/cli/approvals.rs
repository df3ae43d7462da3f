//! `paios classify`, `hook`, `hooks`, `approvals`, `autonomy`, `policy`, `bench hook`.

use std::process::ExitCode;

use super::{Ctx, NotYet, not_yet};

pub type ClassifyArgs = NotYet;
pub type HookArgs = NotYet;
pub type HooksArgs = NotYet;
pub type ApprovalsArgs = NotYet;
pub type AutonomyArgs = NotYet;
pub type PolicyArgs = NotYet;

pub fn classify(_ctx: &Ctx, _a: ClassifyArgs) -> anyhow::Result<ExitCode> {
    not_yet("classify")
}
pub fn hook(_ctx: &Ctx, _a: HookArgs) -> anyhow::Result<ExitCode> {
    not_yet("hook")
}
pub fn hooks(_ctx: &Ctx, _a: HooksArgs) -> anyhow::Result<ExitCode> {
    not_yet("hooks")
}
pub fn approvals(_ctx: &Ctx, _a: ApprovalsArgs) -> anyhow::Result<ExitCode> {
    not_yet("approvals")
}
pub fn autonomy(_ctx: &Ctx, _a: AutonomyArgs) -> anyhow::Result<ExitCode> {
    not_yet("autonomy")
}
pub fn policy(_ctx: &Ctx, _a: PolicyArgs) -> anyhow::Result<ExitCode> {
    not_yet("policy")
}
pub fn bench(_ctx: &Ctx) -> anyhow::Result<ExitCode> {
    not_yet("bench hook")
}
