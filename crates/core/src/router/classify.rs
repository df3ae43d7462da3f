//! Task classification: which kind of work a task is, with a confidence.
//!
//! The classifier is a small multinomial naive Bayes model over word unigrams, word bigrams,
//! character n-grams of words (so `refactoring`, `refactored` and `refactor` share evidence) and a
//! few structural features (a file path, code, a stack trace, a clock time, a channel or
//! mention, a URL, the task's length). It is trained on first use from the labelled set
//! `tests/data/routing/train.tsv`, which is embedded in the binary; training takes a few
//! milliseconds and happens once per process. The held-out set `heldout.tsv` is never used
//! here: tests use it to measure accuracy on wording the model has not seen.
//!
//! There is no keyword list: every feature's weight comes from the data.
//!
//! This module is pure computation: it never does I/O, never blocks, never panics on any input.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// The embedded training set (`CATEGORY<TAB>TASK` lines, `#` comments).
pub const TRAINING_SET: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/routing/train.tsv"
));

/// A kind of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Writing or extending code: features, scripts, endpoints, components.
    Code,
    /// Finding and fixing a bug, a crash, an error, a failing build or test.
    Debug,
    /// Writing or running tests.
    Test,
    /// Restructuring code without changing what it does.
    Refactor,
    /// Shell, servers, deployment, infrastructure, git chores.
    Ops,
    /// Reviewing code, a diff, a configuration: finding problems in someone's work.
    Review,
    /// Architecture, system and API design, planning.
    Design,
    /// Finding things out: comparisons, state of the art, how something works.
    Research,
    /// Analysing data, numbers, results.
    Analysis,
    /// Prose: posts, letters, docs, stories, poems, editing.
    Writing,
    /// Summarising a text, a thread, a meeting.
    Summarize,
    /// Sending, posting, replying or messaging over a channel.
    Social,
    /// Reminders, calendars, anything on a timer.
    Schedule,
}

impl Category {
    /// Every category, in a fixed order (the model's class index).
    pub const ALL: [Category; 13] = [
        Category::Code,
        Category::Debug,
        Category::Test,
        Category::Refactor,
        Category::Ops,
        Category::Review,
        Category::Design,
        Category::Research,
        Category::Analysis,
        Category::Writing,
        Category::Summarize,
        Category::Social,
        Category::Schedule,
    ];

    /// The name used in JSON, events and paios.toml.
    pub fn name(self) -> &'static str {
        match self {
            Category::Code => "code",
            Category::Debug => "debug",
            Category::Test => "test",
            Category::Refactor => "refactor",
            Category::Ops => "ops",
            Category::Review => "review",
            Category::Design => "design",
            Category::Research => "research",
            Category::Analysis => "analysis",
            Category::Writing => "writing",
            Category::Summarize => "summarize",
            Category::Social => "social",
            Category::Schedule => "schedule",
        }
    }

    fn index(self) -> usize {
        Category::ALL.iter().position(|&c| c == self).unwrap_or(0)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A category name that is not one of [`Category::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task category `{0}`: expected one of {list}", list = category_list())]
pub struct UnknownCategory(pub String);

fn category_list() -> String {
    Category::ALL
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Category {
    type Err = UnknownCategory;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        let alias = match s.as_str() {
            "tests" | "testing" => "test",
            "refactoring" => "refactor",
            "shell" | "devops" => "ops",
            "architecture" | "planning" => "design",
            "summarise" | "summary" | "summarising" | "summarizing" => "summarize",
            "analyse" | "analyze" => "analysis",
            "message" | "messaging" | "send" | "post" => "social",
            "remind" | "reminder" => "schedule",
            "coding" => "code",
            "debugging" => "debug",
            other => other,
        };
        Category::ALL
            .into_iter()
            .find(|c| c.name() == alias)
            .ok_or(UnknownCategory(s))
    }
}

const CLASSES: usize = Category::ALL.len();

/// What the classifier thinks of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// The most likely category.
    pub category: Category,
    /// Its probability, 0–1.
    pub confidence: f64,
    /// Every category's probability (sums to 1), in [`Category::ALL`] order.
    pub probabilities: [f64; CLASSES],
}

impl Classification {
    /// The probability of `category`, 0–1.
    pub fn probability(&self, category: Category) -> f64 {
        self.probabilities[category.index()]
    }

    /// Categories from most to least likely.
    pub fn ranked(&self) -> Vec<(Category, f64)> {
        let mut ranked: Vec<_> = Category::ALL
            .iter()
            .map(|&c| (c, self.probability(c)))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked
    }
}

/// A labelled example.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The label: what kind of task it is.
    pub category: Category,
    /// The task's text, as a user would type it.
    pub task: String,
}

/// A malformed line in a labelled set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DatasetError {
    /// 1-based line number in the set.
    pub line: usize,
    /// What is wrong with the line (no tab, an unknown category, …).
    pub message: String,
}

/// Parse `CATEGORY<TAB>TASK` lines; blank lines and `#` comments are skipped.
pub fn parse_dataset(text: &str) -> Result<Vec<Example>, DatasetError> {
    let mut examples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (label, task) = line.split_once('\t').ok_or_else(|| DatasetError {
            line: i + 1,
            message: "expected CATEGORY<TAB>TASK".into(),
        })?;
        let category = label.parse().map_err(|e: UnknownCategory| DatasetError {
            line: i + 1,
            message: e.to_string(),
        })?;
        if task.trim().is_empty() {
            return Err(DatasetError {
                line: i + 1,
                message: "empty task".into(),
            });
        }
        examples.push(Example {
            category,
            task: task.trim().to_string(),
        });
    }
    Ok(examples)
}

/// How much each family of features counts. Character n-grams are many per word, so each one
/// counts for less; together they still outweigh a single unseen word.
const WORD_WEIGHT: f64 = 1.0;
const BIGRAM_WEIGHT: f64 = 0.8;
const CHAR_WEIGHT: f64 = 0.25;
const SHAPE_WEIGHT: f64 = 1.5;
/// Laplace smoothing of the per-class feature counts.
const SMOOTHING: f64 = 1.0;
/// Softens naive Bayes' overconfident posteriors into a usable confidence: the log-likelihoods
/// are divided by the features' total weight raised to this power before the softmax.
const TEMPERATURE_EXPONENT: f64 = 0.25;

/// A feature: a hash of its text, with the weight of its family.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Feature {
    id: u64,
    weight: f64,
}

