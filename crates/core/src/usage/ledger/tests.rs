//! Ingests over throw-away log trees: what the ledger counts, keeps and rebuilds.

use std::path::Path;

use super::*;
use crate::usage::entries;

/// Prices, and the log folders of a throw-away tree with Claude logs under `claude/`.
fn claude_tree(root: &Path) -> (Prices, LogDirs) {
    let dirs = LogDirs {
        claude: vec![root.join("claude/projects")],
        codex: vec![],
        openclaw: vec![],
    };
    (Prices::load(&Default::default()), dirs)
}

fn line(id: &str, output: u64) -> String {
    format!(
        r#"{{"timestamp":"2026-11-01T10:00:00Z","requestId":"r-{id}","message":{{"id":"{id}","model":"claude-haiku-4-5","usage":{{"input_tokens":1,"output_tokens":{output}}}}}}}"#
    )
}

/// Every `agg` row, each as text, sorted: two ledgers that counted alike give equal lists.
fn sorted_rows(ledger: &Ledger) -> Vec<String> {
    let mut rows: Vec<String> = ledger
        .rows(None)
        .unwrap()
        .into_iter()
        .map(|r| {
            format!(
                "{:?}",
                (r.bucket, r.session, r.model, r.tokens, r.requests, r.cost)
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_ledger_being_updated_elsewhere_is_seen_as_busy() {
    let dir = tempfile::tempdir().unwrap();
    let (prices, _) = claude_tree(dir.path());
    let cache = dir.path().join("cache");
    assert!(!is_busy(&cache), "no ledger yet");
    let ledger = Ledger::open(&cache, &prices).unwrap();
    assert!(is_busy(&cache));
    drop(ledger);
    assert!(!is_busy(&cache));
}

#[test]
fn a_damaged_ledger_file_is_set_aside_and_rebuilt_from_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (prices, dirs) = claude_tree(dir.path());
    let logs = dir.path().join("claude/projects/p");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("a.jsonl"), format!("{}\n", line("a1", 100))).unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("usage.db"), "not a database, just text").unwrap();
    let mut ledger = Ledger::open(&cache, &prices).unwrap();
    let stats = ledger.ingest(&dirs, &prices).unwrap();
    assert!(stats.rebuilt);
    assert!(
        stats.rebuild_reason.as_deref().unwrap().contains("damaged"),
        "{:?}",
        stats.rebuild_reason
    );
    assert_eq!(stats.usage_records, 1);
    assert_eq!(
        std::fs::read_to_string(cache.join("usage.db.damaged")).unwrap(),
        "not a database, just text"
    );
}

/// Permissions do not stop root, so this one runs for other users only.
#[test]
fn an_unreadable_log_keeps_its_usage_and_is_read_once_it_can_be() {
    use std::os::unix::fs::PermissionsExt;
    if nix::unistd::geteuid().is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (prices, dirs) = claude_tree(dir.path());
    let logs = dir.path().join("claude/projects/p");
    std::fs::create_dir_all(&logs).unwrap();
    let a = logs.join("a.jsonl");
    std::fs::write(&a, format!("{}\n", line("a1", 100))).unwrap();
    std::fs::write(logs.join("b.jsonl"), format!("{}\n", line("b1", 10))).unwrap();
    let mut ledger = Ledger::open(&dir.path().join("cache"), &prices).unwrap();
    ledger.ingest(&dirs, &prices).unwrap();
    let before = sorted_rows(&ledger);
    // It grows, and cannot be read any more.
    std::fs::write(&a, format!("{}\n{}\n", line("a1", 100), line("a2", 5))).unwrap();
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o000)).unwrap();
    let stats = ledger.ingest(&dirs, &prices).unwrap();
    assert!(!stats.rebuilt, "{:?}", stats.rebuild_reason);
    assert_eq!(stats.unreadable, vec![a.clone()]);
    assert_eq!(sorted_rows(&ledger), before, "a's usage so far is kept");
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stats = ledger.ingest(&dirs, &prices).unwrap();
    assert!(stats.unreadable.is_empty() && !stats.rebuilt);
    assert_eq!(stats.usage_records, 1, "only the new line is read");
}

