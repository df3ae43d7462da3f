//! A copy that runs outside PAIOS (under systemd or launchd, or started by hand), adopted
//! instead of started twice: probe it, and when it stops answering, restart it through its
//! manager — or, run by nobody, stop it and take it over as a child of ours.
//!
//! This module never kills an adopted copy that has a manager (the manager restarts it), and on
//! shutdown leaves adopted copies running: PAIOS did not start them.

use std::time::{Duration, Instant};

use super::{Command, Flow, Reason, State, Supervisor, Waiting};
use crate::alerts::{self, AlertKind};
use crate::events::payload::{ServiceAdopted, ServiceHung, ServiceRecovered, ServiceStopped};
use crate::watchdog::{adopt, probe};

impl Supervisor {
    /// Monitor a copy that runs outside PAIOS; restart it through its manager (or take it over).
    pub(super) async fn watch_adopted(&mut self, manager: Option<String>) -> Flow {
        let label = manager.clone().unwrap_or_else(|| "external".into());
        self.update(|s| {
            s.pid = None;
            s.managed_by = Some(label.clone());
        });
        self.set_state(State::Adopted);
        self.note(&format!("adopted a copy already running ({label})"));
        self.emit(&ServiceAdopted {
            manager: label.clone(),
        })
        .await;
        if !probe::answers_without_pid(&self.cfg.probe) {
            // Only the manager can tell whether it runs; trust it.
            return self.idle(Waiting::Manager(manager)).await;
        }
        let grace = Duration::from_millis(self.cfg.probe.startup_grace_ms);
        let mut ticker = tokio::time::interval(Duration::from_millis(self.cfg.probe.interval_ms));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failures = 0u32;
        let mut grace_until: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    let outcome = probe::run_network(&self.cfg.probe).await;
                    let error = outcome.error.clone().unwrap_or_default();
                    let ok = outcome.ok;
                    self.update(|s| s.probe = Some(outcome.clone()));
                    if ok {
                        failures = 0;
                        grace_until = None;
                        if let Some(since) = self.recovering_since.take() {
                            self.emit(&ServiceRecovered {
                                pid: None,
                                down_ms: since.elapsed().as_millis() as u64,
                                probe: outcome.to_json(),
                                manager: Some(label.clone()),
                            }).await;
                            alerts::resolve(&self.core, self.name(), &format!("{} answers its probe again", self.name())).await;
                        }
                        continue;
                    }
                    if grace_until.is_some_and(|g| Instant::now() < g) {
                        continue;
                    }
                    failures += 1;
                    if failures < self.cfg.probe.failures {
                        continue;
                    }
                    failures = 0;
                    self.recovering_since.get_or_insert_with(Instant::now);
                    self.emit(&ServiceHung { adopted: true, manager: Some(label.clone()), error: error.to_string(), ..Default::default() }).await;
                    match &manager {
                        Some(m) => {
                            let result = adopt::restart(m).await;
                            self.alert(AlertKind::ServiceUnreachable, format!(
                                "{} (run by {m}) stopped answering its probe ({error}); restarting it through {m}{}",
                                self.name(),
                                result.as_ref().err().map(|e| format!(" — which failed: {e}")).unwrap_or_default(),
                            )).await;
                            self.restarted_through(m, "hung", result).await;
                            grace_until = Some(Instant::now() + grace);
                        }
                        None => {
                            self.alert(AlertKind::ServiceUnreachable, format!(
                                "{} was running outside PAIOS and stopped answering its probe ({error}); PAIOS takes it over",
                                self.name()
                            )).await;
                            if let Some(pid) = self.cfg.probe.address.as_deref().or(self.cfg.probe.url.as_deref()).and_then(adopt::listener_pid) {
                                self.note(&format!("stopping the unresponsive external copy (pid {pid})"));
                                adopt::terminate_pid(pid, Duration::from_millis(self.cfg.restart.stop_grace_ms)).await;
                            }
                            return Flow::Spawn(Some(Reason::Takeover), None);
                        }
                    }
                }
                cmd = self.rx.recv() => match cmd {
                    None => return Flow::Exit,
                    Some(Command::Shutdown(reply)) => { let _ = reply.send(()); return Flow::Exit; }
                    Some(Command::Start(reply)) => { let _ = reply.send(()); }
                    Some(Command::Stop(reply)) => {
                        if let Some(m) = &manager {
                            let _ = adopt::stop(m).await;
                        }
                        self.emit(&ServiceStopped { pid: None, by: "request".into(), manager: Some(label.clone()) }).await;
                        let _ = reply.send(());
                        return Flow::Idle;
                    }
                    Some(Command::Restart(reply)) => {
                        match &manager {
                            Some(m) => {
                                let result = adopt::restart(m).await;
                                self.restarted_through(m, "manual", result).await;
                                grace_until = Some(Instant::now() + grace);
                                let _ = reply.send(());
                            }
                            None => {
                                let _ = reply.send(());
                                return Flow::Spawn(Some(Reason::Takeover), None);
                            }
                        }
                    }
                }
            }
        }
    }
}
