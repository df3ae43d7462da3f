//! `paios bench store`: appends in-process (batched, and one at a time from many tasks) and
//! through the unix socket, as the hooks and `paios emit` send them.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use paios_core::events::Event;

use crate::percentile_us;

pub fn run(n: usize) -> anyhow::Result<ExitCode> {
    let dir = tempfile::Builder::new().prefix("paios-bench-").tempdir()?;
    let paths = paios_core::paths::Paths::at(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let core = paios_core::Core::start(paths.clone(), Default::default()).await?;

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
        println!(
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
        println!(
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
        paios_core::daemon::start_listeners(&core, shutdown.clone()).await?;
        let clients = 8;
        let per_client = 2_000;
        let start = Instant::now();
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let paths = paths.clone();
                std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                    let mut client = paios_core::client::Client::connect(&paths)?;
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
        println!(
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
