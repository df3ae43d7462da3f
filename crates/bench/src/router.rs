//! `paios bench router`: decision latency in-process, the held-out accuracy, and
//! `ai route --dry-run` as a process.

use std::process::ExitCode;
use std::time::Instant;

use paios_core::paths::Paths;
use paios_core::router::config::RouterConfig;
use paios_core::router::{LiveState, Router};

use crate::percentile_us;

/// The held-out labelled set, only for reporting accuracy (never for training).
const HELD_OUT: &str = include_str!("../../../tests/data/routing/heldout.tsv");

pub fn run(paths: &Paths) -> anyhow::Result<ExitCode> {
    let train_started = Instant::now();
    let router = Router::new(RouterConfig::default().policy().unwrap_or_default());
    router.decide("warm up", &LiveState::all_usable());
    let train = train_started.elapsed();

    let tasks: Vec<String> =
        paios_core::router::classify::parse_dataset(paios_core::router::classify::TRAINING_SET)
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.task)
            .collect();
    let live = LiveState::all_usable();
    let mut lat = Vec::with_capacity(20_000);
    for i in 0..20_000 {
        let task = &tasks[i % tasks.len().max(1)];
        let t = Instant::now();
        std::hint::black_box(router.decide(task, &live));
        lat.push(t.elapsed());
    }
    lat.sort();
    let held_out = paios_core::router::classify::parse_dataset(HELD_OUT).unwrap_or_default();
    let right = held_out
        .iter()
        .filter(|e| router.decide(&e.task, &live).category == e.category)
        .count();
    let brain_right = held_out
        .iter()
        .filter(|e| {
            router.decide(&e.task, &live).preferred == router.policy().brain_for(e.category)
        })
        .count();
    println!(
        "held-out set ({} tasks never used for training): category accuracy {:.1}%, brain accuracy {:.1}%",
        held_out.len(),
        100.0 * right as f64 / held_out.len().max(1) as f64,
        100.0 * brain_right as f64 / held_out.len().max(1) as f64
    );
    println!(
        "router decision in-process: {} decisions; p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (model trained on first use in {:.1} ms)",
        lat.len(),
        percentile_us(&lat, 0.50),
        percentile_us(&lat, 0.99),
        percentile_us(&lat, 1.0),
        train.as_secs_f64() * 1e3
    );

    let ai = crate::sibling("ai")?;
    let mut lat = Vec::new();
    for i in 0..60 {
        let task = &tasks[(i * 7) % tasks.len().max(1)];
        let t = Instant::now();
        let out = std::process::Command::new(&ai)
            .args(["route", "--dry-run", "--json", task])
            .env("PAIOS_HOME", paths.home())
            .output()?;
        lat.push(t.elapsed());
        if !out.status.success() {
            anyhow::bail!(
                "ai route failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
    lat.sort();
    println!(
        "ai route --dry-run --json as a process: {} runs; p50 {:.1} ms, p99 {:.1} ms",
        lat.len(),
        percentile_us(&lat, 0.50) / 1e3,
        percentile_us(&lat, 0.99) / 1e3
    );
    Ok(ExitCode::SUCCESS)
}
