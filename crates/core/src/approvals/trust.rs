//! Trust and autonomy: what answers an `ask` before anyone is asked. Trust is kept per
//! (rule, brain, project) in `approval_trust`: every approval counts one, a deny resets the count,
//! `--always` records a standing answer. The autonomy level (0–3, `approval_settings`) says how
//! many approvals trust needs.
//!
//! Pure functions decide ([`trust_threshold`], [`answer`]); the rest reads or writes the rows
//! (writes only through the store's writer's transaction).

use rusqlite::{OptionalExtension, Transaction, params};

use super::queue::{Answer, By};

/// The autonomy levels (documented in docs/approvals.md).
pub const LEVELS: [&str; 4] = [
    "0 supervised: every ask waits for you",
    "1 learning: an ask is approved by itself after `trust_after` approvals of the same rule, brain and project",
    "2 trusting: an ask is approved by itself after one approval of the same rule, brain and project",
    "3 autonomous: every ask is approved (never rules still refuse)",
];

/// Approvals needed before trust answers, at `level`. `None`: trust never answers.
pub fn trust_threshold(level: u8, trust_after: u32) -> Option<u32> {
    match level {
        0 => None,
        1 => Some(trust_after.max(1)),
        2 => Some(1),
        _ => Some(0),
    }
}

/// What trust holds for one rule of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Held {
    /// Approvals counted since the last deny (0 when there is no row).
    pub approvals: u32,
    /// A standing answer (`--always`).
    pub always: Option<Answer>,
}

/// An answer given without asking: who gives it and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoAnswer {
    /// The answer given.
    pub answer: Answer,
    /// [`By::Trust`] (counted or standing answers) or [`By::Autonomy`] (level 3).
    pub by: By,
    /// Why, in words for people (it becomes the decision's reason).
    pub why: String,
}

/// What trust and the autonomy level say about an ask whose rules hold `held`: `None` means
/// the user is asked. A standing deny of any rule wins; then standing approvals of every rule;
/// then the level's threshold.
pub fn answer(
    held: &[(String, Held)],
    brain: &str,
    project: &str,
    level: u8,
    trust_after: u32,
) -> Option<AutoAnswer> {
    if let Some((rule, _)) = held.iter().find(|(_, h)| h.always == Some(Answer::Deny)) {
        return Some(AutoAnswer {
            answer: Answer::Deny,
            by: By::Trust,
            why: format!("you chose to always deny {rule} for {brain} in {project}"),
        });
    }
    if !held.is_empty() && held.iter().all(|(_, h)| h.always == Some(Answer::Approve)) {
        return Some(AutoAnswer {
            answer: Answer::Approve,
            by: By::Trust,
            why: "you chose to always approve this for this brain and project".into(),
        });
    }
    match trust_threshold(level, trust_after) {
        Some(0) => Some(AutoAnswer {
            answer: Answer::Approve,
            by: By::Autonomy,
            why: "autonomy level 3 approves every ask".into(),
        }),
        Some(n) if held.iter().all(|(_, h)| h.approvals >= n) => Some(AutoAnswer {
            answer: Answer::Approve,
            by: By::Trust,
            why: format!(
                "approved {n}+ times before for this brain and project (autonomy level {level})"
            ),
        }),
        _ => None,
    }
}

/// What trust holds for each of `rules`.
pub fn held(
    conn: &rusqlite::Connection,
    rules: &[String],
    brain: &str,
    project: &str,
) -> rusqlite::Result<Vec<(String, Held)>> {
    let mut stmt = conn.prepare(
        "SELECT approvals, always FROM approval_trust WHERE rule = ?1 AND brain = ?2 AND project = ?3",
    )?;
    let mut out = Vec::new();
    for rule in rules {
        let row: Option<(u32, Option<String>)> = stmt
            .query_row(params![rule, brain, project], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (approvals, always) = row.unwrap_or((0, None));
        out.push((
            rule.clone(),
            Held {
                approvals,
                always: always.as_deref().and_then(Answer::parse),
            },
        ));
    }
    Ok(out)
}

/// The autonomy level in force (`default` until one is set).
pub fn autonomy_level(conn: &rusqlite::Connection, default: u8) -> rusqlite::Result<u8> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM approval_settings WHERE key = 'autonomy'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(default).min(3))
}

/// Store the autonomy level in `approval_settings`, replacing any set before. Not clamped here:
/// [`autonomy_level`] reads anything above 3 as 3.
pub fn set_autonomy_level(tx: &Transaction<'_>, level: u8) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO approval_settings (key, value) VALUES ('autonomy', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [level.to_string()],
    )?;
    Ok(())
}

/// Learn from a person's answer: an approval counts one for each rule (and `always` makes it a
/// standing approval, clearing a standing deny), a deny resets the count (and `always` makes it
/// a standing deny).
pub fn learn(
    tx: &Transaction<'_>,
    rules: &[String],
    brain: &str,
    project: &str,
    answer: Answer,
    always: bool,
    ts: &str,
) -> rusqlite::Result<()> {
    for r in rules {
        if answer.approves() {
            tx.execute(
                "INSERT INTO approval_trust (rule, brain, project, approvals, always, updated_at)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5)
                 ON CONFLICT (rule, brain, project) DO UPDATE SET
                   approvals = approvals + 1,
                   always = COALESCE(excluded.always, CASE WHEN always = 'deny' THEN NULL ELSE always END),
                   updated_at = excluded.updated_at",
                params![r, brain, project, always.then_some("approve"), ts],
            )?;
        } else {
            tx.execute(
                "INSERT INTO approval_trust (rule, brain, project, approvals, always, updated_at)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5)
                 ON CONFLICT (rule, brain, project) DO UPDATE SET
                   approvals = 0, always = excluded.always, updated_at = excluded.updated_at",
                params![r, brain, project, always.then_some("deny"), ts],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_the_levels() {
        assert_eq!(trust_threshold(0, 3), None);
        assert_eq!(trust_threshold(1, 3), Some(3));
        assert_eq!(trust_threshold(1, 0), Some(1));
        assert_eq!(trust_threshold(2, 3), Some(1));
        assert_eq!(trust_threshold(3, 3), Some(0));
    }

    fn held(approvals: u32, always: Option<Answer>) -> Held {
        Held { approvals, always }
    }

    #[test]
    fn a_standing_deny_wins_then_standing_approvals_then_the_count() {
        let rules = |v: Vec<Held>| -> Vec<(String, Held)> {
            v.into_iter()
                .enumerate()
                .map(|(i, h)| (format!("r{i}"), h))
                .collect()
        };
        let deny = answer(
            &rules(vec![
                held(9, Some(Answer::Approve)),
                held(0, Some(Answer::Deny)),
            ]),
            "claude",
            "/p",
            3,
            3,
        )
        .unwrap();
        assert_eq!((deny.answer, deny.by), (Answer::Deny, By::Trust));
        let always = answer(
            &rules(vec![held(0, Some(Answer::Approve))]),
            "c",
            "/p",
            0,
            3,
        )
        .unwrap();
        assert_eq!(always.answer, Answer::Approve);
        // Level 1: every rule must have been approved often enough.
        assert!(answer(&rules(vec![held(3, None), held(2, None)]), "c", "/p", 1, 3).is_none());
        assert!(answer(&rules(vec![held(3, None), held(3, None)]), "c", "/p", 1, 3).is_some());
        assert!(answer(&rules(vec![held(9, None)]), "c", "/p", 0, 3).is_none());
        let auto = answer(&rules(vec![held(0, None)]), "c", "/p", 3, 3).unwrap();
        assert_eq!(auto.by, By::Autonomy);
    }
}
