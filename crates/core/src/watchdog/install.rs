//! `paios daemon install`: a login service that runs `paios daemon` and restarts it when it dies
//! (a systemd user unit on Linux, a LaunchAgent on macOS), so the watcher is itself watched.
//!
//! Pure text generation plus one file write; it never starts or enables anything by itself.

use std::path::{Path, PathBuf};

/// The launchd label of the PAIOS daemon.
pub const LAUNCHD_LABEL: &str = "ai.paios.daemon";
/// The systemd user unit of the PAIOS daemon.
pub const SYSTEMD_UNIT: &str = "paios.service";

/// Quote one argument for a systemd `ExecStart=` line.
fn systemd_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@".contains(c))
    {
        return s.to_string();
    }
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$");
    format!("\"{escaped}\"")
}

/// The systemd user unit for `exe daemon` with `PAIOS_HOME=home`.
pub fn systemd_unit(exe: &Path, home: &Path) -> String {
    format!(
        "# Written by `paios daemon install`. Enable with:\n\
         #   systemctl --user daemon-reload && systemctl --user enable --now {SYSTEMD_UNIT}\n\
         [Unit]\n\
         Description=PAIOS daemon (supervises the AI brains and their services)\n\
         After=default.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={} daemon\n\
         Environment={}\n\
         Restart=always\n\
         RestartSec=2\n\
         # SIGTERM to the daemon only: it stops its own children gracefully.\n\
         KillMode=mixed\n\
         TimeoutStopSec=60\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        systemd_quote(&exe.display().to_string()),
        systemd_quote(&format!("PAIOS_HOME={}", home.display())),
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The LaunchAgent plist for `exe daemon` with `PAIOS_HOME=home`.
pub fn launchd_plist(exe: &Path, home: &Path) -> String {
    let exe = xml_escape(&exe.display().to_string());
    let home_s = xml_escape(&home.display().to_string());
    let log = xml_escape(
        &crate::paths::Paths::at(home)
            .launchd_log()
            .display()
            .to_string(),
    );
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by `paios daemon install`. Load with: launchctl bootstrap gui/$(id -u) THIS_FILE -->
<plist version="1.0">
<dict>
  <key>Label</key><string>{LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array><string>{exe}</string><string>daemon</string></array>
  <key>EnvironmentVariables</key>
  <dict><key>PAIOS_HOME</key><string>{home_s}</string></dict>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><true/>
  <key>ThrottleInterval</key><integer>5</integer>
  <key>StandardErrorPath</key><string>{log}</string>
  <key>StandardOutPath</key><string>{log}</string>
</dict>
</plist>
"#
    )
}

/// Where the unit/agent goes for this platform, and its text.
pub fn for_this_platform(exe: &Path, home: &Path) -> std::io::Result<(PathBuf, String)> {
    let user_home = std::env::var_os("HOME").map(PathBuf::from).ok_or_else(|| {
        std::io::Error::other("HOME is not set; cannot find the user's service folder")
    })?;
    if cfg!(target_os = "macos") {
        Ok((
            user_home
                .join("Library/LaunchAgents")
                .join(format!("{LAUNCHD_LABEL}.plist")),
            launchd_plist(exe, home),
        ))
    } else {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| user_home.join(".config"));
        Ok((
            config.join("systemd/user").join(SYSTEMD_UNIT),
            systemd_unit(exe, home),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_restarts_always_and_quotes_paths() {
        let unit = systemd_unit(Path::new("/opt/my apps/paios"), Path::new("/home/u/p%x"));
        assert!(unit.contains("Restart=always"));
        assert!(
            unit.contains("ExecStart=\"/opt/my apps/paios\" daemon"),
            "{unit}"
        );
        assert!(
            unit.contains("Environment=\"PAIOS_HOME=/home/u/p%%x\""),
            "{unit}"
        );
    }

    #[test]
    fn plist_keeps_alive_and_escapes() {
        let plist = launchd_plist(Path::new("/a&b/paios"), Path::new("/h"));
        assert!(plist.contains("<key>KeepAlive</key><true/>"));
        assert!(plist.contains("/a&amp;b/paios"));
        assert!(plist.contains(LAUNCHD_LABEL));
    }
}
