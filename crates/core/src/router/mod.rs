//! Task routing: classify a task, choose a brain by policy and live state, explain why.
//!
//! [`Router::decide`] is pure and fast (well under a millisecond): it takes the task text and a
//! [`LiveState`] snapshot (which brains are installed, healthy, rate-limited, over budget) that
//! the caller gathered, and returns a [`Decision`] that always says why. The `ai` command fills
//! the live state from what it can see (managed installs, the daemon's watchdog, the usage
//! budgets); tests fill it by hand.
//!
//! The decision never runs a brain, never does I/O and never blocks. Running a task — live
//! state, decision, attempts, fallbacks, events — is [`run`], the one run loop every caller uses
//! (the `ai` command, the MCP bridge tools, the scheduler); the brains' processes are the
//! adapters' job (`crate::brains::adapter`).

pub mod classify;
pub mod config;
pub mod run;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::brains::Brain;
use classify::{Category, Classification, Classifier};
use config::Policy;

/// What the router knows about one brain right now. The default is "usable".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrainState {
    /// `false` when neither a managed copy nor one on PATH exists.
    pub not_installed: bool,
    /// `Some(why)` when a health check failed (gateway down, watchdog says failed, …).
    pub unhealthy: Option<String>,
    /// `Some(why)` when the brain is rate-limited or out of quota.
    pub rate_limited: Option<String>,
    /// `Some(why)` when a usage budget for it is exhausted.
    pub over_budget: Option<String>,
}

impl BrainState {
    /// Installed, with nothing known against it: usable.
    pub fn installed() -> Self {
        Self::default()
    }

    /// Not installed (managed or on PATH): never chosen.
    pub fn missing() -> Self {
        Self {
            not_installed: true,
            ..Self::default()
        }
    }

    /// Why this brain cannot take a task now, if it cannot.
    pub fn blocker(&self, brain: Brain) -> Option<String> {
        if self.not_installed {
            return Some(format!(
                "{brain} is not installed (run `paios brains install {brain}`)"
            ));
        }
        if let Some(why) = &self.unhealthy {
            return Some(format!("{brain} is unhealthy: {why}"));
        }
        if let Some(why) = &self.rate_limited {
            return Some(format!("{brain} is rate-limited: {why}"));
        }
        if let Some(why) = &self.over_budget {
            return Some(format!("{brain} is over budget: {why}"));
        }
        None
    }
}

/// A snapshot of every brain's state; a brain with no entry is assumed usable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    /// What is known per brain; a missing entry means [`BrainState::default`] (usable).
    pub brains: BTreeMap<Brain, BrainState>,
}

impl LiveState {
    /// Every brain usable (what `ai route` assumes about brains it was told nothing about).
    pub fn all_usable() -> Self {
        Self::default()
    }

    /// This snapshot with `brain`'s state set to `state` (replacing any earlier one).
    pub fn with(mut self, brain: Brain, state: BrainState) -> Self {
        self.brains.insert(brain, state);
        self
    }

    /// `brain`'s state, the default (usable) when nothing is known about it.
    pub fn state(&self, brain: Brain) -> BrainState {
        self.brains.get(&brain).cloned().unwrap_or_default()
    }
}

/// The router's answer for one task (the `ai route --json` contract, DESIGN.md §3).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The brain to run: the best usable one.
    pub brain: Brain,
    /// The policy's choice for the task alone, whatever the live state.
    pub preferred: Brain,
    /// The task's category: the likeliest one the policy sends to `preferred` (the
    /// classifier's best guess when it was unsure or the user forced the brain).
    pub category: Category,
    /// The classifier's probability of `category`, 0–1.
    pub confidence: f64,
    /// One line for people: the category and how sure, the policy's choice, and why another
    /// brain was taken or none could be.
    pub reason: String,
    /// Usable brains to try next, best first.
    pub fallbacks: Vec<Brain>,
    /// Each brain's share of the category probabilities under the policy (sums to 1).
    pub scores: BTreeMap<Brain, f64>,
    /// Brains passed over, with why.
    pub skipped: Vec<(Brain, String)>,
    /// `false` when no brain is usable (then `brain` is the preferred one, for information).
    pub runnable: bool,
    /// `true` when the user forced the brain (`ai --brain`).
    pub forced: bool,
}

