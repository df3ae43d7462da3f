//! `paios usage daily|monthly|session`, `paios bench usage`.

use std::process::ExitCode;

use crate::{Ctx, print_json, usage_error};
use paios_core::usage::report::{self, Options, Period, Zone};
use paios_core::usage::{self as ledger_mod, Source};

#[derive(Debug, clap::Args)]
pub struct UsageArgs {
    #[command(subcommand)]
    pub report: UsageCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum UsageCommand {
    /// Tokens and cost per day.
    Daily(ReportArgs),
    /// Tokens and cost per month.
    Monthly(ReportArgs),
    /// Tokens and cost per session.
    Session(ReportArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Print JSON (`{"daily"|"monthly"|"sessions":[…],"totals":{…}}`, ccusage's field names).
    #[arg(long)]
    pub json: bool,
    /// First date to include (YYYYMMDD), in the report's time zone.
    #[arg(long, value_name = "YYYYMMDD")]
    pub since: Option<String>,
    /// Last date to include (YYYYMMDD).
    #[arg(long, value_name = "YYYYMMDD")]
    pub until: Option<String>,
    /// Which brain's logs.
    #[arg(long, value_enum, default_value_t = SourceArg::All)]
    pub source: SourceArg,
    /// IANA time zone for dates (default: this machine's).
    #[arg(long, value_name = "IANA")]
    pub timezone: Option<String>,
    /// One line per model under each row.
    #[arg(long)]
    pub breakdown: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceArg {
    Claude,
    Codex,
    All,
}

pub fn run(ctx: &Ctx, a: UsageArgs) -> anyhow::Result<ExitCode> {
    let (period, args) = match a.report {
        UsageCommand::Daily(r) => (Period::Daily, r),
        UsageCommand::Monthly(r) => (Period::Monthly, r),
        UsageCommand::Session(r) => (Period::Session, r),
    };
    let config = ctx.config()?;
    let zone = Zone::parse(args.timezone.as_deref()).map_err(usage_error)?;
    let date = |s: &Option<String>, flag: &str| -> anyhow::Result<_> {
        s.as_deref()
            .map(|s| report::parse_date(s).map_err(|e| usage_error(format!("--{flag}: {e}"))))
            .transpose()
    };
    let options = Options {
        period,
        since: date(&args.since, "since")?,
        until: date(&args.until, "until")?,
        zone,
    };
    if let (Some(since), Some(until)) = (options.since, options.until)
        && since > until
    {
        return Err(usage_error(format!(
            "--since {since} is after --until {until}: no day is in that range"
        )));
    }
    let source = match args.source {
        SourceArg::Claude => Some(Source::Claude),
        SourceArg::Codex => Some(Source::Codex),
        SourceArg::All => None,
    };
    let fresh = ledger_mod::refresh_mapped(&ctx.paths, &config)?;
    let rows = fresh.ledger.rows(source)?;
    let built = report::build(&rows, &options, &fresh.prices);
    // Budgets count every source: reuse the rows when the report has them all.
    let alerts = match source {
        None => ledger_mod::due_alerts_from(&fresh.ledger, &rows, &config)?,
        Some(_) => ledger_mod::due_alerts(&fresh.ledger, &config)?,
    };
    for event in alerts {
        paios_core::client::emit_quietly(&ctx.paths, &event);
    }
    let stats = &fresh.stats;
    if stats.malformed_lines > 0 || stats.oversized_lines > 0 {
        eprintln!(
            "paios: skipped {} malformed and {} oversized log lines",
            stats.malformed_lines, stats.oversized_lines
        );
    }
    for path in &stats.unreadable {
        eprintln!(
            "paios: warning: cannot read {} (its usage so far is kept; it is read once it can be)",
            path.display()
        );
    }
    for w in built.warnings() {
        eprintln!("paios: warning: {w}");
    }
    if args.json {
        let mut doc = built.to_json(zone);
        doc["ingest"] = serde_json::to_value(stats)?;
        doc["prices"] = serde_json::json!({
            "source": fresh.prices.source,
            "snapshot": fresh.prices.snapshot,
        });
        print_json(&doc);
    } else if built.groups.is_empty() {
        eprintln!("no usage found in the Claude Code or Codex logs for this period");
    } else {
        out!("{}", built.to_table(args.breakdown));
    }
    Ok(ExitCode::SUCCESS)
}
