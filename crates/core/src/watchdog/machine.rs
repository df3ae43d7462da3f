//! The restart policy as a pure state machine: exponential backoff with jitter, reset after a
//! stable uptime, a crash-loop breaker (N exits within W seconds) and exit codes that mean "do
//! not restart".
//!
//! It does no I/O and reads no clock: callers pass the time and the jitter, so every decision is
//! reproducible (and property-tested below).

use std::collections::VecDeque;
use std::time::Duration;

use super::config::RestartConfig;

/// What to do after the supervised process exited (or was killed for hanging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after `delay`; `attempt` counts consecutive unstable runs (1 = first).
    Restart {
        /// The backoff, jitter included, never above `max_backoff_ms`.
        delay: Duration,
        /// 1 after a stable run, then 2, 3, … for each consecutive short one.
        attempt: u32,
    },
    /// Stop trying: the state becomes `failed`.
    Fail(FailReason),
}

/// Why the policy gave up on a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailReason {
    /// It exited with a code listed in `no_restart_exit_codes`.
    NoRestartCode(i32),
    /// `exits` exits within `window_s` seconds.
    CrashLoop {
        /// Exits counted in the window, this one included (`max_exits` or more).
        exits: u32,
        /// The configured window, in seconds.
        window_s: u64,
    },
}

/// Backoff and crash-loop bookkeeping for one service.
#[derive(Debug, Clone)]
pub struct RestartPolicy {
    initial_ms: u64,
    max_ms: u64,
    stable_after_ms: u64,
    max_exits: u32,
    window_ms: u64,
    no_restart: Vec<i32>,
    /// Consecutive runs shorter than `stable_after`.
    consecutive: u32,
    /// Exit times (ms, caller's clock) inside the crash-loop window, oldest first.
    exits: VecDeque<u64>,
}

/// Fraction of the base delay the jitter may add or remove.
pub const JITTER: f64 = 0.2;

impl RestartPolicy {
    /// A policy with no exits seen yet, for a service's `[service.restart]` and
    /// `no_restart_exit_codes`. Values the configuration would refuse are raised to the
    /// smallest that keep the machine sound (a zero backoff to 1 ms, a cap below it to it).
    pub fn new(restart: &RestartConfig, no_restart_exit_codes: &[i32]) -> Self {
        Self {
            // The configuration refuses these (`RestartConfig::validate`); the machine keeps its
            // own invariants whatever it is given (its property tests give it anything).
            initial_ms: restart.initial_backoff_ms.max(1),
            max_ms: restart
                .max_backoff_ms
                .max(restart.initial_backoff_ms.max(1)),
            stable_after_ms: restart
                .stable_after_ms
                .unwrap_or(restart.stable_after_s.saturating_mul(1000)),
            max_exits: restart.crash_loop.max_exits.max(1),
            window_ms: restart.crash_loop.window_s.saturating_mul(1000),
            no_restart: no_restart_exit_codes.to_vec(),
            consecutive: 0,
            exits: VecDeque::new(),
        }
    }

    /// Forget past exits (a person started the service by hand).
    pub fn reset(&mut self) {
        self.consecutive = 0;
        self.exits.clear();
    }

    /// The delay before restart attempt `attempt` (1-based) without jitter.
    pub fn base_delay_ms(&self, attempt: u32) -> u64 {
        let shift = attempt.saturating_sub(1).min(40);
        self.initial_ms
            .saturating_mul(1u64 << shift)
            .min(self.max_ms)
    }

