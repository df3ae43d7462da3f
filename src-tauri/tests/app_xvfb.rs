//! The real menu-bar app on a virtual display (Xvfb) with its own D-Bus session bus:
//! it starts, hosts the core, survives the missing tray host (warning), opens the panel, and the
//! panel really rendered (the screen is not blank; the web view's DOM holds the key labels).
//! The panel's web view lives in the window host child, never in the app; a second launch
//! forwards its flags to the first (single instance); once the panel has been hidden for the keep
//! period the window host exits and no WebKit process is left in the app's tree, only a spare
//! window host that has connected to nothing; the panel reopens in that spare and renders (text
//! and screenshot again); an app started for a home that is already run attaches to it. The
//! settings page's login item checkbox, clicked inside the app, writes and removes the XDG
//! autostart entry.
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

    /// Capture the screen to `path` and check it shows a page, not a blank window (`what` names
    /// what should be seen; `log` is the app's log, shown if it is blank).
    fn assert_rendered(&self, path: &Path, what: &str, log: &str) {
        self.screenshot(path);
        let (mean, deviation) = brightness(path);
        assert!(
            mean > 0.15 && deviation > 0.1,
            "{what} looks blank (mean {mean:.3}, deviation {deviation:.3}); log:\n{log}"
        );
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

/// Start the app with its stderr (the log) in `log`.
fn spawn_logged(mut app: Command, log: &Path) -> Guard {
    let child = app
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("cannot start paios-app");
    Guard(child)
}

fn sigterm(pid: u32) {
    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());
}

/// The child's exit status, once it has exited; fails with `why()` if that takes longer than
/// `within`.
fn exit_status_within(
    child: &mut Child,
    within: Duration,
    why: impl Fn() -> String,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "{}", why());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Every descendant of `pid` (children first), with its command name.
