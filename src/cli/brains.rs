//! `paios brains install|status|upgrade|rollback`.

use std::process::ExitCode;

use super::{Ctx, NotYet, not_yet};

pub type BrainsArgs = NotYet;

pub fn run(_ctx: &Ctx, _a: BrainsArgs) -> anyhow::Result<ExitCode> {
    not_yet("brains")
}