/// A trained naive Bayes model.
#[derive(Debug, Clone)]
pub struct Classifier {
    /// log P(feature | class) for every feature seen in training.
    /// Keyed by feature hashes already (FNV-1a), so the map hashes them with FxHash.
    log_likelihood: FxHashMap<u64, [f32; CLASSES]>,
    /// log P(feature | class) of a feature seen in training but never with this class is in
    /// `log_likelihood`; this is the floor for classes with no data at all.
    log_prior: [f64; CLASSES],
    examples: usize,
}

impl Classifier {
    /// The model trained on the embedded set, built once per process.
    pub fn shared() -> &'static Classifier {
        static MODEL: OnceLock<Classifier> = OnceLock::new();
        MODEL.get_or_init(|| {
            let examples = parse_dataset(TRAINING_SET)
                .unwrap_or_else(|e| panic!("the embedded training set is malformed at {e}"));
            Classifier::train(&examples)
        })
    }

    /// Train on labelled examples.
    pub fn train(examples: &[Example]) -> Self {
        // About a dozen distinct features per example: sized once instead of grown by rehashing.
        let mut counts: FxHashMap<u64, [f64; CLASSES]> =
            FxHashMap::with_capacity_and_hasher(examples.len() * 12, Default::default());
        let mut class_total = [0.0f64; CLASSES];
        let mut class_docs = [0usize; CLASSES];
        for example in examples {
            let class = example.category.index();
            class_docs[class] += 1;
            for feature in features(&example.task) {
                counts.entry(feature.id).or_insert([0.0; CLASSES])[class] += feature.weight;
                class_total[class] += feature.weight;
            }
        }
        let vocabulary = counts.len().max(1) as f64;
        let log_likelihood = counts
            .into_iter()
            .map(|(id, per_class)| {
                let mut row = [0f32; CLASSES];
                for class in 0..CLASSES {
                    row[class] = ((per_class[class] + SMOOTHING)
                        / (class_total[class] + SMOOTHING * vocabulary))
                        .ln() as f32;
                }
                (id, row)
            })
            .collect();
        let mut log_prior = [0f64; CLASSES];
        let total_docs = examples.len().max(1) as f64;
        for class in 0..CLASSES {
            // Classes are roughly balanced by construction; the prior only breaks ties, and a
            // class with no examples gets a tiny but finite one.
            log_prior[class] =
                ((class_docs[class] as f64 + 1.0) / (total_docs + CLASSES as f64)).ln();
        }
        Self {
            log_likelihood,
            log_prior,
            examples: examples.len(),
        }
    }

    /// How many examples it was trained on.
    pub fn examples(&self) -> usize {
        self.examples
    }

    /// Classify one task. Any text is accepted; text with no known feature gets the prior.
    pub fn classify(&self, task: &str) -> Classification {
        let mut score = self.log_prior;
        let mut weight = 0.0;
        for feature in features(task) {
            if let Some(row) = self.log_likelihood.get(&feature.id) {
                for (s, l) in score.iter_mut().zip(row) {
                    *s += feature.weight * f64::from(*l);
                }
                weight += feature.weight;
            }
        }
        let temperature = f64::max(1.0, weight).powf(TEMPERATURE_EXPONENT);
        let max = score.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut probabilities = [0f64; CLASSES];
        let mut sum = 0.0;
        for (p, s) in probabilities.iter_mut().zip(score) {
            *p = ((s - max) / temperature).exp();
            sum += *p;
        }
        for p in &mut probabilities {
            *p /= sum;
        }
        let best = (0..CLASSES)
            .max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]))
            .unwrap_or(0);
        Classification {
            category: Category::ALL[best],
            confidence: probabilities[best],
            probabilities,
        }
    }
}

