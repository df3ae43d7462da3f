//! How PAIOS is doing, read once: each service's tone, the overall tone with its label, and the
//! one-line summary. `paios status`, the panel and the tray all show this value and never apply
//! rules of their own, so they cannot disagree.
//!
//! Owns: the health rules. Never: gathers anything (callers pass what they have), does I/O.

use serde::Serialize;

use crate::mcp::mesh::MeshReport;
use crate::mcp::watch::ServerHealth;
use crate::watchdog::service::{State, Status};

/// How something reads at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    /// Green: working.
    Ok,
    /// Amber: recovering, starting, or waiting for the user.
    Warn,
    /// Red: failed, hung, or restarting after a crash.
    Down,
    /// Grey: stopped, or nothing to judge.
    Idle,
}

impl Tone {
    /// The overall label, as the panel's header and the tray's tooltip say it.
    pub fn label(self) -> &'static str {
        match self {
            Tone::Ok => "All good",
            Tone::Warn => "Needs attention",
            Tone::Down => "Something is down",
            Tone::Idle => "Nothing watched",
        }
    }
}

/// The tone of one service.
pub fn service_tone(status: &Status) -> Tone {
    match status.state {
        State::Running | State::Adopted if status.probe.as_ref().is_some_and(|p| !p.ok) => {
            Tone::Warn
        }
        State::Running | State::Adopted => Tone::Ok,
        State::Starting => Tone::Warn,
        State::Backoff | State::Hung | State::Failed => Tone::Down,
        State::Stopped => Tone::Idle,
    }
}

/// One service's line in [`Health`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceHealth {
    /// The service's name, as configured under `[services.NAME]`.
    pub name: String,
    /// Its tone by [`service_tone`].
    pub tone: Tone,
}

/// The overall health (`paios status --json` → `health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// The overall tone (see [`health`] for the rules).
    pub tone: Tone,
    /// [`Tone::label`] of `tone`.
    pub label: &'static str,
    /// One line: "all 3 services running · 1 approval waiting".
    pub summary: String,
    /// Each service's tone, in the order the services were given; empty when none is supervised.
    pub services: Vec<ServiceHealth>,
    /// Approval requests waiting for the user (as passed in).
    pub pending_approvals: usize,
    /// Incidents not yet resolved (as passed in); counted in `summary`, never in `tone`.
    pub open_incidents: usize,
    /// The links between the brains and the MCP servers they use.
    pub mesh: MeshHealth,
}

/// One line of [`MeshHealth`]: a link (`from` brain → `to` server) or a registered server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeshLine {
    /// The brain whose config names the server.
    pub from: String,
    /// The server's name there.
    pub to: String,
    /// Green when it answers with tools, red when it fails, grey when it was not probed.
    pub tone: Tone,
    /// Why it is not green (the probe's error, or why it was not probed).
    pub reason: Option<String>,
    /// How long its probe took, in ms.
    pub latency_ms: Option<u64>,
    /// How many tools it listed.
    pub tools: usize,
}

/// The mesh as the panel and the tray show it (`health.mesh`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeshHealth {
    /// `paios mesh install` has been run.
    pub installed: bool,
    /// When the mesh check last ran (RFC 3339); `None` before the first.
    pub checked_at: Option<String>,
    /// Amber when a link or a registered server fails, green when all answer, grey when
    /// nothing was checked.
    pub tone: Tone,
    /// One line: "all 6 links answer · 2 MCP servers answer".
    pub summary: String,
    /// Every link of an installed brain, as last checked.
    pub links: Vec<MeshLine>,
    /// The other MCP servers registered in the brains, as last probed.
    pub servers: Vec<MeshLine>,
}

/// Read the last mesh check (`None`: not run yet, or the mesh is not installed) and the last
/// probe of the registered servers into the lines and tone the panel and the tray show.
pub fn mesh_health(
    installed: bool,
    checked: Option<(&str, &MeshReport)>,
    servers: &[ServerHealth],
) -> MeshHealth {
    let links: Vec<MeshLine> = checked
        .map(|(_, report)| {
            report
                .links
                .iter()
                .filter(|l| {
                    report
                        .brains
                        .iter()
                        .any(|b| b.name == l.brain && b.installed)
                })
                .map(|l| MeshLine {
                    from: l.brain.to_string(),
                    to: l.server.clone(),
                    tone: if l.ok { Tone::Ok } else { Tone::Down },
                    reason: l.error.clone(),
                    latency_ms: l.latency_ms,
                    tools: l.tools,
                })
                .collect()
        })
        .unwrap_or_default();
    let servers: Vec<MeshLine> = servers
        .iter()
        .map(|s| MeshLine {
            from: s.brain.to_string(),
            to: s.name.clone(),
            tone: match s.ok {
                Some(true) => Tone::Ok,
                Some(false) => Tone::Down,
                None => Tone::Idle,
            },
            reason: s.error.clone(),
            latency_ms: s.latency_ms,
            tools: s.tools.len(),
        })
        .collect();
    let count = |lines: &[MeshLine], tone: Tone| lines.iter().filter(|l| l.tone == tone).count();
    let mut parts = Vec::new();
    if !installed {
        parts.push("mesh not installed".to_string());
    } else if checked.is_none() {
        parts.push("mesh not checked yet".to_string());
    } else {
        let broken = count(&links, Tone::Down);
        parts.push(match (links.len(), broken) {
            (0, _) => "no links to check".to_string(),
            (1, 0) => "the link answers".to_string(),
            (n, 0) => format!("all {n} links answer"),
            (n, b) => format!("{b} of {n} links broken"),
        });
    }
    let probed = servers.len() - count(&servers, Tone::Idle);
    let failing = count(&servers, Tone::Down);
    match (probed, failing) {
        (0, _) => {}
        (1, 0) => parts.push("1 MCP server answers".into()),
        (n, 0) => parts.push(format!("{n} MCP servers answer")),
        (n, f) => parts.push(format!("{f} of {n} MCP servers failing")),
    }
    let tone = if links.iter().chain(&servers).any(|l| l.tone == Tone::Down) {
        Tone::Warn
    } else if links.iter().chain(&servers).any(|l| l.tone == Tone::Ok) {
        Tone::Ok
    } else {
        Tone::Idle
    };
    MeshHealth {
        installed,
        checked_at: checked.map(|(at, _)| at.to_string()),
        tone,
        summary: parts.join(" · "),
        links,
        servers,
    }
}