impl Decision {
    /// The contract JSON, plus `runnable`, `skipped` and `forced`.
    pub fn to_json(&self) -> Value {
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        let scores: serde_json::Map<String, Value> = Brain::ALL
            .iter()
            .map(|b| {
                let score = self.scores.get(b).copied().unwrap_or(0.0);
                (b.name().to_string(), json!(round(score)))
            })
            .collect();
        let skipped: serde_json::Map<String, Value> = self
            .skipped
            .iter()
            .map(|(b, why)| (b.name().to_string(), json!(why)))
            .collect();
        json!({
            "brain": self.brain.name(),
            "preferred": self.preferred.name(),
            "category": self.category.name(),
            "confidence": round(self.confidence),
            "reason": self.reason,
            "fallbacks": self.fallbacks.iter().map(|b| b.name()).collect::<Vec<_>>(),
            "scores": scores,
            "runnable": self.runnable,
            "skipped": skipped,
            "forced": self.forced,
        })
    }
}

/// Chooses a brain for a task.
#[derive(Debug, Clone)]
pub struct Router {
    policy: Policy,
    classifier: &'static Classifier,
}

impl Router {
    /// A router with this policy and the built-in classifier (trained on first use).
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            classifier: Classifier::shared(),
        }
    }

    /// The policy this router applies.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Classify `task`, pick the policy's brain, then adjust to the live state.
    pub fn decide(&self, task: &str, live: &LiveState) -> Decision {
        let classification = self.classifier.classify(task);
        let scores = self.brain_scores(&classification);
        let unsure = classification.confidence < self.policy.min_confidence;
        let (preferred, category, why) = if unsure {
            (
                self.policy.default_brain,
                classification.category,
                format!(
                    "unsure of the kind of task (best guess {} at {:.2}, under {:.2}) → default brain {}",
                    classification.category,
                    classification.confidence,
                    self.policy.min_confidence,
                    self.policy.default_brain
                ),
            )
        } else {
            // The brain whose categories together are most likely, then its likeliest category:
            // a task that is 40% code and 35% debug is codex work even if 45% says writing.
            let preferred = best(&scores);
            let category = classification
                .ranked()
                .into_iter()
                .find(|(c, _)| self.policy.brain_for(*c) == preferred)
                .map(|(c, _)| c)
                .unwrap_or(classification.category);
            (
                preferred,
                category,
                format!(
                    "{category} task ({:.0}% sure) → {preferred} by policy",
                    classification.probability(category) * 100.0
                ),
            )
        };
        let confidence = classification.probability(category);
        self.finish(preferred, category, confidence, why, scores, live, false)
    }

    /// The user chose the brain (`ai --brain NAME`): classify for the record, run there.
    pub fn force(&self, task: &str, brain: Brain, live: &LiveState) -> Decision {
        let classification = self.classifier.classify(task);
        let scores = self.brain_scores(&classification);
        let why = format!(
            "{brain} chosen by the user ({} task, {:.0}% sure)",
            classification.category,
            classification.confidence * 100.0
        );
        self.finish(
            brain,
            classification.category,
            classification.confidence,
            why,
            scores,
            live,
            true,
        )
    }

    fn brain_scores(&self, classification: &Classification) -> BTreeMap<Brain, f64> {
        let mut scores: BTreeMap<Brain, f64> = Brain::ALL.iter().map(|&b| (b, 0.0)).collect();
        for category in Category::ALL {
            *scores.entry(self.policy.brain_for(category)).or_default() +=
                classification.probability(category);
        }
        scores
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        preferred: Brain,
        category: Category,
        confidence: f64,
        mut reason: String,
        scores: BTreeMap<Brain, f64>,
        live: &LiveState,
        forced: bool,
    ) -> Decision {
        // Preferred first, then the others by score (ties in the fixed brain order).
        let mut order: Vec<Brain> = Brain::ALL.to_vec();
        order.sort_by(|a, b| {
            (*b == preferred)
                .cmp(&(*a == preferred))
                .then(scores[b].total_cmp(&scores[a]))
        });
        let mut usable = Vec::new();
        let mut skipped = Vec::new();
        for brain in order {
            match live.state(brain).blocker(brain) {
                None => usable.push(brain),
                Some(why) => skipped.push((brain, why)),
            }
        }
        // A forced brain is never swapped for another before it has been tried.
        let (brain, runnable) = if forced {
            let ok = usable.contains(&preferred);
            (preferred, ok)
        } else {
            match usable.first() {
                Some(&b) => (b, true),
                None => (preferred, false),
            }
        };
        let fallbacks: Vec<Brain> = usable.into_iter().filter(|&b| b != brain).collect();
        if let Some((_, why)) = skipped.iter().find(|(b, _)| *b == preferred) {
            if runnable {
                reason.push_str(&format!("; {why}, so {brain}"));
            } else {
                reason.push_str(&format!("; {why}"));
            }
        }
        if !runnable && !forced {
            reason.push_str("; no brain is usable");
        }
        Decision {
            brain,
            preferred,
            category,
            confidence,
            reason,
            fallbacks,
            scores,
            skipped,
            runnable,
            forced,
        }
    }
}