/// FNV-1a: fast, stable across runs and platforms (the model is rebuilt per process anyway).
fn hash(family: u8, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(family);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            eat(b' ');
        }
        for &b in part.as_bytes() {
            eat(b);
        }
    }
    h
}

/// [`hash`] of a character n-gram (family `c`) without building a string.
fn hash_chars(gram: &[char]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(b'c');
    let mut buf = [0u8; 4];
    for c in gram {
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            eat(b);
        }
    }
    h
}

/// Words that carry no signal on their own (they still take part in bigrams).
fn is_stop_word(word: &str) -> bool {
    matches!(
        word,
        "a" | "an"
            | "the"
            | "of"
            | "to"
            | "in"
            | "on"
            | "for"
            | "and"
            | "or"
            | "is"
            | "it"
            | "this"
            | "that"
            | "my"
            | "me"
            | "i"
            | "with"
            | "at"
            | "be"
            | "so"
            | "please"
            | "can"
            | "you"
    )
}

/// Every feature of a task (a word counts once, however often it appears).
fn features(task: &str) -> Vec<Feature> {
    // Bound the work on huge inputs (a pasted log): the head of a task says what it is.
    let task = truncate_chars(task, 2_000);
    let lower = task.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .take(300)
        .collect();

    let mut out = Vec::with_capacity(words.len() * 12 + 8);
    let mut seen = std::collections::HashSet::with_capacity(words.len() * 12 + 8);
    let mut push = |id: u64, weight: f64| {
        if seen.insert(id) {
            out.push(Feature { id, weight });
        }
    };

    for word in &words {
        if !is_stop_word(word) {
            push(hash(b'w', &[word]), WORD_WEIGHT);
        }
        // Character n-grams (3–5) of the word with boundary marks: `<tes`, `est`, `ts>`.
        if word.chars().count() >= 3 && !word.chars().all(|c| c.is_ascii_digit()) {
            let marked: Vec<char> = std::iter::once('<')
                .chain(word.chars())
                .chain(std::iter::once('>'))
                .collect();
            for n in 3..=5 {
                for gram in marked.windows(n) {
                    push(hash_chars(gram), CHAR_WEIGHT);
                }
            }
        }
    }
    for pair in words.windows(2) {
        push(hash(b'b', &[pair[0], pair[1]]), BIGRAM_WEIGHT);
    }
    for shape in shapes(task, &lower, &words) {
        push(hash(b's', &[shape]), SHAPE_WEIGHT);
    }
    out
}

fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Structural features: what the task looks like, independent of its vocabulary.
fn shapes(task: &str, lower: &str, words: &[&str]) -> Vec<&'static str> {
    let mut out = Vec::new();
    let tokens: Vec<&str> = task.split_whitespace().collect();
    // A file name or path: `parser.rs`, `src/grid.rs:88`, `/var/log`.
    if tokens.iter().any(|t| looks_like_path(t)) {
        out.push("path");
    }
    // Code: braces, `::`, `=>`, backticks, `()`.
    if task.contains('`')
        || task.contains("::")
        || task.contains("=>")
        || task.contains("()")
        || task.contains('{')
    {
        out.push("code");
    }
    // A stack trace or compiler error: `Error:` `line 42`, `E0502`, `panicked`.
    if lower.contains("traceback")
        || lower.contains("exception")
        || task.contains("Error")
        || tokens.iter().any(|t| looks_like_error_code(t))
    {
        out.push("error");
    }
    // A clock time or date: `9am`, `6:30`, `3pm`, `25th`.
    if words.iter().any(|w| looks_like_clock(w)) || tokens.iter().any(|t| looks_like_hh_mm(t)) {
        out.push("clock");
    }
    // A channel or person handle: `#general`, `@bob`.
    if tokens.iter().any(|t| {
        (t.starts_with('#') || t.starts_with('@'))
            && t.len() > 1
            && !t[1..].starts_with(|c: char| c.is_ascii_digit())
    }) {
        out.push("handle");
    }
    if lower.contains("http://") || lower.contains("https://") {
        out.push("url");
    }
    if task.trim_end().ends_with('?') {
        out.push("question");
    }
    out.push(match words.len() {
        0..=5 => "short",
        6..=15 => "medium",
        _ => "long",
    });
    out
}