fn descendants(pid: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children = read(&task.path().join("children"));
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                let comm = read(Path::new(&format!("/proc/{child}/comm")));
                found.push((child, comm.trim().to_string()));
                queue.push(child);
            }
        }
    }
    found
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
    let mut command = desktop.app(
        home.path(),
        &["--open-panel", "--keep-panel-on-blur", "--dump-panel-text"],
    );
    command.arg(&dump);
    let mut app = spawn_logged(command, &log_path);
    let pid = app.0.id();
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
    // The web view is the window host's: the app itself has no WebKit child.
    let tree = descendants(pid);
    assert!(
        children_named(pid, "WebKit").is_empty(),
        "the app process should host no web view: {tree:?}"
    );
    assert!(
        tree.iter()
            .any(|(_, comm)| comm.starts_with("WebKitWebProces")),
        "the window host should have a WebKit content process: {tree:?}"
    );
    let shot = home.path().join("panel.png");
    desktop.assert_rendered(&shot, "the screen", &log());
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
    let first_host = children_named(pid, "paios-app");
    assert_eq!(
        first_host.len(),
        1,
        "one window host: {:?}",
        descendants(pid)
    );
    wait_for(
        "the window host and every WebKit process to go away",
        Duration::from_secs(30),
        || {
            let tree = descendants(pid);
            !tree.iter().any(|(p, _)| first_host.contains(p))
                && !tree.iter().any(|(_, comm)| comm.starts_with("WebKit"))
        },
    );
    wait_for(
        "the app to log the window host's exit",
        Duration::from_secs(10),
        || log().contains("window host exited"),
    );
    // What stays is the service and a spare window host for the next window: loaded, waiting,
    // without a display connection or a child of its own.
    let mut spare = Vec::new();
    wait_for("a spare window host", Duration::from_secs(10), || {
        spare = children_named(pid, "paios-app");
        spare.len() == 1
    });
    let spare = spare[0];
    let tree = descendants(pid);
    assert!(
        tree.iter().all(|(p, comm)| comm == "sleep" || *p == spare),
        "only the service and the spare host should be left: {tree:?}"
    );
    let sockets: Vec<_> = std::fs::read_dir(format!("/proc/{spare}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .collect();
    assert!(
        sockets.is_empty(),
        "the spare host should have connected to nothing (display, bus): {sockets:?}"
    );

    // Showing it again builds a new web view, in the spare host, that renders the panel again.
    std::fs::remove_file(&dump).unwrap();
    let show = desktop
        .app(home.path(), &["--show-panel"])
        .output()
        .unwrap();
    assert!(show.status.success(), "second launch failed: {show:?}");
    wait_for("the reopened panel", Duration::from_secs(60), || {
        read(&dump).contains("daemon pid")
    });
    assert!(
        read(&dump).to_lowercase().contains("services"),
        "the reopened panel did not render:\n{}",
        read(&dump)
    );
    assert!(
        children_named(spare, "WebKitWebProces").len() == 1,
        "the reopened panel should live in the spare host {spare}: {:?}",
        descendants(pid)
    );
    let shot = home.path().join("reopened.png");
    desktop.assert_rendered(&shot, "the reopened panel", &log());

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
    sigterm(pid);
    let status = app.0.wait().unwrap();
    assert!(status.success(), "exit status {status}; log:\n{}", log());
}

/// The settings window's "Start PAIOS when I log in" checkbox, clicked in the app's own web view
/// (through the page's IPC and the capability that allows it), writes the XDG autostart entry and
/// removes it again. HOME is a temporary folder, so the machine's own login items are untouched.
/// Then a panel hidden while the settings window stays open releases its web process.
#[test]
fn settings_page_toggles_the_login_item() {
    let desktop = Desktop::start();
    let home = tempfile::tempdir().unwrap();
    let user_home = home.path().join("user");
    std::fs::create_dir_all(&user_home).unwrap();
    std::fs::write(home.path().join("paios.toml"), "[api]\nport = 0\n").unwrap();
    let log_path = home.path().join("app.log");
    let with_home = |mut c: Command| {
        c.env("HOME", &user_home)
            .env("XDG_CONFIG_HOME", user_home.join(".config"))
            .env("PAIOS_APP_TEST_HOOKS", "1");
        c
    };
    let mut app = spawn_logged(
        with_home(desktop.app(home.path(), &["--settings"])),
        &log_path,
    );
    let log = || read(&log_path);
    let entry = user_home.join(".config/autostart/PAIOS.desktop");
    assert!(!entry.exists());

    // Run a script in the settings window (through a second launch) and read its result.
    let mut n = 0;
    let mut eval = |script: &str| -> String {
        n += 1;
        let out = home.path().join(format!("eval-{n}.txt"));
        let mut launched = Guard(
            with_home(desktop.app(home.path(), &["--eval", "settings", script]))
                .arg(&out)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let status = exit_status_within(&mut launched.0, Duration::from_secs(20), || {
            "a second launch did not hand over to the app".to_string()
        });
        assert!(status.success(), "second launch failed: {status}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !out.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        read(&out)
    };
    let status = "document.querySelector('#login [role=status]')?.textContent ?? ''";
    // Only once the app has started its window host may a second launch hand over to it.
    wait_for("the window host", Duration::from_secs(60), || {
        if let Ok(Some(status)) = app.0.try_wait() {
            panic!("paios-app exited ({status}):\n{}", log());
        }
        log().contains("window host started")
    });
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !text.contains("Start PAIOS when I log in") {
        if let Ok(Some(status)) = app.0.try_wait() {
            panic!("paios-app exited ({status}):\n{}", log());
        }
        assert!(
            Instant::now() < deadline,
            "the settings page never showed the login item:\n{text}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(300));
        text = eval("document.body.innerText");
    }
    assert_eq!(
        eval("String(document.getElementById('login-item').checked)"),
        "false"
    );

    // Tick it: the autostart entry appears, starting this very binary.
    eval("document.getElementById('login-item').click(); 'clicked'");
    wait_for("the autostart entry", Duration::from_secs(20), || {
        entry.exists()
    });
    let desktop_entry = read(&entry);
    assert!(
        desktop_entry.contains("Exec=") && desktop_entry.contains("paios-app"),
        "{desktop_entry}"
    );
    wait_for("the page to confirm", Duration::from_secs(10), || {
        eval(status).contains("PAIOS starts when you log in")
    });
    assert_eq!(
        eval("String(document.getElementById('login-item').checked)"),
        "true"
    );

    // Untick it: the entry goes away.
    eval("document.getElementById('login-item').click(); 'clicked'");
    wait_for(
        "the autostart entry to go away",
        Duration::from_secs(20),
        || !entry.exists(),
    );
    wait_for("the page to confirm", Duration::from_secs(10), || {
        eval(status).contains("does not start at login")
    });
    assert!(
        log().contains("login item changed in the settings window"),
        "the app was not told:\n{}",
        log()
    );

    // The panel opened next to the settings window and hidden again does not keep its web
    // process for as long as the settings window stays open: it is released after the keep
    // period, and the panel still opens afterwards.
    let pid = app.0.id();
    let web_processes = || {
        descendants(pid)
            .iter()
            .filter(|(_, comm)| comm.starts_with("WebKitWebProces"))
            .count()
    };
    let launch = |args: &[&str]| {
        let out = with_home(desktop.app(home.path(), args)).output().unwrap();
        assert!(out.status.success(), "second launch failed: {out:?}");
    };
    launch(&["--show-panel"]);
    wait_for(
        "the panel next to the settings",
        Duration::from_secs(60),
        || log().contains("panel opened"),
    );
    assert_eq!(web_processes(), 2, "{:?}", descendants(pid));
    launch(&["--hide-panel"]);
    wait_for(
        "the hidden panel's web process to go",
        Duration::from_secs(30),
        || web_processes() == 1,
    );
    assert!(log().contains("hidden panel released"), "{}", log());
    launch(&["--show-panel"]);
    wait_for("the panel to open again", Duration::from_secs(60), || {
        log().matches("panel opened").count() == 2
    });
}

/// Quit (SIGTERM) while services flap and the tray is being redrawn: the app stops its core and
/// exits at once. It once deadlocked here — a tray redraw waiting for the main thread, the main
/// thread waiting for the core's store, the store waiting for the redrawing task's handle —
/// and otherwise waited out the store's 10 s shutdown limit on every quit.
#[test]
fn quitting_while_the_tray_redraws_does_not_wait_for_a_timeout() {
    let desktop = Desktop::start();
    for (round, delay_ms) in [0u64, 300, 700].into_iter().enumerate() {
        let home = tempfile::tempdir().unwrap();
        let mut config = String::from("[api]\nport = 0\n");
        for i in 0..4 {
            config.push_str(&format!(
                "[[service]]\nname = \"flap{i}\"\ncommand = [\"false\"]\n"
            ));
        }
        std::fs::write(home.path().join("paios.toml"), config).unwrap();
        let log_path = home.path().join("app.log");
        let mut app = spawn_logged(desktop.app(home.path(), &[]), &log_path);
        let pid = app.0.id();
        wait_for("the core's API", Duration::from_secs(60), || {
            home.path().join("api.port").exists()
        });
        std::thread::sleep(Duration::from_millis(delay_ms));
        sigterm(pid);
        let status = exit_status_within(&mut app.0, Duration::from_secs(8), || {
            format!(
                "round {round}: still running 8 s after SIGTERM; log:\n{}",
                read(&log_path)
            )
        });
        assert!(
            status.success(),
            "round {round}: {status}; log:\n{}",
            read(&log_path)
        );
    }
}
