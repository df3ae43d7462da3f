//! A child of ours while it runs: the probe loop (process, network or stdio-MCP probes on a
//! ticker, startup grace, the `running` state, recovery once it has stayed up), hang detection
//! (N failed probes in a row: kill the group, report `hung`), and commands that stop it.
//!
//! This module never decides what follows an exit (that is `exit`), and never leaves the child
//! half-stopped: stopping TERMs the whole process group, CONTs it (a SIGSTOPped process must
//! see the TERM) and KILLs it after the grace period.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Child;

use super::exit::exit_info;
use super::mcp_stdio::McpStdio;
use super::{Command, Flow, Reason, State, Supervisor};
use crate::alerts::{self, AlertKind};
use crate::events::payload::{ServiceHung, ServiceRecovered, ServiceStopped};
use crate::watchdog::config::ProbeKind;
use crate::watchdog::probe::{self, ProbeOutcome};

/// How a running child ended.
pub(super) enum Ended {
    Exited(ExitStatus),
    /// Killed by us for hanging; carries the probe error.
    Hung(ExitStatus, String),
}

impl Supervisor {
    /// Watch a running child: exits, probes and commands. `Err(flow)` when a command ended it.
    pub(super) async fn watch(
        &mut self,
        child: &mut Child,
        pid: u32,
        mcp: Option<&McpStdio>,
    ) -> Result<Ended, Flow> {
        let started = Instant::now();
        let probe_cfg = self.cfg.probe.clone();
        let grace = Duration::from_millis(probe_cfg.startup_grace_ms);
        let mut ticker = tokio::time::interval(Duration::from_millis(probe_cfg.interval_ms));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut inflight: Option<BoxFuture<'static, ProbeOutcome>> = None;
        let mut failures = 0u32;
        loop {
            tokio::select! {
                status = child.wait() => {
                    return Ok(Ended::Exited(status.unwrap_or_else(|_| ExitStatus::from_raw(0))));
                }
                _ = ticker.tick(), if inflight.is_none() => {
                    inflight = Some(self.make_probe(pid, mcp));
                }
                outcome = async { inflight.as_mut().expect("guarded").await }, if inflight.is_some() => {
                    inflight = None;
                    let ok = outcome.ok;
                    let error = outcome.error.clone().unwrap_or_default();
                    self.update(|s| s.probe = Some(outcome.clone()));
                    let starting = self.status.lock().map(|s| s.state == State::Starting).unwrap_or(false);
                    if ok {
                        failures = 0;
                        if starting {
                            self.set_state(State::Running);
                        }
                        // A probe that passes a moment after spawning proves little (a
                        // process probe passes for a program about to exit): count recovery
                        // only once the service has stayed up for a probe period (≤ 1 s).
                        let settled = started.elapsed()
                            >= Duration::from_millis(probe_cfg.interval_ms.min(1000));
                        let recovered_since = if settled { self.recovering_since.take() } else { None };
                        if let Some(since) = recovered_since {
                            self.emit(&ServiceRecovered {
                                pid: Some(pid),
                                down_ms: since.elapsed().as_millis() as u64,
                                probe: outcome.to_json(),
                                manager: None,
                            }).await;
                            alerts::resolve(&self.core, self.name(), &format!("{} is running again and answers its probe", self.name())).await;
                        }
                    } else if starting && started.elapsed() < grace {
                        // Still starting up: failures do not count yet.
                    } else {
                        failures += 1;
                        if failures >= probe_cfg.failures {
                            let status = self.kill_hung(child, pid, failures, &error).await;
                            return Ok(Ended::Hung(status, error));
                        }
                    }
                }
                cmd = self.rx.recv() => match cmd {
                    Some(Command::Start(reply)) => { let _ = reply.send(()); }
                    Some(Command::Stop(reply)) => {
                        self.stop_child(child, pid).await;
                        self.emit(&ServiceStopped { pid: Some(pid), by: "request".into(), manager: None }).await;
                        let _ = reply.send(());
                        return Err(Flow::Idle);
                    }
                    Some(Command::Restart(reply)) => {
                        self.stop_child(child, pid).await;
                        self.policy.reset();
                        // An open incident (the guardian's rollback of its config) closes once
                        // the restarted copy answers, as after an idle start.
                        if crate::alerts::is_open(&self.core, self.name()) {
                            self.recovering_since = Some(Instant::now());
                        }
                        let _ = reply.send(());
                        return Err(Flow::Spawn(Some(Reason::Manual), None));
                    }
                    Some(Command::Shutdown(reply)) => {
                        self.stop_child(child, pid).await;
                        self.emit(&ServiceStopped { pid: Some(pid), by: "shutdown".into(), manager: None }).await;
                        let _ = reply.send(());
                        return Err(Flow::Exit);
                    }
                    None => {
                        self.stop_child(child, pid).await;
                        return Err(Flow::Exit);
                    }
                }
            }
        }
    }

    fn make_probe(&self, pid: u32, mcp: Option<&McpStdio>) -> BoxFuture<'static, ProbeOutcome> {
        let cfg = self.cfg.probe.clone();
        match (cfg.kind, mcp) {
            (ProbeKind::Process, _) => {
                let started = Instant::now();
                let result = probe::process(pid);
                Box::pin(async move { ProbeOutcome::new(started, result) })
            }
            (ProbeKind::Mcp, Some(mcp)) => Box::pin(mcp.ping(cfg.timeout_ms)),
            _ => Box::pin(async move { probe::run_network(&cfg).await }),
        }
    }

    async fn kill_hung(
        &mut self,
        child: &mut Child,
        pid: u32,
        failures: u32,
        error: &str,
    ) -> ExitStatus {
        self.set_state(State::Hung);
        self.note(&format!(
            "hung: {failures} failed probes ({error}); killing"
        ));
        self.emit(&ServiceHung {
            pid: Some(pid),
            failures: Some(failures),
            error: error.to_string(),
            ..Default::default()
        })
        .await;
        self.alert(
            AlertKind::ServiceHung,
            format!(
                "{} is alive but failed {failures} probes in a row ({error}); killing and restarting it",
                self.name()
            ),
        )
        .await;
        self.recovering_since.get_or_insert_with(Instant::now);
        terminate(
            child,
            pid,
            Duration::from_millis(self.cfg.restart.stop_grace_ms),
        )
        .await
    }

    pub(super) async fn stop_child(&mut self, child: &mut Child, pid: u32) {
        self.note(&format!("stopping pid {pid}"));
        let status = terminate(
            child,
            pid,
            Duration::from_millis(self.cfg.restart.stop_grace_ms),
        )
        .await;
        self.update(|s| {
            s.pid = None;
            s.last_exit = Some(exit_info(&status));
        });
    }
}

/// TERM the group (and CONT it, so a stopped process can act on the TERM), KILL after `grace`.
async fn terminate(child: &mut Child, pid: u32, grace: Duration) -> ExitStatus {
    let group = Pid::from_raw(pid as i32);
    let _ = killpg(group, Signal::SIGTERM);
    let _ = killpg(group, Signal::SIGCONT);
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(Ok(status)) => status,
        _ => {
            let _ = killpg(group, Signal::SIGKILL);
            child
                .wait()
                .await
                .unwrap_or_else(|_| ExitStatus::from_raw(libc::SIGKILL))
        }
    };
    let _ = killpg(group, Signal::SIGKILL);
    status
}