fn looks_like_path(token: &str) -> bool {
    let token =
        token.trim_matches(|c: char| matches!(c, ',' | '.' | ';' | '"' | '\'' | '(' | ')' | '`'));
    let has_extension = token.rsplit_once('.').is_some_and(|(stem, ext)| {
        stem.len() >= 2
            && (1..=4).contains(&ext.len())
            && ext.chars().all(|c| c.is_ascii_alphabetic())
            && stem.chars().any(|c| c.is_ascii_alphabetic())
            && !stem.contains("://")
    });
    let has_dir = token.len() > 2
        && token.contains('/')
        && !token.contains("://")
        && token.split('/').filter(|p| !p.is_empty()).count() >= 2;
    has_extension || has_dir
}

fn looks_like_error_code(token: &str) -> bool {
    let t = token.trim_matches(|c: char| !c.is_alphanumeric());
    // E0502, TS2345: letters then 3+ digits.
    let letters = t.chars().take_while(|c| c.is_ascii_uppercase()).count();
    (1..=3).contains(&letters)
        && t.len() - letters >= 3
        && t[letters..].chars().all(|c| c.is_ascii_digit())
}

/// `6:30`, `14:05` (not `src/grid.rs:88`).
fn looks_like_hh_mm(token: &str) -> bool {
    let t = token.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let t = t.trim_end_matches("am").trim_end_matches("pm");
    t.split_once(':').is_some_and(|(h, m)| {
        (1..=2).contains(&h.len())
            && m.len() == 2
            && h.chars().chain(m.chars()).all(|c| c.is_ascii_digit())
    })
}

fn looks_like_clock(word: &str) -> bool {
    let digits = word.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 2 {
        return false;
    }
    let rest = &word[digits..];
    matches!(rest, "am" | "pm" | "h" | "st" | "nd" | "rd" | "th")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_embedded_training_set_parses_and_covers_every_category() {
        let examples = parse_dataset(TRAINING_SET).unwrap();
        assert!(examples.len() >= 300, "only {} examples", examples.len());
        for category in Category::ALL {
            let n = examples.iter().filter(|e| e.category == category).count();
            assert!(n >= 20, "{category} has only {n} training examples");
        }
    }

    #[test]
    fn category_names_round_trip_and_aliases_resolve() {
        for category in Category::ALL {
            assert_eq!(category.name().parse::<Category>().unwrap(), category);
        }
        assert_eq!(
            "Summarise".parse::<Category>().unwrap(),
            Category::Summarize
        );
        assert_eq!("tests".parse::<Category>().unwrap(), Category::Test);
        assert!("cooking".parse::<Category>().is_err());
    }

    #[test]
    fn malformed_dataset_lines_are_reported_with_their_line_number() {
        let err = parse_dataset("# c\ncode\twrite it\nnonsense line\n").unwrap_err();
        assert_eq!(err.line, 3);
        let err = parse_dataset("cooking\tbake bread\n").unwrap_err();
        assert!(err.message.contains("cooking"), "{err}");
    }

    #[test]
    fn probabilities_are_a_distribution_and_confidence_is_the_top_one() {
        let c = Classifier::shared().classify("remind me to call the bank on monday at 10am");
        let sum: f64 = c.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert_eq!(c.confidence, c.probability(c.category));
        assert!(c.ranked()[0].0 == c.category);
    }

    #[test]
    fn empty_input_gets_a_low_confidence_not_a_panic() {
        let c = Classifier::shared().classify("");
        assert!(c.confidence < 0.5, "{c:?}");
    }

    #[test]
    fn structural_features_recognise_paths_clock_times_and_error_codes() {
        assert!(looks_like_path("parser.rs"));
        assert!(looks_like_path("src/grid.rs:88"));
        assert!(!looks_like_path("3.14"));
        assert!(!looks_like_path("e.g."));
        assert!(looks_like_clock("9am"));
        assert!(looks_like_clock("25th"));
        assert!(!looks_like_clock("2026"));
        assert!(looks_like_error_code("E0502"));
        assert!(!looks_like_error_code("HTTP"));
    }

    proptest! {
        #[test]
        fn any_text_classifies_to_a_valid_distribution(task in "\\PC{0,400}") {
            let c = Classifier::shared().classify(&task);
            let sum: f64 = c.probabilities.iter().sum();
            prop_assert!((sum - 1.0).abs() < 1e-6);
            prop_assert!(c.confidence > 0.0 && c.confidence <= 1.0);
        }

        #[test]
        fn dataset_parser_survives_garbage(text in "\\PC{0,300}") {
            let _ = parse_dataset(&text);
        }
    }
}
