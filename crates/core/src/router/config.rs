//! `[router]` section of paios.toml: which brain each kind of task goes to, and how a run is
//! bounded.
//!
//! The policy is data: `[router.policy]` maps a task category (or an alias such as `tests`,
//! `shell`, `architecture`, `summarising`, `remind`) to a brain. Entries the user writes
//! override the built-in defaults one by one; categories they leave out keep their default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::classify::Category;
use crate::brains::Brain;

/// `[router]`: the classifier's threshold, the default brain, a run's time limit, fallbacks
/// and the policy. Validated into a [`Policy`] by [`RouterConfig::policy`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterConfig {
    /// Below this confidence in the task's category, the task goes to `default_brain`.
    pub min_confidence: f64,
    /// The brain for tasks the classifier is unsure about.
    pub default_brain: String,
    /// How long one brain may work on one task, in seconds, before it is stopped.
    pub timeout_s: u64,
    /// Whether `ai` tries the next brain when the chosen one fails (error, timeout, overload).
    pub fallback: bool,
    /// Category (or alias) → brain; overrides the built-in defaults entry by entry.
    pub policy: BTreeMap<String, String>,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            min_confidence: 0.2,
            default_brain: "claude".into(),
            timeout_s: 900,
            fallback: true,
            policy: BTreeMap::new(),
        }
    }
}

/// The built-in policy, from how the user works: code and machine work to codex; thinking and
/// prose to claude; anything that goes out over a channel or on a timer to openclaw.
pub fn default_brain_for(category: Category) -> Brain {
    match category {
        Category::Code | Category::Debug | Category::Test | Category::Refactor | Category::Ops => {
            Brain::Codex
        }
        Category::Review
        | Category::Design
        | Category::Research
        | Category::Analysis
        | Category::Writing
        | Category::Summarize => Brain::Claude,
        Category::Social | Category::Schedule => Brain::Openclaw,
    }
}

/// The validated policy: every category has exactly one brain.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    brains: [Brain; Category::ALL.len()],
    /// The brain for tasks classified below `min_confidence` (`[router] default_brain`).
    pub default_brain: Brain,
    /// The classifier's confidence, 0–1, below which a task goes to `default_brain`.
    pub min_confidence: f64,
}

impl Policy {
    /// The brain this policy sends `category` to: the user's `[router.policy]` entry, else the
    /// built-in default ([`default_brain_for`]).
    pub fn brain_for(&self, category: Category) -> Brain {
        let index = Category::ALL
            .iter()
            .position(|&c| c == category)
            .unwrap_or(0);
        self.brains[index]
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            brains: Category::ALL.map(default_brain_for),
            default_brain: Brain::Claude,
            min_confidence: RouterConfig::default().min_confidence,
        }
    }
}

/// The longest time limit accepted for one brain run: a week.
pub const MAX_TIMEOUT_S: u64 = 7 * 24 * 3600;

impl RouterConfig {
    /// The effective policy, or (key, message) naming the first bad entry.
    pub fn policy(&self) -> Result<Policy, (String, String)> {
        let mut brains = Category::ALL.map(default_brain_for);
        for (key, value) in &self.policy {
            let category: Category =
                key.parse().map_err(|e: super::classify::UnknownCategory| {
                    (key.clone(), format!("in [router.policy]: {e}"))
                })?;
            let brain: Brain = value
                .parse()
                .map_err(|e| (key.clone(), format!("in [router.policy]: {e}")))?;
            let index = Category::ALL
                .iter()
                .position(|&c| c == category)
                .unwrap_or(0);
            brains[index] = brain;
        }
        let default_brain = self
            .default_brain
            .parse()
            .map_err(|e| ("default_brain".to_string(), format!("in [router]: {e}")))?;
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err((
                "min_confidence".into(),
                format!(
                    "in [router]: must be between 0 and 1, not {}",
                    self.min_confidence
                ),
            ));
        }
        Ok(Policy {
            brains,
            default_brain,
            min_confidence: self.min_confidence,
        })
    }

    /// Checks run when paios.toml is loaded. Returns (key, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(1..=MAX_TIMEOUT_S).contains(&self.timeout_s) {
            return Err((
                "router.timeout_s".into(),
                format!(
                    "a brain's time limit is from 1 to {MAX_TIMEOUT_S} seconds (a week), not {}",
                    self.timeout_s
                ),
            ));
        }
        self.policy().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_users_habits() {
        let policy = RouterConfig::default().policy().unwrap();
        assert_eq!(policy.brain_for(Category::Debug), Brain::Codex);
        assert_eq!(policy.brain_for(Category::Writing), Brain::Claude);
        assert_eq!(policy.brain_for(Category::Schedule), Brain::Openclaw);
        assert_eq!(policy, Policy::default());
    }

    #[test]
    fn user_entries_override_one_by_one_and_accept_aliases() {
        let mut config = RouterConfig::default();
        config.policy.insert("tests".into(), "claude".into());
        config.policy.insert("summarising".into(), "codex".into());
        let policy = config.policy().unwrap();
        assert_eq!(policy.brain_for(Category::Test), Brain::Claude);
        assert_eq!(policy.brain_for(Category::Summarize), Brain::Codex);
        assert_eq!(policy.brain_for(Category::Code), Brain::Codex);
    }

    #[test]
    fn bad_entries_name_the_key() {
        let mut config = RouterConfig::default();
        config.policy.insert("cooking".into(), "claude".into());
        let (key, message) = config.validate().unwrap_err();
        assert_eq!(key, "cooking");
        assert!(message.contains("unknown task category"), "{message}");

        let mut config = RouterConfig::default();
        config.policy.insert("code".into(), "gpt".into());
        let (key, message) = config.validate().unwrap_err();
        assert_eq!(key, "code");
        assert!(message.contains("unknown brain"), "{message}");
    }
}
