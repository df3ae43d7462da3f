//! How PAIOS is doing, read once: each service's tone, the overall tone with its label, and the
//! one-line summary. `paios status`, the panel and the tray all show this value and never apply
//! rules of their own, so they cannot disagree.
//!
//! Owns: the health rules. Never: gathers anything (callers pass what they have), does I/O.

use serde::Serialize;

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
}

/// Red if anything failed or hung; amber if anything is starting, restarting after a crash
/// (its own line is red while it waits to restart), failing its probe, or an approval waits;
/// grey when nothing is watched (an empty list is never "all good"); else green. Open
/// incidents are counted in the summary (a budget spent stays an incident all day, and must
/// not keep the tray amber once seen).
pub fn health(
    services: &[(String, Status)],
    pending_approvals: usize,
    open_incidents: usize,
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
    let watched = tones.iter().any(|s| s.tone != Tone::Idle);
    let tone = if broken {
        Tone::Down
    } else if degraded || pending_approvals > 0 {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watchdog::probe::ProbeOutcome;

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
        let h = health(&all_up, 0, 0);
        assert_eq!((h.tone, h.label), (Tone::Ok, "All good"));
        assert_eq!(h.summary, "all 2 services running");

        let probe_failing = [service("a", State::Running, Some(false))];
        assert_eq!(health(&probe_failing, 0, 0).tone, Tone::Warn);

        for state in [State::Hung, State::Failed] {
            let one_down = [
                service("a", State::Running, Some(true)),
                service("b", state, None),
            ];
            let h = health(&one_down, 0, 0);
            assert_eq!(h.tone, Tone::Down, "{state:?}");
            assert_eq!(h.services[1].tone, Tone::Down);
            assert_eq!(h.summary, "1 of 2 services running");
        }
        // Waiting to restart after a crash: its line is red, the whole is recovering (amber).
        let restarting = [
            service("a", State::Running, Some(true)),
            service("b", State::Backoff, None),
        ];
        let h = health(&restarting, 0, 0);
        assert_eq!((h.tone, h.services[1].tone), (Tone::Warn, Tone::Down));
    }

    #[test]
    fn nothing_watched_is_never_all_good_and_what_waits_for_the_user_is_amber() {
        let h = health(&[], 0, 0);
        assert_eq!((h.tone, h.label), (Tone::Idle, "Nothing watched"));
        assert_eq!(h.summary, "no supervised services");
        let stopped = [service("a", State::Stopped, None)];
        assert_eq!(health(&stopped, 0, 0).tone, Tone::Idle);

        let up = [service("a", State::Running, Some(true))];
        let h = health(&up, 2, 0);
        assert_eq!(h.tone, Tone::Warn);
        assert_eq!(h.summary, "1 service running · 2 approvals waiting");
        let h = health(&up, 0, 1);
        assert_eq!(
            h.tone,
            Tone::Ok,
            "an incident seen is not a reason to stay amber"
        );
        assert_eq!(h.summary, "1 service running · 1 open incident");
        assert_eq!(
            health(&[], 1, 0).tone,
            Tone::Warn,
            "an approval waits even with no services"
        );
    }
}
