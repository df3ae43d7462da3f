//! The recovery procedures (`docs/runbooks/*.md`), embedded in the binary so `paios runbook ID`
//! works anywhere, and the choice of runbook for a service's alerts.

use super::config::{ProbeKind, ServiceConfig};

/// (id, markdown) of every runbook.
pub const RUNBOOKS: &[(&str, &str)] = &[
    (
        "openclaw-gateway",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/runbooks/openclaw-gateway.md"
        )),
    ),
    (
        "mcp-servers",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/runbooks/mcp-servers.md"
        )),
    ),
    (
        "mcp-mesh",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/runbooks/mcp-mesh.md"
        )),
    ),
    (
        "claude",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/runbooks/claude.md"
        )),
    ),
    (
        "codex",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/runbooks/codex.md"
        )),
    ),
    (
        "paios-daemon",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/runbooks/paios-daemon.md"
        )),
    ),
    (
        "sqlite-store",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/runbooks/sqlite-store.md"
        )),
    ),
    (
        "configs",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/runbooks/configs.md"
        )),
    ),
    (
        "credentials",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/runbooks/credentials.md"
        )),
    ),
    (
        "services",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/runbooks/services.md"
        )),
    ),
    (
        "budgets",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/runbooks/budgets.md"
        )),
    ),
];

/// Runbooks a supervised service's alerts can point to (see [`for_service`]).
pub const COMPONENT_RUNBOOKS: &[&str] = &[
    "openclaw-gateway",
    "mcp-servers",
    "claude",
    "codex",
    "services",
];

/// The runbook with this id (a trailing `.md` is accepted).
pub fn get(id: &str) -> Option<&'static str> {
    let id = id.trim().trim_end_matches(".md");
    RUNBOOKS
        .iter()
        .find(|(n, _)| *n == id)
        .map(|(_, text)| *text)
}

/// Which runbook a service's alerts quote: its own `runbook` key if it names an existing one,
/// else chosen from what it runs.
pub fn for_service(cfg: &ServiceConfig) -> String {
    if let Some(id) = cfg.runbook.as_deref().filter(|id| get(id).is_some()) {
        return id.to_string();
    }
    let program = cfg
        .command
        .first()
        .map(|c| {
            std::path::Path::new(c)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let runs = |name: &str| cfg.command.iter().take(3).any(|a| a == name) || program == name;
    if cfg.probe.kind == ProbeKind::Openclaw || runs("openclaw") {
        "openclaw-gateway".into()
    } else if cfg.probe.kind == ProbeKind::Mcp {
        "mcp-servers".into()
    } else if runs("claude") {
        "claude".into()
    } else if runs("codex") {
        "codex".into()
    } else {
        "services".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runbook_has_the_four_sections() {
        for (id, text) in RUNBOOKS {
            for section in ["## Symptoms", "## Diagnose", "## Recover", "## Verify"] {
                assert!(text.contains(section), "runbook {id} lacks {section:?}");
            }
        }
    }

    #[test]
    fn services_get_a_runbook_that_exists() {
        let mut cfg: ServiceConfig =
            toml::from_str("name = \"gw\"\ncommand = [\"openclaw\", \"gateway\", \"run\"]")
                .unwrap();
        assert_eq!(for_service(&cfg), "openclaw-gateway");
        cfg.command = vec!["node".into(), "server.js".into()];
        assert_eq!(for_service(&cfg), "services");
        cfg.probe.kind = ProbeKind::Mcp;
        assert_eq!(for_service(&cfg), "mcp-servers");
        cfg.runbook = Some("nonexistent".into());
        assert_eq!(for_service(&cfg), "mcp-servers");
        cfg.runbook = Some("credentials".into());
        assert_eq!(for_service(&cfg), "credentials");
    }
}
