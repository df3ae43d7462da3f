//! `paios usage daily|monthly|session`, `paios bench usage`.

use std::process::ExitCode;

use super::{Ctx, NotYet, not_yet};

pub type UsageArgs = NotYet;

pub fn run(_ctx: &Ctx, _a: UsageArgs) -> anyhow::Result<ExitCode> {
    not_yet("usage")
}
pub fn bench(_ctx: &Ctx) -> anyhow::Result<ExitCode> {
    not_yet("bench usage")
}
