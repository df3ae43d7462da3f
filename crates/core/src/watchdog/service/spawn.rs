//! Getting a service running: adopt a copy that already runs, stop an orphan an earlier PAIOS
//! left behind, build the child's command, spawn it in its own process group with its pid file,
//! start its output pumps — then hand it to the probe loop (`running`) and its end to `exit`.
//!
//! This module never restarts anything by itself (that is `exit` with the restart machine),
//! never starts a second copy of a service that answers its probe, and writes no arguments of
//! the command into the log (they may carry tokens).

use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::Utc;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::sync::mpsc;

use super::mcp_stdio::McpStdio;
use super::output::{finish_pumps, pump};
use super::{Flow, Reason, State, Supervisor};
use crate::alerts::AlertKind;
use crate::brains::Brain;
use crate::events::payload::{ServiceFailed, ServiceRestarted, ServiceStarted, ServiceStopped};
use crate::watchdog::config::ProbeKind;
use crate::watchdog::{adopt, probe};

impl Supervisor {
    /// Adopt a copy that already runs (managed by systemd/launchd, or answering the probe).
    pub(super) async fn begin(&mut self) -> Flow {
        self.stop_orphan().await;
        if let Some(manager) = adopt::active_manager(&self.cfg).await {
            return Flow::Adopted(Some(manager));
        }
        if probe::answers_without_pid(&self.cfg.probe) {
            let outcome = probe::run_network(&self.cfg.probe).await;
            if outcome.ok {
                self.update(|s| s.probe = Some(outcome));
                return Flow::Adopted(None);
            }
        }
        Flow::Spawn(None, None)
    }

    fn pid_file(&self) -> std::path::PathBuf {
        self.core
            .paths()
            .service_logs_dir()
            .join(format!("{}.pid", self.cfg.name))
    }

    /// A child left running by an earlier PAIOS that was killed without stopping it (its pid
    /// file survived). Stopped, so the service never runs twice; one that answers a network
    /// probe is adopted instead by the caller.
    async fn stop_orphan(&mut self) {
        let Ok(text) = std::fs::read_to_string(self.pid_file()) else {
            return;
        };
        // The pid file goes only once its process is known to be gone (or not ours to stop):
        // a PAIOS killed while it waits for the orphan to exit must find it again next time.
        let forget = || {
            let _ = std::fs::remove_file(self.pid_file());
        };
        let mut parts = text.split_whitespace();
        let (Some(pid), Some(start)) = (
            parts.next().and_then(|p| p.parse::<u32>().ok()),
            parts.next().and_then(|p| p.parse::<u64>().ok()),
        ) else {
            forget();
            return;
        };
        if process_start_time(pid) != Some(start) {
            forget();
            return; // gone, or the pid now belongs to someone else
        }
        if probe::answers_without_pid(&self.cfg.probe)
            && probe::run_network(&self.cfg.probe).await.ok
        {
            forget();
            return; // it works: adopted by `begin`
        }
        self.note(&format!(
            "stopping pid {pid}, left running by an earlier PAIOS"
        ));
        adopt::terminate_group(pid, Duration::from_millis(self.cfg.restart.stop_grace_ms)).await;
        forget();
        self.emit(&ServiceStopped {
            pid: Some(pid),
            by: "orphan".into(),
            manager: None,
        })
        .await;
    }

