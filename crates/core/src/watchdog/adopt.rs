//! Adoption: services that already run outside PAIOS — under a service manager (systemd user
//! units on Linux, launchd agents on macOS) or started by hand — are monitored instead of being
//! started a second time, and restarted through their manager when they stop answering.
//!
//! Every external command here runs with a timeout and reports failure as text; nothing panics.

use std::time::Duration;

use tokio::process::Command;

use super::config::ServiceConfig;

const MANAGER_TIMEOUT: Duration = Duration::from_secs(20);

/// `systemd:UNIT` or `launchd:LABEL` when the configured manager runs the service right now.
pub async fn active_manager(cfg: &ServiceConfig) -> Option<String> {
    #[cfg(target_os = "linux")]
    if let Some(unit) = &cfg.systemd_unit {
        let ok = run(Command::new("systemctl").args(["--user", "is-active", "--quiet", unit]))
            .await
            .is_ok();
        if ok {
            return Some(format!("systemd:{unit}"));
        }
    }
    #[cfg(target_os = "macos")]
    if let Some(label) = &cfg.launchd_label {
        let target = format!("gui/{}/{label}", nix::unistd::getuid());
        if run(Command::new("launchctl").args(["print", &target]))
            .await
            .is_ok()
        {
            return Some(format!("launchd:{label}"));
        }
    }
    let _ = cfg;
    None
}

/// Restart a managed service through its manager.
pub async fn restart(manager: &str) -> Result<(), String> {
    match manager.split_once(':') {
        Some(("systemd", unit)) => {
            run(Command::new("systemctl").args(["--user", "restart", unit])).await
        }
        Some(("launchd", label)) => {
            let target = format!("gui/{}/{label}", nix::unistd::getuid());
            run(Command::new("launchctl").args(["kickstart", "-k", &target])).await
        }
        _ => Err(format!("unknown service manager {manager:?}")),
    }
}

/// Stop a managed service through its manager.
pub async fn stop(manager: &str) -> Result<(), String> {
    match manager.split_once(':') {
        Some(("systemd", unit)) => {
            run(Command::new("systemctl").args(["--user", "stop", unit])).await
        }
        Some(("launchd", label)) => {
            let target = format!("gui/{}/{label}", nix::unistd::getuid());
            run(Command::new("launchctl").args(["kill", "SIGTERM", &target])).await
        }
        _ => Err(format!("unknown service manager {manager:?}")),
    }
}

async fn run(cmd: &mut Command) -> Result<(), String> {
    let what = format!("{:?}", cmd.as_std());
    cmd.kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let out = tokio::time::timeout(MANAGER_TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("{what} did not finish within {MANAGER_TIMEOUT:?}"))?
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The TCP port in `host:port` or a URL.
pub fn port_of(address_or_url: &str) -> Option<u16> {
    if let Ok(url) = reqwest::Url::parse(address_or_url)
        && url.has_host()
    {
        return url.port_or_known_default();
    }
    address_or_url.rsplit_once(':')?.1.parse().ok()
}

/// The pid of the process listening on the port of `address_or_url` (Linux; None elsewhere).
pub fn listener_pid(address_or_url: &str) -> Option<u32> {
    let port = port_of(address_or_url)?;
    #[cfg(target_os = "linux")]
    {
        let mut inodes = Vec::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            if let Ok(text) = std::fs::read_to_string(table) {
                inodes.extend(listening_inodes(&text, port));
            }
        }
        if inodes.is_empty() {
            return None;
        }
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if let Ok(target) = std::fs::read_link(fd.path()) {
                    let t = target.to_string_lossy();
                    if inodes.iter().any(|i| t == format!("socket:[{i}]")) {
                        return Some(pid);
                    }
                }
            }
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = port;
        None
    }
}

/// Socket inodes in LISTEN state on `port` in a `/proc/net/tcp{,6}` table.
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local = cols.get(1)?;
            let state = cols.get(3)?;
            let inode = cols.get(9)?.parse::<u64>().ok()?;
            let p = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
            (p == port && *state == "0A").then_some(inode)
        })
        .collect()
}

/// TERM (and CONT) the process group led by `pid`; KILL it after `grace`.
pub async fn terminate_group(pid: u32, grace: Duration) {
    use nix::sys::signal::{Signal, kill, killpg};
    let p = nix::unistd::Pid::from_raw(pid as i32);
    let _ = killpg(p, Signal::SIGTERM);
    let _ = killpg(p, Signal::SIGCONT);
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        if kill(p, None).is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = killpg(p, Signal::SIGKILL);
}

/// TERM (and CONT) a process we did not start; KILL it after `grace`.
pub async fn terminate_pid(pid: u32, grace: Duration) {
    use nix::sys::signal::{Signal, kill};
    let p = nix::unistd::Pid::from_raw(pid as i32);
    let _ = kill(p, Signal::SIGTERM);
    let _ = kill(p, Signal::SIGCONT);
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        if kill(p, None).is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = kill(p, Signal::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_from_addresses_and_urls() {
        assert_eq!(port_of("127.0.0.1:18789"), Some(18789));
        assert_eq!(port_of("http://127.0.0.1:18789/readyz"), Some(18789));
        assert_eq!(port_of("http://localhost/x"), Some(80));
        assert_eq!(port_of("garbage"), None);
    }

    #[test]
    fn finds_listening_sockets_in_proc_tables() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:4965 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:4965 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 0x4965), vec![12345]);
        assert!(listening_inodes(table, 80).is_empty());
        assert!(listening_inodes("garbage\n\n x y z", 1).is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn finds_our_own_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        assert_eq!(listener_pid(&addr), Some(std::process::id()));
    }
}
