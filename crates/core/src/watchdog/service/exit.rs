//! What a child's end means: record the exit, ask the restart machine (`machine`) what to do,
//! and carry it out — wait out the backoff and spawn again, or mark the service `failed` (a
//! crash loop, or an exit code that says restarting cannot help) with an alert in the
//! service's own words (its last stderr lines).
//!
//! This module never computes a delay or counts exits itself (the pure machine does), and
//! never spawns (it returns the next step to the state loop).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use chrono::Utc;
use nix::sys::signal::Signal;

use super::running::Ended;
use super::{Command, Flow, LastExit, Reason, State, Supervisor};
use crate::alerts::AlertKind;
use crate::events::payload::{ServiceCrashLoop, ServiceExited, ServiceFailed, ServiceStopped};
use crate::watchdog::machine::{Decision, FailReason};

impl Supervisor {
    pub(super) async fn backoff(
        &mut self,
        until: tokio::time::Instant,
        reason: Reason,
        attempt: u32,
        delay: Duration,
    ) -> Flow {
        self.set_state(State::Backoff);
        self.update(|s| s.pid = None);
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {
                Flow::Spawn(Some(reason), Some((attempt, delay)))
            }
            cmd = self.rx.recv() => match cmd {
                None => Flow::Exit,
                Some(Command::Shutdown(reply)) => { let _ = reply.send(()); Flow::Exit }
                Some(Command::Stop(reply)) => {
                    self.emit(&ServiceStopped { by: "request".into(), ..Default::default() }).await;
                    let _ = reply.send(());
                    Flow::Idle
                }
                Some(Command::Start(reply)) | Some(Command::Restart(reply)) => {
                    self.policy.reset();
                    let _ = reply.send(());
                    Flow::Spawn(Some(Reason::Manual), None)
                }
            }
        }
    }

    pub(super) async fn after_exit(
        &mut self,
        pid: u32,
        ended: Ended,
        run_started: Instant,
    ) -> Flow {
        let exited_at = tokio::time::Instant::now();
        let (status, hung_error) = match ended {
            Ended::Exited(s) => (s, None),
            Ended::Hung(s, e) => (s, Some(e)),
        };
        let info = exit_info(&status);
        let uptime_ms = run_started.elapsed().as_millis() as u64;
        let tail = self
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stderr_tail();
        let stderr_tail = tail.join("\n");
        self.note(&format!(
            "pid {pid} ended: code {:?}, signal {:?}",
            info.code, info.signal
        ));
        self.update(|s| {
            s.pid = None;
            s.last_exit = Some(info.clone());
        });
        self.emit(&ServiceExited {
            pid,
            code: info.code,
            signal: info.signal,
            stderr_tail: stderr_tail.clone(),
            uptime_ms,
            killed_for: hung_error.as_ref().map(|_| "hung".to_string()),
        })
        .await;
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        let run_ms = if hung_error.is_some() { 0 } else { uptime_ms };
        let decision = self
            .policy
            .on_exit(now_ms, run_ms, info.code, rand::random::<f64>());
        let what = describe_exit(&info);
        let own_words = own_words(&tail);
        match decision {
            Decision::Restart { delay, attempt } => {
                if hung_error.is_none() {
                    self.recovering_since.get_or_insert_with(Instant::now);
                    self.alert(
                        AlertKind::ServiceExited,
                        format!(
                            "{} {what}; restarting in {} ms{own_words}",
                            self.name(),
                            delay.as_millis()
                        ),
                    )
                    .await;
                }
                Flow::Backoff {
                    until: exited_at + delay,
                    reason: if hung_error.is_some() {
                        Reason::Hung
                    } else {
                        Reason::Exited
                    },
                    attempt,
                    delay,
                }
            }
            Decision::Fail(FailReason::NoRestartCode(code)) => {
                let message = format!(
                    "{} {what}, which means restarting cannot help (for OpenClaw: a configuration error); \
                     not restarting. Fix the cause, then `paios service start {}`{own_words}",
                    self.name(),
                    self.name()
                );
                self.fail(
                    message.clone(),
                    ServiceFailed {
                        reason: "no_restart_exit_code".into(),
                        code: Some(code),
                        ..Default::default()
                    },
                )
                .await;
                self.alert(AlertKind::ServiceConfigError, message).await;
                Flow::Idle
            }
            Decision::Fail(FailReason::CrashLoop { exits, window_s }) => {
                self.emit(&ServiceCrashLoop { exits, window_s }).await;
                let message = format!(
                    "{} is crash-looping ({exits} exits within {window_s} s, last: {what}); stopped restarting it. \
                     Fix the cause, then `paios service start {}`{own_words}",
                    self.name(),
                    self.name()
                );
                self.fail(
                    message.clone(),
                    ServiceFailed {
                        reason: "crash_loop".into(),
                        exits: Some(exits),
                        window_s: Some(window_s),
                        ..Default::default()
                    },
                )
                .await;
                self.alert(AlertKind::ServiceCrashLoop, message).await;
                Flow::Idle
            }
        }
    }

    async fn fail(&mut self, message: String, data: ServiceFailed) {
        self.note(&message);
        self.update(|s| {
            s.state = State::Failed;
            s.since = Utc::now();
            s.error = Some(message);
        });
        self.emit(&data).await;
    }
}

pub(super) fn exit_info(status: &ExitStatus) -> LastExit {
    LastExit {
        code: status.code(),
        signal: status.signal(),
        at: Utc::now(),
    }
}

fn describe_exit(info: &LastExit) -> String {
    match (info.code, info.signal) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => {
            let name = Signal::try_from(sig)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| sig.to_string());
            format!("was killed by signal {sig} ({name})")
        }
        _ => "exited".into(),
    }
}

/// The service's last stderr lines, quoted for an alert.
fn own_words(tail: &[String]) -> String {
    let lines: Vec<&str> = tail
        .iter()
        .map(|l| l.trim_end())
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(12);
    let mut text = lines[start..].join("\n");
    if text.len() > 3000 {
        let cut = text.len() - 3000;
        let cut = (cut..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text = format!("…{}", &text[cut..]);
    }
    format!(". Its last error output:\n{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_descriptions() {
        let at = Utc::now();
        assert_eq!(
            describe_exit(&LastExit {
                code: Some(78),
                signal: None,
                at
            }),
            "exited with code 78"
        );
        assert!(
            describe_exit(&LastExit {
                code: None,
                signal: Some(9),
                at
            })
            .contains("SIGKILL")
        );
    }

    #[test]
    fn own_words_quote_the_last_lines_and_stay_bounded() {
        assert_eq!(own_words(&[]), "");
        let tail: Vec<String> = (0..30)
            .map(|i| format!("line {i} {}", "é".repeat(300)))
            .collect();
        let w = own_words(&tail);
        assert!(w.contains("line 29"));
        assert!(w.len() < 3200);
    }
}