/// Red if anything failed or hung; amber if anything is starting, restarting after a crash
/// (its own line is red while it waits to restart), failing its probe, an approval waits, or
/// a mesh link or registered MCP server fails; grey when nothing is watched (an empty list is
/// never "all good"); else green. Open incidents are counted in the summary (a budget spent
/// stays an incident all day, and must not keep the tray amber once seen).
pub fn health(
    services: &[(String, Status)],
    pending_approvals: usize,
    open_incidents: usize,
    mesh: MeshHealth,
) -> Health {
    let tones: Vec<ServiceHealth> = services
        .iter()
        .map(|(name, status)| ServiceHealth {
            name: name.clone(),
            tone: service_tone(status),
        })
        .collect();
    let broken = services
        .iter()
        .any(|(_, s)| matches!(s.state, State::Failed | State::Hung));
    let degraded = tones
        .iter()
        .any(|s| matches!(s.tone, Tone::Warn | Tone::Down));
    let watched = tones.iter().any(|s| s.tone != Tone::Idle) || mesh.tone != Tone::Idle;
    let tone = if broken {
        Tone::Down
    } else if degraded || pending_approvals > 0 || mesh.tone == Tone::Warn {
        Tone::Warn
    } else if watched {
        Tone::Ok
    } else {
        Tone::Idle
    };
    let total = tones.len();
    let running = tones.iter().filter(|s| s.tone == Tone::Ok).count();
    let mut summary = if total == 0 {
        "no supervised services".to_string()
    } else if total == 1 && running == 1 {
        "1 service running".to_string()
    } else if running == total {
        format!("all {total} services running")
    } else {
        format!("{running} of {total} services running")
    };
    match pending_approvals {
        0 => {}
        1 => summary.push_str(" · 1 approval waiting"),
        n => summary.push_str(&format!(" · {n} approvals waiting")),
    }
    if mesh.tone == Tone::Warn {
        summary.push_str(" · ");
        summary.push_str(&mesh.summary);
    }
    match open_incidents {
        0 => {}
        1 => summary.push_str(" · 1 open incident"),
        n => summary.push_str(&format!(" · {n} open incidents")),
    }
    Health {
        tone,
        label: tone.label(),
        summary,
        services: tones,
        pending_approvals,
        open_incidents,
        mesh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::mesh::{BrainCheck, LinkCheck};
    use crate::watchdog::probe::ProbeOutcome;

    fn no_mesh() -> MeshHealth {
        mesh_health(false, None, &[])
    }

    fn link(brain: &'static str, server: &str, ok: bool) -> LinkCheck {
        LinkCheck {
            brain,
            server: server.into(),
            registered: true,
            ok,
            latency_ms: Some(3),
            tools: if ok { 9 } else { 0 },
            error: (!ok).then(|| "exited before answering".into()),
        }
    }

    fn brain(name: &'static str, installed: bool) -> BrainCheck {
        BrainCheck {
            name,
            installed,
            version: None,
            mcp_registered: installed,
            tools_visible: installed,
            error: None,
            config: String::new(),
        }
    }

    fn server(name: &str, ok: Option<bool>) -> ServerHealth {
        ServerHealth {
            brain: "claude",
            name: name.into(),
            target: "npx srv".into(),
            ok,
            latency_ms: ok.map(|_| 5),
            tools: if ok == Some(true) {
                vec!["a".into()]
            } else {
                vec![]
            },
            error: (ok != Some(true)).then(|| "why".into()),
            checked_at: String::new(),
        }
    }

    fn service(name: &str, state: State, probe_ok: Option<bool>) -> (String, Status) {
        let mut status = Status::new();
        status.state = state;
        status.probe = probe_ok.map(|ok| ProbeOutcome {
            ok,
            latency_ms: 1,
            at: chrono::Utc::now(),
            error: None,
        });
        (name.to_string(), status)
    }

    #[test]
    fn a_service_down_makes_everything_red_and_a_failing_probe_amber() {
        let all_up = [
            service("a", State::Running, Some(true)),
            service("b", State::Adopted, None),
        ];
        let h = health(&all_up, 0, 0, no_mesh());
        assert_eq!((h.tone, h.label), (Tone::Ok, "All good"));
        assert_eq!(h.summary, "all 2 services running");

        let probe_failing = [service("a", State::Running, Some(false))];
        assert_eq!(health(&probe_failing, 0, 0, no_mesh()).tone, Tone::Warn);

        for state in [State::Hung, State::Failed] {
            let one_down = [
                service("a", State::Running, Some(true)),
                service("b", state, None),
            ];
            let h = health(&one_down, 0, 0, no_mesh());
            assert_eq!(h.tone, Tone::Down, "{state:?}");
            assert_eq!(h.services[1].tone, Tone::Down);
            assert_eq!(h.summary, "1 of 2 services running");
        }
        // Waiting to restart after a crash: its line is red, the whole is recovering (amber).
        let restarting = [
            service("a", State::Running, Some(true)),
            service("b", State::Backoff, None),
        ];
        let h = health(&restarting, 0, 0, no_mesh());
        assert_eq!((h.tone, h.services[1].tone), (Tone::Warn, Tone::Down));
    }

    #[test]
    fn nothing_watched_is_never_all_good_and_what_waits_for_the_user_is_amber() {
        let h = health(&[], 0, 0, no_mesh());
        assert_eq!((h.tone, h.label), (Tone::Idle, "Nothing watched"));
        assert_eq!(h.summary, "no supervised services");
        let stopped = [service("a", State::Stopped, None)];
        assert_eq!(health(&stopped, 0, 0, no_mesh()).tone, Tone::Idle);

        let up = [service("a", State::Running, Some(true))];
        let h = health(&up, 2, 0, no_mesh());
        assert_eq!(h.tone, Tone::Warn);
        assert_eq!(h.summary, "1 service running · 2 approvals waiting");
        let h = health(&up, 0, 1, no_mesh());
        assert_eq!(
            h.tone,
            Tone::Ok,
            "an incident seen is not a reason to stay amber"
        );
        assert_eq!(h.summary, "1 service running · 1 open incident");
        assert_eq!(
            health(&[], 1, 0, no_mesh()).tone,
            Tone::Warn,
            "an approval waits even with no services"
        );
    }

    #[test]
    fn a_broken_link_or_failing_server_is_amber_and_named_and_an_absent_brain_is_not_judged() {
        let report = MeshReport {
            ok: false,
            brains: vec![
                brain("claude", true),
                brain("codex", true),
                brain("openclaw", false),
            ],
            links: vec![
                link("claude", "paios", true),
                link("codex", "paios", true),
                link("codex", "claude", false),
                link("openclaw", "paios", false),
            ],
        };
        let up = [service("a", State::Running, Some(true))];

        let mesh = mesh_health(true, Some(("2026-12-07T10:00:00Z", &report)), &[]);
        assert_eq!(
            mesh.links.len(),
            3,
            "openclaw is not installed: its links are not shown"
        );
        assert_eq!(mesh.tone, Tone::Warn);
        assert_eq!(mesh.summary, "1 of 3 links broken");
        let broken = &mesh.links[2];
        assert_eq!(
            (broken.from.as_str(), broken.to.as_str(), broken.tone),
            ("codex", "claude", Tone::Down)
        );
        assert_eq!(broken.reason.as_deref(), Some("exited before answering"));
        let h = health(&up, 0, 0, mesh);
        assert_eq!(h.tone, Tone::Warn);
        assert_eq!(h.summary, "1 service running · 1 of 3 links broken");

        let mut fixed = report.clone();
        fixed.links[2] = link("codex", "claude", true);
        let servers = [server("fs", Some(true)), server("web", None)];
        let mesh = mesh_health(true, Some(("2026-12-07T10:00:00Z", &fixed)), &servers);
        assert_eq!(
            (mesh.tone, mesh.summary.as_str()),
            (Tone::Ok, "all 3 links answer · 1 MCP server answers")
        );
        assert_eq!(
            mesh.servers[1].tone,
            Tone::Idle,
            "not probed is grey, not red"
        );
        let h = health(&up, 0, 0, mesh);
        assert_eq!(
            (h.tone, h.summary.as_str()),
            (Tone::Ok, "1 service running")
        );

        let failing = [server("fs", Some(false))];
        let mesh = mesh_health(false, None, &failing);
        assert_eq!(
            (mesh.tone, mesh.summary.as_str()),
            (
                Tone::Warn,
                "mesh not installed · 1 of 1 MCP servers failing"
            )
        );
        assert_eq!(health(&[], 0, 0, mesh).tone, Tone::Warn);

        let mesh = mesh_health(true, None, &[]);
        assert_eq!(
            (mesh.tone, mesh.summary.as_str()),
            (Tone::Idle, "mesh not checked yet")
        );
        assert_eq!(health(&[], 0, 0, mesh).label, "Nothing watched");
    }
}
