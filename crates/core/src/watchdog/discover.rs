//! Discovery: the OpenClaw gateway supervised with no `[[service]]` table.
//!
//! A new user's `paios.toml` supervises nothing, yet the gateway is the one always-on brain. When
//! no `[[service]]` is the gateway and `[watchdog] adopt_gateway` is on (the default), the
//! watchdog looks for one: its systemd user unit (`openclaw-gateway.service`) or launchd agent
//! (`ai.openclaw.gateway`) running, or anything answering the gateway's port
//! ([`crate::brains::openclaw::gateway_port`]). What it finds becomes a service named
//! `openclaw-gateway`, marked [`ServiceConfig::discovered`] with how it was found, and is
//! supervised like a configured one: adopted while it answers (never started a second time),
//! probed on `/readyz` for hangs, restarted through its manager, or started as
//! `openclaw gateway run` when a copy run by hand dies.
//!
//! This module only decides; it never starts, stops or configures anything, and a gateway that is
//! neither running nor managed is not invented: `paios status` then says nothing is watched.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::adopt;
use super::config::{ProbeConfig, ProbeKind, ServiceConfig};

/// The name a discovered gateway is supervised under (its runbook has the same name).
pub const GATEWAY_SERVICE: &str = "openclaw-gateway";
/// The gateway's systemd user unit, as OpenClaw's installer names it.
const SYSTEMD_UNIT: &str = "openclaw-gateway.service";
/// The gateway's launchd label, as OpenClaw's installer names it.
const LAUNCHD_LABEL: &str = "ai.openclaw.gateway";
/// How long a connect to the gateway's port may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

/// Whether `cfg` is the gateway: named so, or running `openclaw gateway …`.
pub fn is_gateway(cfg: &ServiceConfig) -> bool {
    if cfg.name == GATEWAY_SERVICE {
        return true;
    }
    let program = cfg
        .command
        .first()
        .and_then(|p| std::path::Path::new(p).file_name())
        .and_then(|p| p.to_str());
    program == Some("openclaw") && cfg.command.get(1).map(String::as_str) == Some("gateway")
}

/// The service table a discovered gateway on `port` is supervised with (before it is found).
fn gateway_service(port: u16) -> ServiceConfig {
    ServiceConfig {
        name: GATEWAY_SERVICE.into(),
        command: ["openclaw", "gateway", "run", "--bind", "loopback", "--port"]
            .iter()
            .map(|s| s.to_string())
            .chain([port.to_string()])
            .collect(),
        env: [("OPENCLAW_NO_RESPAWN".to_string(), "1".to_string())].into(),
        cwd: None,
        no_restart_exit_codes: vec![78],
        probe: ProbeConfig {
            // `/readyz` needs no token: a discovered gateway's token is the gateway's secret.
            kind: ProbeKind::Http,
            url: Some(format!("http://127.0.0.1:{port}/readyz")),
            // It takes seconds to get ready after a restart.
            startup_grace_ms: 60_000,
            ..ProbeConfig::default()
        },
        restart: Default::default(),
        autostart: true,
        runbook: Some(GATEWAY_SERVICE.into()),
        systemd_unit: Some(SYSTEMD_UNIT.into()),
        launchd_label: Some(LAUNCHD_LABEL.into()),
        discovered: None,
    }
}

/// The gateway to supervise besides `configured`, if there is one to find: none when a
/// configured service is the gateway or `adopt` is off.
pub async fn gateway(configured: &[ServiceConfig], adopt: bool) -> Option<ServiceConfig> {
    if !adopt || configured.iter().any(is_gateway) {
        return None;
    }
    gateway_on(crate::brains::openclaw::gateway_port()).await
}

/// The gateway on `port`, if its manager runs it or something answers there.
async fn gateway_on(port: u16) -> Option<ServiceConfig> {
    let mut cfg = gateway_service(port);
    let how = if let Some(manager) = adopt::active_manager(&cfg).await {
        format!("run by {manager}")
    } else {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let answers = tokio::task::spawn_blocking(move || {
            TcpStream::connect_timeout(&address, CONNECT_TIMEOUT).is_ok()
        })
        .await
        .unwrap_or(false);
        if !answers {
            return None;
        }
        format!("answering on {address}")
    };
    cfg.discovered = Some(format!("found {how}, with no [[service]] table"));
    Some(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_gateway_is_recognised_by_name_or_command() {
        let mut cfg = gateway_service(1);
        assert!(is_gateway(&cfg));
        cfg.name = "gw".into();
        assert!(is_gateway(&cfg));
        cfg.command = vec!["/opt/bin/openclaw".into(), "gateway".into()];
        assert!(is_gateway(&cfg));
        cfg.command = vec!["openclaw".into(), "mcp".into(), "serve".into()];
        assert!(!is_gateway(&cfg));
    }

    #[tokio::test]
    async fn nothing_is_invented_when_adoption_is_off_or_a_gateway_is_configured() {
        assert!(gateway(&[], false).await.is_none());
        assert!(gateway(&[gateway_service(1)], true).await.is_none());
    }

    #[tokio::test]
    async fn a_port_that_answers_is_a_gateway_to_adopt() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let found = gateway_on(port).await.expect("found");
        assert_eq!(found.name, GATEWAY_SERVICE);
        assert_eq!(found.command.last().unwrap(), &port.to_string());
        assert!(
            found
                .discovered
                .as_deref()
                .unwrap()
                .contains("answering on"),
            "{:?}",
            found.discovered
        );
        drop(listener);
        assert!(gateway_on(port).await.is_none(), "nothing answers now");
    }
}