    /// The child's command. A bare `claude`, `codex` or `openclaw` runs PAIOS's managed copy
    /// (with the Node it needs) when there is one, like everywhere else in PAIOS.
    fn build_command(&self) -> Result<tokio::process::Command, String> {
        let program = &self.cfg.command[0];
        let brain = match program.as_str() {
            "claude" => Some(Brain::Claude),
            "codex" => Some(Brain::Codex),
            "openclaw" => Some(Brain::Openclaw),
            _ => None,
        };
        let mut cmd = match brain {
            Some(brain) => tokio::process::Command::from(
                crate::brains::command(self.core.paths(), brain).map_err(|e| e.to_string())?,
            ),
            None => tokio::process::Command::new(program),
        };
        cmd.args(&self.cfg.command[1..])
            .envs(&self.cfg.env)
            .current_dir(
                self.cfg
                    .cwd
                    .as_deref()
                    .map(crate::paths::expand_tilde)
                    .unwrap_or_else(|| self.core.paths().home().to_path_buf()),
            )
            .stdin(if self.is_stdio_mcp() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        Ok(cmd)
    }

    fn is_stdio_mcp(&self) -> bool {
        self.cfg.probe.kind == ProbeKind::Mcp && self.cfg.probe.url.is_none()
    }

    pub(super) async fn spawn_and_watch(
        &mut self,
        reason: Option<Reason>,
        backoff: Option<(u32, Duration)>,
    ) -> Flow {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear_tail();
        let spawned = self
            .build_command()
            .and_then(|mut cmd| cmd.spawn().map_err(|e| e.to_string()));
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let message = format!(
                    "cannot start service {:?}: `{}`: {e} (check `command` in its [[service]] table; \
                     for a brain, `paios brains install`)",
                    self.name(),
                    self.cfg.command[0]
                );
                self.note(&message);
                self.update(|s| {
                    s.state = State::Failed;
                    s.since = Utc::now();
                    s.error = Some(message.clone());
                });
                self.emit(&ServiceFailed {
                    reason: "spawn".into(),
                    error: Some(message.clone()),
                    ..Default::default()
                })
                .await;
                self.alert(AlertKind::ServiceSpawnFailed, message).await;
                return Flow::Idle;
            }
        };
        let pid = child.id().unwrap_or_default();
        if let Some(start) = process_start_time(pid) {
            let _ = std::fs::write(self.pid_file(), format!("{pid} {start}\n"));
        }
        // The program only: arguments may carry tokens, and logs never hold secrets.
        self.note(&format!("started pid {pid}: {}", self.cfg.command[0]));
        self.update(|s| {
            s.pid = Some(pid);
            s.error = None;
            s.managed_by = None;
            if reason.is_some() {
                s.restarts += 1;
            }
        });
        self.set_state(State::Starting);
        self.emit(&ServiceStarted {
            pid,
            restart: reason.is_some(),
        })
        .await;
        if let Some(reason) = reason {
            let (attempt, delay) = backoff.unwrap_or((0, Duration::ZERO));
            self.emit(&ServiceRestarted {
                pid: Some(pid),
                reason: reason.as_str().into(),
                attempt: Some(attempt),
                backoff_ms: Some(delay.as_millis() as u64),
                ..Default::default()
            })
            .await;
        }

        // Output pumps; for a stdio MCP server, stdout is its JSON-RPC channel.
        let mut pumps = Vec::new();
        let (responses_tx, responses_rx) = mpsc::channel::<Value>(64);
        if let Some(out) = child.stdout.take() {
            let tx = self.is_stdio_mcp().then_some(responses_tx);
            pumps.push(tokio::spawn(pump(out, "out", self.log.clone(), tx)));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(err, "err", self.log.clone(), None)));
        }
        let mcp = match (self.is_stdio_mcp(), child.stdin.take()) {
            (true, Some(stdin)) => Some(McpStdio::start(stdin, responses_rx)),
            _ => None,
        };

        let run_started = Instant::now();
        let ended = self.watch(&mut child, pid, mcp.as_ref()).await;
        let ended = match ended {
            Ok(ended) => ended,
            Err(flow) => {
                let _ = std::fs::remove_file(self.pid_file());
                finish_pumps(pumps).await;
                return flow;
            }
        };
        let _ = std::fs::remove_file(self.pid_file());
        // Anything left in the group (helpers of a crashed parent) would hold ports and pipes.
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        finish_pumps(pumps).await;
        self.after_exit(pid, ended, run_started).await
    }
}

/// When process `pid` started (clock ticks since boot; Linux), to tell it from a reused pid.
fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    // Fields after the command: state is field 3, starttime field 22.
    after.split_whitespace().nth(19)?.parse().ok()
}