fn best(scores: &BTreeMap<Brain, f64>) -> Brain {
    Brain::ALL
        .into_iter()
        .max_by(|a, b| scores[a].total_cmp(&scores[b]).then(b.cmp(a)))
        .unwrap_or(Brain::Claude)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new(Policy::default())
    }

    #[test]
    fn a_coding_task_goes_to_codex_and_a_poem_to_claude() {
        let d = router().decide(
            "fix the failing unit test in parser.rs",
            &LiveState::all_usable(),
        );
        assert_eq!(
            (d.brain, d.preferred),
            (Brain::Codex, Brain::Codex),
            "{d:?}"
        );
        assert!(d.runnable);
        let d = router().decide("write a haiku about rust", &LiveState::all_usable());
        assert_eq!(d.brain, Brain::Claude, "{d:?}");
        assert_eq!(d.category, Category::Writing);
    }

    #[test]
    fn an_uninstalled_preferred_brain_is_skipped_with_a_reason() {
        let live = LiveState::all_usable().with(Brain::Codex, BrainState::missing());
        let d = router().decide("refactor the payment module into smaller files", &live);
        assert_eq!(d.preferred, Brain::Codex);
        assert_ne!(d.brain, Brain::Codex);
        assert!(!d.fallbacks.contains(&Brain::Codex));
        assert!(d.reason.contains("codex is not installed"), "{}", d.reason);
        assert!(
            d.reason.contains("paios brains install codex"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn rate_limited_unhealthy_and_over_budget_brains_are_skipped() {
        let live = LiveState::all_usable()
            .with(
                Brain::Claude,
                BrainState {
                    rate_limited: Some("429 until 15:00".into()),
                    ..Default::default()
                },
            )
            .with(
                Brain::Openclaw,
                BrainState {
                    unhealthy: Some("gateway down".into()),
                    ..Default::default()
                },
            );
        let d = router().decide("write a blog post about our launch", &live);
        assert_eq!(d.preferred, Brain::Claude);
        assert_eq!(d.brain, Brain::Codex);
        assert!(d.fallbacks.is_empty());
        assert_eq!(d.skipped.len(), 2);

        let live = LiveState::all_usable().with(
            Brain::Codex,
            BrainState {
                over_budget: Some("monthly budget $20 spent".into()),
                ..Default::default()
            },
        );
        let d = router().decide("add a --json flag to the export command", &live);
        assert!(d.reason.contains("over budget"), "{}", d.reason);
        assert_ne!(d.brain, Brain::Codex);
    }

    #[test]
    fn with_no_brain_usable_the_preferred_one_is_named_but_not_runnable() {
        let live = Brain::ALL.iter().fold(LiveState::all_usable(), |l, &b| {
            l.with(b, BrainState::missing())
        });
        let d = router().decide("remind me to call mum at 6pm", &live);
        assert_eq!(d.brain, d.preferred);
        assert!(!d.runnable);
        assert!(d.fallbacks.is_empty());
        assert!(d.reason.contains("no brain is usable"), "{}", d.reason);
    }

    #[test]
    fn scores_sum_to_one_and_the_preferred_brain_has_the_highest() {
        let d = router().decide(
            "analyze last month's sales numbers",
            &LiveState::all_usable(),
        );
        let sum: f64 = d.scores.values().sum();
        assert!((sum - 1.0).abs() < 1e-9);
        let top = d.scores.iter().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(*top, d.preferred);
    }

    #[test]
    fn gibberish_goes_to_the_default_brain_and_says_so() {
        let mut policy = Policy::default();
        policy.min_confidence = 0.9;
        let d = Router::new(policy).decide("zxqv blorp", &LiveState::all_usable());
        assert_eq!(d.preferred, Brain::Claude);
        assert!(d.reason.contains("unsure"), "{}", d.reason);
    }

    #[test]
    fn a_forced_brain_is_kept_even_when_another_scores_higher() {
        let d = router().force("write a sonnet", Brain::Codex, &LiveState::all_usable());
        assert_eq!(d.brain, Brain::Codex);
        assert!(d.forced);
        assert!(d.reason.contains("chosen by the user"));
    }

    #[test]
    fn json_has_exactly_the_contract_fields_plus_additions() {
        let v = router()
            .decide("write a haiku about rust", &LiveState::all_usable())
            .to_json();
        for key in [
            "brain",
            "preferred",
            "category",
            "confidence",
            "reason",
            "fallbacks",
            "scores",
        ] {
            assert!(v.get(key).is_some(), "missing {key} in {v}");
        }
        let scores = v["scores"].as_object().unwrap();
        assert_eq!(scores.len(), 3);
        for b in ["claude", "codex", "openclaw"] {
            assert!(scores[b].is_f64());
        }
    }
}
