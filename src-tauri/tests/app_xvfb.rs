//! The real menu-bar app on a virtual display (Xvfb) with its own D-Bus session bus:
//! it starts, hosts the core, survives the missing tray host (warning), opens the panel, and the
//! panel really rendered (the screen is not blank; the web view's DOM holds the key labels).
//! A second launch forwards its flags to the first (single instance); a hidden panel releases
//! its WebKit content process; an app started for a home that is already run attaches to it.
//!
//! Needs `Xvfb`, `dbus-daemon` and ImageMagick (`import`, `convert`); a missing one fails the
//! test with the package to install.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const APP: &str = env!("CARGO_BIN_EXE_paios-app");

fn require(program: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "this test needs `{program}` (Debian: `apt-get install {package}`)"
    );
}

/// A child process killed (and reaped) on drop.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A virtual X display plus a private session bus, for as long as this lives.
struct Desktop {
    display: String,
    bus: String,
    _x: Guard,
    _dbus: Guard,
}

impl Desktop {
    fn start() -> Desktop {
        require("Xvfb", "xvfb");
        require("dbus-daemon", "dbus");
        require("import", "imagemagick");
        require("convert", "imagemagick");
        let mut x = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start Xvfb");
        let display = first_line(x.stdout.take().unwrap());
        let x = Guard(x);
        let mut dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start dbus-daemon");
        let bus = first_line(dbus.stdout.take().unwrap());
        Desktop {
            display: format!(":{display}"),
            bus,
            _x: x,
            _dbus: Guard(dbus),
        }
    }

    fn app(&self, home: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(APP);
        c.args(args)
            .env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("PAIOS_HOME", home)
            .env("PAIOS_UI_DIR", ui_dir())
            .env("PAIOS_APP_PANEL_KEEP_S", "1")
            .env("PAIOS_LOG", "info")
            // Hermetic: the usage ledger must not read this machine's own brain logs.
            .env("CLAUDE_CONFIG_DIR", home.join("claude"))
            .env("CODEX_HOME", home.join("codex"))
            .env_remove("WAYLAND_DISPLAY");
        c
    }

    fn screenshot(&self, path: &Path) {
        let ok = Command::new("import")
            .args(["-display", &self.display, "-window", "root"])
            .arg(path)
            .status()
            .expect("cannot run import");
        assert!(ok.success(), "import could not capture the screen");
    }
}

fn first_line(out: impl Read) -> String {
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    line.trim().to_string()
}

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui")
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Direct children of `pid` whose command name starts with `prefix`.
fn children_named(pid: u32, prefix: &str) -> Vec<u32> {
    let out = Command::new("ps")
        .args(["-o", "pid=,comm=", "--ppid", &pid.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let pid = parts.next()?.parse().ok()?;
            parts.next()?.starts_with(prefix).then_some(pid)
        })
        .collect()
}

/// (mean, standard deviation) of the image's brightness, 0..1.
fn brightness(path: &Path) -> (f64, f64) {
    let out = Command::new("convert")
        .arg(path)
        .args([
            "-colorspace",
            "Gray",
            "-format",
            "%[fx:mean] %[fx:standard_deviation]",
            "info:",
        ])
        .output()
        .expect("cannot run convert");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

#[test]
fn app_starts_opens_a_rendered_panel_and_releases_it_when_hidden() {
    let desktop = Desktop::start();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("paios.toml"),
        "[api]\nport = 0\n\n[[service]]\nname = \"sleeper\"\ncommand = [\"sleep\", \"3600\"]\n",
    )
    .unwrap();
    let dump = home.path().join("panel.txt");
    let log_path = home.path().join("app.log");
    let app = desktop
        .app(
            home.path(),
            &["--open-panel", "--keep-panel-on-blur", "--dump-panel-text"],
        )
        .arg(&dump)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("cannot start paios-app");
    let pid = app.id();
    let mut app = Guard(app);
    let log = || read(&log_path);

    // It hosts the core (so `api.port` appears) and the panel page loads and renders its data.
    wait_for("the panel's text dump", Duration::from_secs(90), || {
        if let Ok(Some(status)) = app.0.try_wait() {
            panic!("paios-app exited ({status}):\n{}", log());
        }
        read(&dump).contains("daemon pid")
    });
    let text = read(&dump);
    for label in [
        "PAIOS",
        "Services",
        "Approvals",
        "Costs",
        "Incidents",
        "live",
    ] {
        assert!(
            text.to_lowercase().contains(&label.to_lowercase()),
            "the panel does not show {label:?}:\n{text}"
        );
    }
    assert!(
        text.contains(&format!("daemon pid {pid}")),
        "the panel should show the app's own in-process core (pid {pid}):\n{text}"
    );
    let shot = home.path().join("panel.png");
    desktop.screenshot(&shot);
    let (mean, deviation) = brightness(&shot);
    assert!(
        mean > 0.15 && deviation > 0.1,
        "the screen looks blank (mean {mean:.3}, deviation {deviation:.3}); log:\n{}",
        log()
    );
    if let Some(keep) = std::env::var_os("PAIOS_APP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    assert!(
        log().contains("no system tray host found"),
        "expected a warning about the missing tray host:\n{}",
        log()
    );

    // A second launch hands its flags to the running app and exits.
    let hide = desktop
        .app(home.path(), &["--hide-panel"])
        .output()
        .unwrap();
    assert!(hide.status.success(), "second launch failed: {hide:?}");
    wait_for(
        "the hidden panel's WebKit content process to go away",
        Duration::from_secs(30),
        || children_named(pid, "WebKitWebProces").is_empty(),
    );
    assert!(log().contains("releasing its web view"), "{}", log());

    // Showing it again builds a new web view that renders the panel again.
    std::fs::remove_file(&dump).unwrap();
    let show = desktop
        .app(home.path(), &["--show-panel"])
        .output()
        .unwrap();
    assert!(show.status.success(), "second launch failed: {show:?}");
    wait_for("the reopened panel", Duration::from_secs(60), || {
        read(&dump).contains("daemon pid")
    });

    // An app started for the same home on another session (no single-instance link) must not
    // supervise it a second time: it attaches to the running core as a client.
    let other_bus = Desktop::start();
    let mut second = Guard(
        other_bus
            .app(home.path(), &[])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(second.0.stderr.take().unwrap());
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.contains("attached to the PAIOS daemon") && Instant::now() < deadline {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        seen.push_str(&line);
    }
    assert!(
        seen.contains(&format!("attached to the PAIOS daemon (pid {pid})")),
        "the second app did not attach to the first one's core:\n{seen}"
    );
    drop(second);

    // SIGTERM quits cleanly: the core stops and the process exits 0.
    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = app.0.wait().unwrap();
    assert!(status.success(), "exit status {status}; log:\n{}", log());
}
