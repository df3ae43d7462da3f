//! `paios usage daily|weekly|monthly|session|blocks|quota`, `paios statusline`.

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
    /// Tokens and cost per week.
    Weekly(WeeklyArgs),
    /// Tokens and cost per month.
    Monthly(ReportArgs),
    /// Tokens and cost per session.
    Session(ReportArgs),
    /// Claude's 5-hour windows, with the active one's burn rate, projection and reset time.
    Blocks(BlocksArgs),
    /// Each brain's rate-limit windows: how full, when they reset, whether tasks go elsewhere.
    Quota(QuotaArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct QuotaArgs {
    /// Print JSON (`{"brains":[{"brain","windows":[…],"headroom_percent","limited",…}]}`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct WeeklyArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    /// The day weeks start on.
    #[arg(long, value_enum, default_value_t = WeekStart::Sunday)]
    pub start_of_week: WeekStart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WeekStart {
    Sunday,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

impl WeekStart {
    fn weekday(self) -> chrono::Weekday {
        use chrono::Weekday::*;
        match self {
            WeekStart::Sunday => Sun,
            WeekStart::Monday => Mon,
            WeekStart::Tuesday => Tue,
            WeekStart::Wednesday => Wed,
            WeekStart::Thursday => Thu,
            WeekStart::Friday => Fri,
            WeekStart::Saturday => Sat,
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct BlocksArgs {
    /// Print JSON (`{"blocks":[…]}`, ccusage's field names).
    #[arg(long)]
    pub json: bool,
    /// Only the active window, with its burn rate and projection.
    #[arg(long)]
    pub active: bool,
    /// Only the windows of the last three days (and the active one).
    #[arg(long)]
    pub recent: bool,
    /// A token limit to compare the windows with: a number, or `max` (the most a finished
    /// window used).
    #[arg(long, value_name = "N|max")]
    pub token_limit: Option<String>,
    /// First date to include (YYYYMMDD, the window's start), in the report's time zone.
    #[arg(long, value_name = "YYYYMMDD")]
    pub since: Option<String>,
    /// Last date to include (YYYYMMDD).
    #[arg(long, value_name = "YYYYMMDD")]
    pub until: Option<String>,
    /// IANA time zone for dates (default: this machine's).
    #[arg(long, value_name = "IANA")]
    pub timezone: Option<String>,
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
    /// The OpenClaw gateway's own session files.
    #[value(name = "openclaw")]
    OpenClaw,
    All,
}

/// `--since` / `--until` as dates, refusing a range that ends before it starts.
fn date_range(
    since: &Option<String>,
    until: &Option<String>,
) -> anyhow::Result<(Option<chrono::NaiveDate>, Option<chrono::NaiveDate>)> {
    let date = |s: &Option<String>, flag: &str| -> anyhow::Result<_> {
        s.as_deref()
            .map(|s| report::parse_date(s).map_err(|e| usage_error(format!("--{flag}: {e}"))))
            .transpose()
    };
    let range = (date(since, "since")?, date(until, "until")?);
    if let (Some(since), Some(until)) = range
        && since > until
    {
        return Err(usage_error(format!(
            "--since {since} is after --until {until}: no day is in that range"
        )));
    }
    Ok(range)
}

pub fn run(ctx: &Ctx, a: UsageArgs) -> anyhow::Result<ExitCode> {
    let (period, args) = match a.report {
        UsageCommand::Daily(r) => (Period::Daily, r),
        UsageCommand::Weekly(w) => (Period::Weekly(w.start_of_week.weekday()), w.report),
        UsageCommand::Monthly(r) => (Period::Monthly, r),
        UsageCommand::Session(r) => (Period::Session, r),
        UsageCommand::Blocks(b) => return blocks(ctx, b),
        UsageCommand::Quota(q) => return quota(ctx, q),
    };
    let config = ctx.config()?;
    let zone = Zone::parse(args.timezone.as_deref()).map_err(usage_error)?;
    let (since, until) = date_range(&args.since, &args.until)?;
    let options = Options {
        period,
        since,
        until,
        zone,
    };
    let source = match args.source {
        SourceArg::Claude => Some(Source::Claude),
        SourceArg::Codex => Some(Source::Codex),
        SourceArg::OpenClaw => Some(Source::OpenClaw),
        SourceArg::All => None,
    };
    let fresh = ledger_mod::refresh_mapped(&ctx.paths, &config)?;
    let rows = fresh.ledger.rows(source)?;
    let built = report::build(&rows, &options, &fresh.prices);
    // Budgets count every source. The daemon raises their alerts (as incidents, once each);
    // a report only says where they stand.
    let all_rows;
    let budget_rows = match source {
        None => &rows,
        Some(_) => {
            all_rows = fresh.ledger.rows(None)?;
            &all_rows
        }
    };
    for alert in ledger_mod::budget_warnings(budget_rows, &config) {
        eprintln!("paios: budget: {}", alert.message);
    }
    warn_about(&fresh.stats);
    for w in built.warnings() {
        eprintln!("paios: warning: {w}");
    }
    if args.json {
        let mut doc = built.to_json(zone);
        doc["ingest"] = serde_json::to_value(&fresh.stats)?;
        doc["prices"] = serde_json::json!({
            "source": fresh.prices.source,
            "snapshot": fresh.prices.snapshot,
        });
        print_json(&doc);
    } else if built.groups.is_empty() {
        eprintln!("no usage found in the Claude Code, Codex or OpenClaw logs for this period");
    } else {
        out!("{}", built.to_table(args.breakdown));
    }
    Ok(ExitCode::SUCCESS)
}

/// What an ingest passed over or could not read, on stderr.
fn warn_about(stats: &ledger_mod::IngestStats) {
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
}

/// `paios usage blocks`.
fn blocks(ctx: &Ctx, args: BlocksArgs) -> anyhow::Result<ExitCode> {
    use paios_core::usage::blocks::{self, WINDOW_MS};
    let config = ctx.config()?;
    let zone = Zone::parse(args.timezone.as_deref()).map_err(usage_error)?;
    let (since, until) = date_range(&args.since, &args.until)?;
    let limit = match args.token_limit.as_deref() {
        None | Some("max") | Some("") => None,
        Some(n) => Some(n.parse::<u64>().map_err(|_| {
            usage_error(format!(
                "--token-limit {n:?}: give a number of tokens or \"max\""
            ))
        })?),
    };
    let fresh = ledger_mod::refresh_mapped(&ctx.paths, &config)?;
    warn_about(&fresh.stats);
    let requests = fresh.ledger.requests(Source::Claude)?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut all = blocks::blocks(&requests, now, WINDOW_MS);
    let limit = match args.token_limit.as_deref() {
        Some("max") | Some("") => Some(blocks::max_tokens(&all)).filter(|&m| m > 0),
        _ => limit,
    };
    all.retain(|b| {
        let date = zone.date_of(b.start);
        since.is_none_or(|s| date >= s) && until.is_none_or(|u| date <= u)
    });
    if args.recent {
        let cutoff = now - 3 * 86_400_000;
        all.retain(|b| b.start >= cutoff || b.active);
    }
    if args.active {
        all.retain(|b| b.active);
    }
    if args.json {
        let list: Vec<serde_json::Value> = all.iter().map(|b| b.to_json(now, limit)).collect();
        print_json(&serde_json::json!({ "blocks": list }));
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        eprintln!(
            "{}",
            if args.active {
                "no active 5-hour window in the Claude Code logs"
            } else {
                "no usage found in the Claude Code logs for this period"
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    for b in &all {
        let start = zone.format_time(b.start);
        if b.gap {
            outln!("{start}  (no use for {}h)", (b.end - b.start) / 3_600_000);
            continue;
        }
        let mut line = format!(
            "{start}  {:>12} tokens  ${:>8.2}  {}",
            report::thousands(b.tokens.total()),
            b.cost,
            b.models.join(", ")
        );
        if let Some(limit) = limit {
            line.push_str(&format!(
                "  {:.1}% of {}",
                b.percent_of(limit),
                report::thousands(limit)
            ));
        }
        if b.active {
            line.push_str(&format!("  ACTIVE, resets {}", zone.format_time(b.end)));
            if let (Some(burn), Some(p)) = (b.burn_rate(), b.projection(now)) {
                line.push_str(&format!(
                    "\n    burn rate {:.0} tokens/min, ${:.2}/h; projected {} tokens, ${:.2}",
                    burn.tokens_per_minute,
                    burn.cost_per_hour,
                    report::thousands(p.total_tokens),
                    p.total_cost
                ));
            }
        }
        outln!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `paios usage quota`.
fn quota(ctx: &Ctx, args: QuotaArgs) -> anyhow::Result<ExitCode> {
    let config = ctx.config()?;
    let quotas = ledger_mod::quota_state(&ctx.paths, &config, true)?;
    if args.json {
        print_json(&serde_json::json!({ "brains": quotas }));
        return Ok(ExitCode::SUCCESS);
    }
    for q in &quotas {
        let mut line = format!("{:<9}", q.brain);
        if q.windows.is_empty() {
            line.push_str("no window known");
        }
        for w in &q.windows {
            let used = match (w.used_percent, w.tokens) {
                (Some(p), _) => format!("{p:.0}% used"),
                (None, Some(t)) => format!("{} tokens (no limit set)", report::thousands(t)),
                (None, None) => "unknown".into(),
            };
            let resets = w
                .resets_at
                .as_deref()
                .map(|r| format!(", resets {r}"))
                .unwrap_or_default();
            line.push_str(&format!("{} window {used}{resets}; ", w.name));
        }
        if let Some(why) = &q.limited {
            line.push_str(&format!("tasks go elsewhere: {why}"));
        }
        outln!("{}", line.trim_end_matches("; "));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, clap::Args)]
pub struct StatuslineArgs {
    /// Print the facts as JSON (`{"warm","brain","model","session_id","session_cost_usd",
    /// "today_cost_usd","window":{"used_percent","tokens","resets_at","from"},
    /// "headroom_percent","limited"}`).
    #[arg(long)]
    pub json: bool,
}

/// The most of stdin the status line reads (Claude Code's input is a few KB).
const STATUSLINE_INPUT_MAX: u64 = 1 << 20;

/// `paios statusline`: reads the ledger as it stands, never the logs (the daemon keeps it
/// fresh), so it answers in milliseconds whatever the size of the history.
pub fn statusline(ctx: &Ctx, args: StatuslineArgs) -> anyhow::Result<ExitCode> {
    use paios_core::usage::statusline::{self, Input};
    use std::io::{IsTerminal, Read};
    let mut bytes = Vec::new();
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        // Unreadable input is no input: the line still shows what the ledger knows.
        let _ = stdin
            .lock()
            .take(STATUSLINE_INPUT_MAX)
            .read_to_end(&mut bytes);
    }
    let input = Input::parse(&bytes);
    let config = ctx.config()?;
    let now = chrono::Utc::now().timestamp_millis();
    let facts = statusline::facts(&ctx.paths.cache_dir(), &config, &input, now)?;
    if args.json {
        print_json(&serde_json::to_value(&facts)?);
    } else {
        outln!("{}", statusline::line(&facts));
    }
    Ok(ExitCode::SUCCESS)
}