#[test]
fn enormous_lines_are_counted_and_skipped_without_losing_their_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("claude/projects/p");
    std::fs::create_dir_all(&project).unwrap();
    let huge = format!(
        r#"{{"message":{{"usage":{{"input_tokens":1}},"content":"{}"}}}}"#,
        "x".repeat(MAX_LINE_BYTES + 10)
    );
    let text = format!("{}\n{huge}\n{}\n", line("a", 2), line("b", 3));
    std::fs::write(project.join("s.jsonl"), text).unwrap();
    let (prices, dirs) = claude_tree(dir.path());
    let mut ledger = Ledger::open(&dir.path().join("cache"), &prices).unwrap();
    let stats = ledger.ingest(&dirs, &prices).unwrap();
    assert_eq!(stats.oversized_lines, 1);
    assert_eq!(stats.usage_records, 2);
    let rows = ledger.rows(None).unwrap();
    let output: u64 = rows.iter().map(|r| r.tokens.output).sum();
    assert_eq!(output, 5);
}

#[test]
fn a_message_seen_again_in_a_later_run_replaces_its_smaller_self() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("claude/projects/p");
    std::fs::create_dir_all(&project).unwrap();
    let at = |id: &str, output: u64, time: &str| {
        line(id, output).replace("2026-11-01T10:00:00Z", &format!("2026-11-01T{time}Z"))
    };
    std::fs::write(
        project.join("one.jsonl"),
        format!("{}\n{}\n", at("a", 2, "10:00:00"), at("b", 4, "10:00:00")),
    )
    .unwrap();
    let (prices, dirs) = claude_tree(dir.path());
    let mut ledger = Ledger::open(&dir.path().join("cache"), &prices).unwrap();
    ledger.ingest(&dirs, &prices).unwrap();
    // Later: `a` again with more output, logged in another quarter-hour of another file;
    // `b` again with less; and a new `c`.
    std::fs::write(
        project.join("two.jsonl"),
        format!(
            "{}\n{}\n{}\n",
            at("a", 9, "11:00:00"),
            at("b", 1, "11:00:00"),
            at("c", 5, "11:00:00")
        ),
    )
    .unwrap();
    let stats = ledger.ingest(&dirs, &prices).unwrap();
    assert!(!stats.rebuilt);
    let rows = ledger.rows(None).unwrap();
    let sum = |f: &dyn Fn(&AggRow) -> u64| rows.iter().map(f).sum::<u64>();
    assert_eq!(sum(&|r| r.tokens.output), 9 + 4 + 5);
    assert_eq!(sum(&|r| r.requests), 3);
    // `a` left the 10:00 quarter-hour: only `b` is counted there.
    let ten = rows
        .iter()
        .find(|r| r.bucket * BUCKET_MS % 86_400_000 == 36_000_000);
    assert_eq!(ten.map(|r| (r.requests, r.tokens.output)), Some((1, 4)));
    // A rebuild from scratch agrees.
    drop(ledger);
    std::fs::remove_dir_all(dir.path().join("cache")).unwrap();
    let mut fresh = Ledger::open(&dir.path().join("cache"), &prices).unwrap();
    fresh.ingest(&dirs, &prices).unwrap();
    let again = fresh.rows(None).unwrap();
    assert_eq!(again.iter().map(|r| r.tokens.output).sum::<u64>(), 18);
    assert_eq!(again.len(), rows.len());
}

#[test]
fn mapped_and_read_files_give_the_same_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("claude/projects/p");
    std::fs::create_dir_all(&project).unwrap();
    let filler = format!(
        r#"{{"type":"user","message":{{"content":"{}"}}}}"#,
        "x".repeat(900)
    );
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&line(&format!("m{i}"), i % 7 + 1));
        text.push_str(if i % 5 == 0 { "\r\n" } else { "\n" });
        text.push_str(&filler);
        text.push('\n');
    }
    let huge = format!(
        r#"{{"message":{{"usage":{{"input_tokens":1}},"content":"{}"}}}}"#,
        "x".repeat(MAX_LINE_BYTES + 10)
    );
    // Longer than a map window, shorter than the longest line that is read.
    let big = line("big", 6).replace(
        r#""input_tokens""#,
        &format!(r#""note":"{}","input_tokens""#, "y".repeat(10 << 20)),
    );
    text.push_str(&big);
    text.push('\n');
    text.push_str(&huge);
    text.push('\n');
    text.push_str(&line("last", 3));
    text.push('\n');
    // An unterminated tail waits for its newline.
    text.push_str(&line("tail", 4));
    std::fs::write(project.join("s.jsonl"), &text).unwrap();
    assert!(text.len() as u64 > MAP_MIN);
    let (prices, dirs) = claude_tree(dir.path());
    let ingest = |cache: &str, map: bool| {
        let mut ledger = Ledger::open(&dir.path().join(cache), &prices).unwrap();
        ledger.map_files(map);
        let stats = ledger.ingest(&dirs, &prices).unwrap();
        let rows = sorted_rows(&ledger);
        let end: i64 = ledger
            .connection()
            .query_row("SELECT offset FROM files", [], |r| r.get(0))
            .unwrap();
        (rows, end, stats)
    };
    let (mapped, mapped_end, mapped_stats) = ingest("mapped", true);
    let (read, read_end, read_stats) = ingest("read", false);
    assert_eq!(mapped, read);
    assert_eq!(mapped_end, read_end);
    assert_eq!(mapped_end as usize, text.len() - line("tail", 4).len());
    assert_eq!(
        (mapped_stats.usage_records, mapped_stats.oversized_lines),
        (read_stats.usage_records, read_stats.oversized_lines)
    );
    assert_eq!(mapped_stats.usage_records, 3002);
    assert_eq!(mapped_stats.oversized_lines, 1);
}

