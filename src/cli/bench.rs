//! `paios bench TARGET`: performance figures, printed (never asserted).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::Ctx;
use crate::events::Event;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub target: BenchTarget,
    /// Events per in-process run (store bench).
    #[arg(long, default_value_t = 200_000)]
    pub events: usize,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BenchTarget {
    /// Event store: in-process appends and appends through the socket.
    Store,
    /// Watchdog: crash→respawn latency and hang detection.
    Watchdog,
    /// Router decision latency.
    Router,
    /// `paios hook pre-tool-use` latency and classify throughput.
    Hook,
    /// Usage ledger against ccusage.
    Usage,
}

pub fn run(ctx: &Ctx, a: BenchArgs) -> anyhow::Result<ExitCode> {
    match a.target {
        BenchTarget::Store => store(a.events),
        BenchTarget::Watchdog => super::watchdog::bench(ctx),
        BenchTarget::Router => super::ai::bench(ctx),
        BenchTarget::Hook => super::approvals::bench(ctx),
        BenchTarget::Usage => super::usage::bench(ctx),
    }
}

/// p-th percentile of sorted durations, in microseconds.
pub fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx].as_secs_f64() * 1e6
}

fn store(n: usize) -> anyhow::Result<ExitCode> {
    let dir = tempfile::Builder::new().prefix("paios-bench-").tempdir()?;
    let paths = crate::paths::Paths::at(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let core = crate::Core::start(paths.clone(), Default::default()).await?;

        // 1a. In-process, batched: what a busy producer (spool replay, log ingest) gets.
        let batch = 1000;
        let start = Instant::now();
        let mut stored = 0;
        while stored < n {
            let events: Vec<Event> = (0..batch)
                .map(|i| Event::new("bench.batch", "bench").data(serde_json::json!({"i": i})))
                .collect();
            stored += core.store().append_many(events).await?.len();
        }
        let elapsed = start.elapsed();
        outln!(
            "store in-process, batches of {batch}: {stored} events in {:.2}s = {:.0} events/s",
            elapsed.as_secs_f64(),
            stored as f64 / elapsed.as_secs_f64()
        );

        // 1b. In-process, one event per append from many concurrent producers (the writer
        // batches whatever is queued into one transaction).
        let producers = 256;
        let per = n / producers;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..producers {
            let store = core.store().clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for i in 0..per {
                    let t = Instant::now();
                    store
                        .append(Event::new("bench.append", "bench").data(serde_json::json!({"i": i})))
                        .await
                        .expect("append");
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await?);
        }
        let elapsed = start.elapsed();
        lat.sort();
        outln!(
            "store in-process, single appends: {} appends by {} tasks in {:.2}s = {:.0} events/s; latency p50 {:.0} µs, p99 {:.0} µs",
            lat.len(),
            producers,
            elapsed.as_secs_f64(),
            lat.len() as f64 / elapsed.as_secs_f64(),
            percentile_us(&lat, 0.50),
            percentile_us(&lat, 0.99)
        );

        // 2. Through the unix socket: 8 client threads, each with its own connection.
        let shutdown = core.shutdown_token();
        crate::daemon::start_listeners(&core, shutdown.clone()).await?;
        let clients = 8;
        let per_client = 2_000;
        let start = Instant::now();
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let paths = paths.clone();
                std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                    let mut client = crate::client::Client::connect(&paths)?;
                    let mut lat = Vec::with_capacity(per_client);
                    for _ in 0..per_client {
                        let t = Instant::now();
                        client.emit(&Event::new("bench.socket", "bench"))?;
                        lat.push(t.elapsed());
                    }
                    Ok(lat)
                })
            })
            .collect();
        let mut lat = Vec::new();
        for h in handles {
            lat.extend(h.join().map_err(|_| anyhow::anyhow!("client thread panicked"))??);
        }
        let elapsed = start.elapsed();
        lat.sort();
        outln!(
            "store via socket: {} emits by {} clients in {:.2}s = {:.0} events/s; latency p50 {:.0} µs, p99 {:.0} µs",
            lat.len(),
            clients,
            elapsed.as_secs_f64(),
            lat.len() as f64 / elapsed.as_secs_f64(),
            percentile_us(&lat, 0.50),
            percentile_us(&lat, 0.99)
        );
        core.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
