//! `paios bench watchdog`: crash→respawn latency (SIGKILL a small service N times) and
//! hang-detection time (SIGSTOP an HTTP service), for PAIOS's watchdog and, in the same run, for
//! supervisord (the Debian package `supervisor`) run privately in a temp folder.
//!
//! Both supervisors run the same program, which appends its pid to a marker file when it
//! starts; latency is from the `kill` call to the new pid appearing there, polled every
//! millisecond. Figures are printed, never asserted. `PAIOS_BENCH_KILLS` changes N (default 200).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use paios_core::config::Config;
use paios_core::events::kind;

use crate::percentile_us;

/// Uptime before each kill, so every kill meets the initial backoff (stable_after_ms = 300).
const SETTLE: Duration = Duration::from_millis(350);

pub fn run() -> anyhow::Result<ExitCode> {
    let kills: usize = std::env::var("PAIOS_BENCH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::Builder::new()
        .prefix("paios-bench-watchdog-")
        .tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    let lat = runtime.block_on(paios_respawn(dir.path(), kills))?;
    report(
        "crash→respawn, paios watchdog (initial_backoff_ms = 100)",
        &lat,
    );
    match supervisord_respawn(dir.path(), kills) {
        Ok((version, lat)) => report(
            &format!("crash→respawn, supervisord {version} (autorestart, startsecs = 0)"),
            &lat,
        ),
        Err(e) => println!(
            "crash→respawn, supervisord: not measured: {e:#} (install the Debian package `supervisor`)"
        ),
    }

    match runtime.block_on(paios_hang(dir.path(), 10)) {
        Ok(lat) => report(
            "hang detection, paios watchdog (http probe every 200 ms, timeout 200 ms, failures 3)",
            &lat,
        ),
        Err(e) => println!("hang detection, paios: not measured: {e:#}"),
    }
    match supervisord_hang(dir.path()) {
        Ok(state) => println!(
            "hang detection, supervisord: none (it has no health probes); 5 s after SIGSTOP its state is {state}"
        ),
        Err(e) => println!("hang detection, supervisord: not measured: {e:#}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn report(what: &str, lat: &[Duration]) {
    let mut sorted = lat.to_vec();
    sorted.sort();
    println!(
        "{what}: n = {}, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        sorted.len(),
        percentile_us(&sorted, 0.50) / 1000.0,
        percentile_us(&sorted, 0.99) / 1000.0,
        sorted
            .last()
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0),
    );
}

/// The program both supervisors run: records its pid, then sleeps.
fn marker_script(marker: &Path) -> String {
    format!("echo $$ >> '{}'; exec sleep 100000", marker.display())
}

fn last_pid(marker: &Path) -> Option<i32> {
    std::fs::read_to_string(marker)
        .ok()?
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

/// Wait until the marker names a pid other than `old`.
fn wait_new_pid(marker: &Path, old: Option<i32>, timeout: Duration) -> anyhow::Result<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(pid) = last_pid(marker).filter(|p| Some(*p) != old) {
            return Ok(pid);
        }
        if Instant::now() > deadline {
            bail!(
                "no restart within {timeout:?} (marker {})",
                marker.display()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn kill_loop(marker: &Path, kills: usize) -> anyhow::Result<Vec<Duration>> {
    let mut pid = wait_new_pid(marker, None, Duration::from_secs(30))?;
    let mut lat = Vec::with_capacity(kills);
    for _ in 0..kills {
        std::thread::sleep(SETTLE);
        // SAFETY: plain kill(2) of a pid our supervisor just started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let t0 = Instant::now();
        pid = wait_new_pid(marker, Some(pid), Duration::from_secs(30))?;
        lat.push(t0.elapsed());
    }
    Ok(lat)
}

fn bench_config(services: &str) -> anyhow::Result<Config> {
    Config::parse_str(
        Path::new("bench.toml"),
        &format!("[api]\nport = 0\n[alerts]\ndesktop = false\n{services}"),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.into()).to_string()
}

async fn paios_respawn(dir: &Path, kills: usize) -> anyhow::Result<Vec<Duration>> {
    let home = dir.join("paios-respawn");
    let marker = dir.join("paios-respawn.pids");
    let config = bench_config(&format!(
        r#"[[service]]
name = "victim"
command = ["sh", "-c", {}]
[service.probe]
interval_ms = 1000
[service.restart]
initial_backoff_ms = 100
stable_after_ms = 300
crash_loop = {{ max_exits = 100000, window_s = 1 }}
"#,
        toml_str(&marker_script(&marker))
    ))?;
    let core = paios_core::Core::start(paios_core::paths::Paths::at(&home), config).await?;
    let result = tokio::task::spawn_blocking(move || kill_loop(&marker, kills)).await?;
    core.shutdown().await;
    result
}

async fn paios_hang(dir: &Path, rounds: usize) -> anyhow::Result<Vec<Duration>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let home = dir.join("paios-hang");
    let config = bench_config(&paios_testkit::services::python_http_service(
        "web",
        port,
        "interval_ms = 200\ntimeout_ms = 200\nfailures = 3\nstartup_grace_ms = 10000\n\
         [service.restart]\ninitial_backoff_ms = 100\n\
         crash_loop = { max_exits = 1000, window_s = 1 }",
    ))?;
    let core = paios_core::Core::start(paios_core::paths::Paths::at(&home), config).await?;
    let mut events = core.subscribe();
    let result = async {
        let mut lat = Vec::new();
        for _ in 0..rounds {
            // Wait for a running, probed service.
            let deadline = Instant::now() + Duration::from_secs(30);
            let pid = loop {
                let s = paios_core::watchdog::status_json(&core);
                if s[0]["state"] == "running" && s[0]["probe"]["ok"] == true {
                    break s[0]["pid"].as_i64().context("no pid")? as i32;
                }
                if Instant::now() > deadline {
                    bail!("the http service did not come up: {s}");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            while events.try_recv().is_ok() {}
            // SAFETY: plain kill(2) of a pid our supervisor started.
            unsafe { libc::kill(pid, libc::SIGSTOP) };
            let t0 = Instant::now();
            loop {
                let ev = tokio::time::timeout(Duration::from_secs(30), events.recv())
                    .await
                    .context("no service.hung within 30 s")??;
                if ev.kind == kind::SERVICE_HUNG {
                    lat.push(t0.elapsed());
                    break;
                }
            }
        }
        Ok(lat)
    }
    .await;
    core.shutdown().await;
    result
}

/// A private supervisord (own config, socket and logs in `dir`), killed on drop.
struct Supervisord {
    child: std::process::Child,
    conf: PathBuf,
}

impl Supervisord {
    fn start(dir: &Path, name: &str, program: &str) -> anyhow::Result<Self> {
        let base = dir.join(name);
        std::fs::create_dir_all(&base)?;
        let conf = base.join("supervisord.conf");
        let d = base.display();
        std::fs::write(
            &conf,
            format!(
                "[unix_http_server]\nfile={d}/supervisor.sock\n\
                 [supervisord]\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\nnodaemon=true\nchildlogdir={d}\n\
                 [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
                 [supervisorctl]\nserverurl=unix://{d}/supervisor.sock\n\
                 [program:victim]\ncommand={}\nautorestart=true\nstartsecs=0\nstartretries=100000\nstopasgroup=true\nkillasgroup=true\n",
                program.replace('%', "%%")
            ),
        )?;
        let child = std::process::Command::new("supervisord")
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("cannot run supervisord")?;
        Ok(Self { child, conf })
    }

    fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = std::process::Command::new("supervisorctl")
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .output()
            .context("cannot run supervisorctl")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Supervisord {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) of the supervisord we started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn supervisord_version() -> anyhow::Result<String> {
    let out = std::process::Command::new("supervisord")
        .arg("--version")
        .output()
        .context("supervisord is not installed")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn supervisord_respawn(dir: &Path, kills: usize) -> anyhow::Result<(String, Vec<Duration>)> {
    let version = supervisord_version()?;
    let marker = dir.join("supervisord-respawn.pids");
    let program = format!("sh -c \"{}\"", marker_script(&marker));
    let _sup = Supervisord::start(dir, "supervisord-respawn", &program)?;
    Ok((version, kill_loop(&marker, kills)?))
}

fn supervisord_hang(dir: &Path) -> anyhow::Result<String> {
    supervisord_version()?;
    let marker = dir.join("supervisord-hang.pids");
    let program = format!("sh -c \"{}\"", marker_script(&marker));
    let sup = Supervisord::start(dir, "supervisord-hang", &program)?;
    let pid = wait_new_pid(&marker, None, Duration::from_secs(30))?;
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: plain kill(2) of a pid supervisord just started.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_secs(5));
    let status = sup.ctl(&["status", "victim"])?;
    unsafe { libc::kill(pid, libc::SIGCONT) };
    Ok(status
        .split_whitespace()
        .nth(1)
        .unwrap_or("unknown")
        .to_string())
}