#[test]
fn an_ingest_that_spills_requests_to_disk_counts_like_one_that_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("claude/projects/p");
    std::fs::create_dir_all(&project).unwrap();
    let at = |id: usize, output: usize, minute: usize| {
        line(&format!("m{id}"), output as u64).replace(
            "2026-11-01T10:00:00Z",
            &format!("2026-11-{:02}T10:{:02}:00Z", 1 + id % 3, minute % 60),
        )
    };
    // Messages logged again with growing usage, in the same file and in others.
    let mut files = vec![String::new(); 3];
    for id in 0..300 {
        for copy in 0..1 + id % 3 {
            files[(id + copy * 2) % 3].push_str(&(at(id, id % 11 + copy * 5, id) + "\n"));
        }
    }
    for (n, text) in files.iter().enumerate() {
        std::fs::write(project.join(format!("{n}.jsonl")), text).unwrap();
    }
    let (prices, dirs) = claude_tree(dir.path());
    let mut held = Ledger::open(&dir.path().join("held"), &prices).unwrap();
    let mut spilled = Ledger::open(&dir.path().join("spilled"), &prices).unwrap();
    spilled.hold_at_most(7);
    let state = |ledger: &Ledger| {
        let rows = sorted_rows(ledger);
        let mut blobs = ledger
            .connection()
            .prepare("SELECT data FROM entries")
            .unwrap();
        let stored: usize = blobs
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .unwrap()
            .map(|blob| entries::decode(&blob.unwrap()).len())
            .sum();
        (rows, stored)
    };
    held.ingest(&dirs, &prices).unwrap();
    spilled.ingest(&dirs, &prices).unwrap();
    assert_eq!(state(&spilled), state(&held));
    assert_eq!(state(&held).1, 300);
    // A later run: known messages again (larger and smaller) and new ones.
    let more: String = (250..400)
        .map(|id| at(id, 20 - id % 3 * 10, id) + "\n")
        .collect();
    std::fs::write(project.join("3.jsonl"), more).unwrap();
    held.ingest(&dirs, &prices).unwrap();
    let stats = spilled.ingest(&dirs, &prices).unwrap();
    assert!(!stats.rebuilt);
    assert_eq!(state(&spilled), state(&held));
    assert_eq!(state(&held).1, 400);
    // Nothing but the ledger's own files is left beside it.
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("spilled"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["usage.db", "usage.db-shm", "usage.db-wal", "usage.lock"]
    );
}

#[test]
fn a_streamed_message_counts_once_with_its_largest_usage() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("claude/projects/p");
    std::fs::create_dir_all(&project).unwrap();
    let text = format!("{}\n{}\n{}\n", line("a", 2), line("a", 9), line("a", 5));
    std::fs::write(project.join("one.jsonl"), &text).unwrap();
    // The same message again in another file (a resumed session).
    std::fs::write(project.join("two.jsonl"), line("a", 7) + "\n").unwrap();
    let (prices, dirs) = claude_tree(dir.path());
    let mut ledger = Ledger::open(&dir.path().join("cache"), &prices).unwrap();
    ledger.ingest(&dirs, &prices).unwrap();
    let rows = ledger.rows(None).unwrap();
    assert_eq!(rows.iter().map(|r| r.tokens.output).sum::<u64>(), 9);
    assert_eq!(rows.iter().map(|r| r.requests).sum::<u64>(), 1);
}