    /// Decide after an exit at `now_ms` (any monotonic clock in ms) of a run that lasted
    /// `uptime_ms`. `code` is the exit code (None when killed by a signal); `jitter` is a
    /// random number in [0, 1).
    pub fn on_exit(
        &mut self,
        now_ms: u64,
        uptime_ms: u64,
        code: Option<i32>,
        jitter: f64,
    ) -> Decision {
        if let Some(code) = code.filter(|c| self.no_restart.contains(c)) {
            return Decision::Fail(FailReason::NoRestartCode(code));
        }
        self.exits.push_back(now_ms);
        while let Some(&first) = self.exits.front() {
            let expired = if self.window_ms == 0 {
                self.exits.len() > 1
            } else {
                now_ms.saturating_sub(first) >= self.window_ms
            };
            if !expired {
                break;
            }
            self.exits.pop_front();
        }
        if self.exits.len() as u32 >= self.max_exits {
            return Decision::Fail(FailReason::CrashLoop {
                exits: self.exits.len() as u32,
                window_s: self.window_ms / 1000,
            });
        }
        if uptime_ms >= self.stable_after_ms {
            self.consecutive = 0;
        }
        self.consecutive = self.consecutive.saturating_add(1);
        let base = self.base_delay_ms(self.consecutive) as f64;
        let jitter = jitter.clamp(0.0, 1.0);
        let factor = 1.0 - JITTER + 2.0 * JITTER * jitter;
        let delay = ((base * factor).round() as u64).min(self.max_ms);
        Decision::Restart {
            delay: Duration::from_millis(delay),
            attempt: self.consecutive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watchdog::config::CrashLoopConfig;
    use proptest::prelude::*;

    fn policy(
        initial: u64,
        max: u64,
        stable_s: u64,
        max_exits: u32,
        window_s: u64,
    ) -> RestartPolicy {
        let cfg = RestartConfig {
            initial_backoff_ms: initial,
            max_backoff_ms: max,
            stable_after_s: stable_s,
            crash_loop: CrashLoopConfig {
                max_exits,
                window_s,
            },
            ..Default::default()
        };
        RestartPolicy::new(&cfg, &[78])
    }

    #[test]
    fn backoff_doubles_until_the_cap() {
        let mut p = policy(100, 1000, 60, 100, 60);
        let delays: Vec<u64> = (0..6)
            .map(|i| match p.on_exit(i * 10, 10, Some(1), 0.5) {
                Decision::Restart { delay, .. } => delay.as_millis() as u64,
                d => panic!("{d:?}"),
            })
            .collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn config_error_code_fails_at_once() {
        let mut p = policy(100, 1000, 60, 5, 60);
        assert_eq!(
            p.on_exit(0, 5, Some(78), 0.0),
            Decision::Fail(FailReason::NoRestartCode(78))
        );
    }

    #[test]
    fn the_fifth_quick_exit_trips_the_breaker() {
        let mut p = policy(100, 1000, 60, 5, 60);
        for i in 0..4 {
            assert!(matches!(
                p.on_exit(i * 1000, 10, Some(1), 0.0),
                Decision::Restart { .. }
            ));
        }
        assert_eq!(
            p.on_exit(4000, 10, Some(1), 0.0),
            Decision::Fail(FailReason::CrashLoop {
                exits: 5,
                window_s: 60
            })
        );
    }

    #[test]
    fn a_stable_run_resets_the_backoff() {
        let mut p = policy(100, 10_000, 1, 100, 1);
        for i in 0..4 {
            p.on_exit(i * 10, 10, None, 0.5);
        }
        assert_eq!(
            p.on_exit(100_000, 5_000, None, 0.5),
            Decision::Restart {
                delay: Duration::from_millis(100),
                attempt: 1
            }
        );
    }

    /// One exit as generated for the property tests: (ms since the previous exit, uptime ms,
    /// exit code or signal, jitter).
    fn exits() -> impl Strategy<Value = Vec<(u64, u64, Option<i32>, f64)>> {
        proptest::collection::vec(
            (
                0u64..120_000,
                0u64..120_000,
                proptest::option::of(prop_oneof![Just(0), Just(1), Just(78), 2..255i32]),
                0.0f64..1.0,
            ),
            0..60,
        )
    }

    proptest! {
        #[test]
        fn decisions_follow_the_reference_model(
            initial in 1u64..5_000,
            max in 1u64..120_000,
            stable_s in 0u64..120,
            max_exits in 1u32..12,
            window_s in 0u64..300,
            seq in exits(),
        ) {
            let mut p = policy(initial, max, stable_s, max_exits, window_s);
            let cap = max.max(initial);
            let mut now = 0u64;
            let mut history: Vec<u64> = Vec::new();
            let mut consecutive = 0u32;
            for (gap, uptime, code, jitter) in seq {
                now += gap;
                let decision = p.on_exit(now, uptime, code, jitter);
                if code == Some(78) {
                    prop_assert_eq!(decision, Decision::Fail(FailReason::NoRestartCode(78)));
                    continue;
                }
                history.push(now);
                // Reference: exits strictly inside the window ending now.
                let in_window = if window_s == 0 {
                    1
                } else {
                    history.iter().filter(|&&t| now - t < window_s * 1000).count() as u32
                };
                if in_window >= max_exits {
                    prop_assert!(matches!(decision, Decision::Fail(FailReason::CrashLoop { .. })), "{:?}", decision);
                    // A real supervisor stops here; the model keeps going only to test more.
                    p.reset();
                    history.clear();
                    consecutive = 0;
                    continue;
                }
                if uptime >= stable_s * 1000 {
                    consecutive = 0;
                }
                consecutive += 1;
                match decision {
                    Decision::Restart { delay, attempt } => {
                        prop_assert_eq!(attempt, consecutive);
                        let base = p.base_delay_ms(attempt);
                        let ms = delay.as_millis() as u64;
                        prop_assert!(ms <= cap, "delay {} above the cap {}", ms, cap);
                        let low = (base as f64 * (1.0 - JITTER)).floor() as u64;
                        let high = ((base as f64 * (1.0 + JITTER)).ceil() as u64).min(cap);
                        prop_assert!(ms >= low && ms <= high, "delay {} outside [{}, {}]", ms, low, high);
                    }
                    d => prop_assert!(false, "unexpected {:?}", d),
                }
            }
        }

        #[test]
        fn base_delay_is_monotonic_and_capped(initial in 1u64..10_000, max in 1u64..1_000_000, attempt in 1u32..200) {
            let p = policy(initial, max, 60, 5, 60);
            let cap = max.max(initial);
            prop_assert!(p.base_delay_ms(attempt) <= cap);
            prop_assert!(p.base_delay_ms(attempt) <= p.base_delay_ms(attempt + 1));
            prop_assert!(p.base_delay_ms(1) == initial.min(cap));
        }
    }
}