/// Claude Code prunes old logs: new prices re-price the requests the ledger holds instead
/// of rebuilding it from the logs left, so the pruned logs' usage stays, at the new prices
/// (a cost the log recorded stays as it was; one-hour cache writes keep their own rate).
#[test]
fn new_prices_reprice_the_stored_requests_and_keep_the_usage_of_pruned_logs() {
    let dir = tempfile::tempdir().unwrap();
    let write_logs = |root: &Path| {
        let project = root.join("claude/projects/p");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join("one.jsonl"), line("a", 1000) + "\n").unwrap();
        let cached = r#"{"timestamp":"2026-11-01T11:00:00Z","requestId":"r-c","message":{"id":"c","model":"claude-haiku-4-5","usage":{"input_tokens":5,"output_tokens":7,"cache_creation_input_tokens":300,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200}}}}"#;
        let logged = r#"{"timestamp":"2026-11-01T12:00:00Z","costUSD":0.5,"requestId":"r-d","message":{"id":"d","model":"claude-haiku-4-5","usage":{"input_tokens":1,"output_tokens":9}}}"#;
        std::fs::write(
            project.join("two.jsonl"),
            format!("{}\n{cached}\n{logged}\n", line("b", 2000)),
        )
        .unwrap();
    };
    write_logs(dir.path());
    let (old, dirs) = claude_tree(dir.path());
    let cache = dir.path().join("cache");
    Ledger::open(&cache, &old)
        .unwrap()
        .ingest(&dirs, &old)
        .unwrap();
    std::fs::remove_file(dir.path().join("claude/projects/p/one.jsonl")).unwrap();
    Ledger::open(&cache, &old)
        .unwrap()
        .ingest(&dirs, &old)
        .unwrap();

    let mut overrides = std::collections::BTreeMap::new();
    overrides.insert(
        "claude-haiku-4-5".to_string(),
        crate::usage::config::PriceOverride {
            input: Some(3.0),
            output: Some(20.0),
            ..Default::default()
        },
    );
    let new = Prices::load(&overrides);
    let mut ledger = Ledger::open(&cache, &new).unwrap();
    let stats = ledger.ingest(&dirs, &new).unwrap();
    assert!(!stats.rebuilt, "{:?}", stats.rebuild_reason);
    assert_eq!(stats.repriced, 3, "a, b and c; d's cost is the log's");

    // The same as a ledger built at the new prices from all the logs.
    let whole = tempfile::tempdir().unwrap();
    write_logs(whole.path());
    let (_, whole_dirs) = claude_tree(whole.path());
    let mut fresh = Ledger::open(&whole.path().join("cache"), &new).unwrap();
    fresh.ingest(&whole_dirs, &new).unwrap();
    assert_eq!(sorted_rows(&ledger), sorted_rows(&fresh));
    let total = |l: &Ledger| {
        l.rows(None)
            .unwrap()
            .iter()
            .map(|r| r.requests)
            .sum::<u64>()
    };
    assert_eq!(total(&ledger), 4);
    // And the prices did change the costs.
    let mut before = Ledger::open(&whole.path().join("old-cache"), &old).unwrap();
    before.ingest(&whole_dirs, &old).unwrap();
    assert_ne!(sorted_rows(&before), sorted_rows(&fresh));
    drop((ledger, fresh, before));

    // A ledger of the previous format is read, re-priced and kept too.
    {
        let ledger = Ledger::open(&cache, &new).unwrap();
        ledger
            .set_meta("version", &format!("7:{}", old.fingerprint))
            .unwrap();
    }
    let mut ledger = Ledger::open(&cache, &new).unwrap();
    let stats = ledger.ingest(&dirs, &new).unwrap();
    assert!(!stats.rebuilt && stats.repriced == 3, "{stats:?}");
    assert_eq!(total(&ledger), 4);
}

#[test]
fn a_rebuild_says_why_the_ledger_was_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("claude/projects/p");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("one.jsonl"), line("a", 2) + "\n").unwrap();
    let (prices, dirs) = claude_tree(dir.path());
    let cache = dir.path().join("cache");
    let reason = |prices: &Prices| {
        let mut ledger = Ledger::open(&cache, prices).unwrap();
        ledger.ingest(&dirs, prices).unwrap().rebuild_reason
    };
    assert_eq!(reason(&prices).as_deref(), Some("first run"));
    assert_eq!(reason(&prices), None);
    let mut overrides = std::collections::BTreeMap::new();
    overrides.insert(
        "claude-haiku-4-5".to_string(),
        crate::usage::config::PriceOverride {
            input: Some(1.0),
            ..Default::default()
        },
    );
    // New prices re-price what the ledger holds: no rebuild.
    assert_eq!(reason(&Prices::load(&overrides)), None);
    // A ledger written by a build with another record format.
    {
        let ledger = Ledger::open(&cache, &prices).unwrap();
        ledger
            .set_meta("version", &format!("0:{}", prices.fingerprint))
            .unwrap();
    }
    assert_eq!(
        reason(&prices).as_deref(),
        Some("the ledger's format changed")
    );
}

/// An OpenClaw session file: skipped when unchanged, read from where it stopped when it grew
/// (the model its last model change named carried over), garbage and cut-short lines passed
/// over, and an archived copy of the session counting its messages once.
#[test]
fn openclaw_sessions_are_read_incrementally_and_survive_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let prices = Prices::load(&Default::default());
    let dirs = LogDirs {
        openclaw: vec![dir.path().join("openclaw")],
        ..Default::default()
    };
    let sessions = dir.path().join("openclaw/agents/main/sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let message = |ts: i64, output: u64| {
        format!(
            r#"{{"type":"message","id":"m{ts}","message":{{"role":"assistant","usage":{{"input":10,"output":{output},"cacheRead":0,"cacheWrite":0,"totalTokens":{}}},"timestamp":{ts}}}}}"#,
            10 + output
        ) + "\n"
    };
    let change =
        r#"{"type":"model_change","provider":"openai","modelId":"gpt-5"}"#.to_string() + "\n";
    let live = sessions.join("s1.jsonl");
    let first = format!(
        "{change}not json\n{}{}{{\"type\":\"message\",\"message\":{{\"usage\":{{\"inp\n\u{0}\u{ff}\"usage\"\n",
        message(1_790_000_000_000, 5),
        message(1_790_000_060_000, 7)
    );
    std::fs::write(&live, &first).unwrap();
    // The gateway's archive of the same session, holding its first message again.
    std::fs::write(
        sessions.join("s1.jsonl.reset.2026-11-01T00-00-00.000Z"),
        format!("{change}{}", message(1_790_000_000_000, 5)),
    )
    .unwrap();
    let mut ledger = Ledger::open(&dir.path().join("cache"), &prices).unwrap();
    let stats = ledger.ingest(&dirs, &prices).unwrap();
    assert_eq!(stats.files_seen, 2);
    assert!(stats.malformed_lines >= 2, "{stats:?}");
    let rows = ledger.rows(Some(Source::OpenClaw)).unwrap();
    let tokens: u64 = rows.iter().map(|r| r.tokens.total()).sum();
    assert_eq!(tokens, 15 + 17, "the archived copy counts once");
    assert!(rows.iter().all(|r| r.model == "gpt-5" && r.session == "s1"));
    assert!(ledger.rows(Some(Source::Claude)).unwrap().is_empty());

    // Nothing new: no file is read.
    let stats = ledger.ingest(&dirs, &prices).unwrap();
    assert_eq!((stats.files_read, stats.bytes_read), (0, 0), "{stats:?}");

    // One message appended: only it is read, on the model the file named before.
    let mut grown = first.clone();
    grown.push_str(&message(1_790_000_120_000, 9));
    std::fs::write(&live, &grown).unwrap();
    let stats = ledger.ingest(&dirs, &prices).unwrap();
    assert_eq!((stats.files_read, stats.usage_records), (1, 1), "{stats:?}");
    assert!(stats.bytes_read < grown.len() as u64, "{stats:?}");
    let rows = ledger.rows(Some(Source::OpenClaw)).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.tokens.total()).sum::<u64>(),
        15 + 17 + 19
    );
    assert!(rows.iter().all(|r| r.model == "gpt-5"), "{rows:?}");
    let gpt5 = prices.find("gpt-5").unwrap();
    let want: f64 = [5, 7, 9]
        .iter()
        .map(|&o| {
            gpt5.cost(&parse::Tokens {
                input: 10,
                output: o,
                ..Default::default()
            })
        })
        .sum();
    let cost: f64 = rows.iter().map(|r| r.cost.usd()).sum();
    assert!((cost - want).abs() < 1e-9, "{cost} vs {want}");
}

/// The active window from the rollups equals the one from every request, on ingested logs with
/// silences of every length (streamed messages, `<synthetic>` lines, several sessions), at
/// many moments — or the rollups say they cannot tell.
#[test]
fn the_active_window_from_the_rollups_is_the_one_from_the_requests() {
    use crate::usage::blocks::{WINDOW_MS, active_from_rollups, blocks};
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("claude/projects/p");
    std::fs::create_dir_all(&project).unwrap();
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let start = 1_793_000_000_000i64; // November 2026
    let mut ts = start;
    let mut lines = [String::new(), String::new(), String::new()];
    for i in 0..3000 {
        // Mostly minutes apart; now and then a silence around and beyond five hours.
        ts += match next(20) {
            0 => 4 * 3_600_000 + next(2 * 3_600_000) as i64,
            1 => 60_000 * next(300) as i64,
            _ => 1_000 * next(600) as i64,
        };
        let stamp = chrono::DateTime::from_timestamp_millis(ts)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ");
        let model = if next(30) == 0 {
            "<synthetic>"
        } else {
            "claude-haiku-4-5"
        };
        let out = next(500);
        let file = next(3) as usize;
        for shown in [out / 2, out] {
            lines[file].push_str(&format!(
                r#"{{"timestamp":"{stamp}","requestId":"r-{i}","message":{{"id":"m-{i}","model":"{model}","usage":{{"input_tokens":3,"output_tokens":{shown}}}}}}}"#
            ));
            lines[file].push('\n');
        }
    }
    for (i, text) in lines.iter().enumerate() {
        std::fs::write(project.join(format!("s{i}.jsonl")), text).unwrap();
    }
    let (prices, dirs) = claude_tree(dir.path());
    let mut ledger = Ledger::open(&dir.path().join("cache"), &prices).unwrap();
    ledger.ingest(&dirs, &prices).unwrap();
    let rows = ledger.rows(None).unwrap();
    let requests = ledger.requests(Source::Claude).unwrap();
    let (mut told, mut active, mut untold) = (0, 0, 0);
    let mut now = start;
    while now < ts + 2 * WINDOW_MS {
        now += 7 * 60_000 + next(40 * 60_000) as i64;
        // Only what was logged by `now` counts, as at that moment.
        let seen: Vec<_> = requests.iter().filter(|r| r.ts <= now).cloned().collect();
        let exact_then = blocks(&seen, now, WINDOW_MS).into_iter().find(|b| b.active);
        let rows_then: Vec<_> = rows.iter().filter(|r| r.last_ts <= now).cloned().collect();
        // A quarter hour partly after `now` is not a state the ledger is ever in; skip it.
        if rows
            .iter()
            .any(|r| r.bucket * BUCKET_MS <= now && r.last_ts > now)
        {
            continue;
        }
        // The last two days alone tell the same, or cannot tell.
        let recent: Vec<_> = rows_then
            .iter()
            .filter(|r| r.bucket * BUCKET_MS >= now - 2 * 24 * 3_600_000)
            .cloned()
            .collect();
        if let Some(fast) = active_from_rollups(&recent, now, WINDOW_MS, false) {
            let key = |b: &crate::usage::blocks::Block| (b.start, b.end, b.entries);
            assert_eq!(
                fast.as_ref().map(key),
                exact_then.as_ref().map(key),
                "at {now}"
            );
        }
        match active_from_rollups(&rows_then, now, WINDOW_MS, true) {
            None => untold += 1,
            Some(fast) => {
                told += 1;
                let key = |b: &crate::usage::blocks::Block| {
                    (b.start, b.end, b.actual_end, b.entries, b.tokens.total())
                };
                assert_eq!(
                    fast.as_ref().map(key),
                    exact_then.as_ref().map(key),
                    "at {now}"
                );
                active += usize::from(fast.is_some());
            }
        }
    }
    assert!(active > 50, "moments with an active window: {active}");
    // One step in twenty here is a silence of 4 to 6 hours, so the band the rollups cannot
    // tell (4¾ to 5¼ hours since the last certain gap) is hit far more often than in real use.
    assert!(told > untold, "told {told}, could not tell {untold}");
}
