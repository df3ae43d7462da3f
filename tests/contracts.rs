//! docs/contracts.md stays true: every command of a `contract` block runs against a real daemon
//! in a throw-away home, and every field of the block's example is in the real answer with the
//! same JSON type (see the top of docs/contracts.md for the rules).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use paios_testkit as support;
use serde_json::Value;
use support::daemon::TestHome;

/// One `<!-- contract: COMMAND -->` block of the document.
#[derive(Debug)]
struct Contract {
    line: usize,
    command: String,
    /// `Some(issue)` for a contract of an issue that has not landed.
    planned: Option<String>,
    example: Value,
}

fn contracts_doc() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/contracts.md")
}

/// The contract blocks, in document order.
fn contracts(text: &str) -> Vec<Contract> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if let Some(rest) = line
            .strip_prefix("<!-- contract")
            .and_then(|r| r.strip_suffix("-->"))
        {
            let (planned, command) = match rest.trim().strip_prefix("(planned:") {
                Some(p) => {
                    let (issue, after) = p.split_once("):").expect("(planned: ISSUE): COMMAND");
                    (Some(issue.trim().to_string()), after)
                }
                None => (None, rest.trim().strip_prefix(':').expect(": COMMAND")),
            };
            assert_eq!(
                lines.get(i + 1).map(|l| l.trim()),
                Some("```json"),
                "line {}",
                i + 2
            );
            let end = (i + 2..lines.len())
                .find(|&j| lines[j].trim() == "```")
                .expect("a closed ```json block");
            let json = lines[i + 2..end].join("\n");
            let example = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("contracts.md:{}: the example is not JSON: {e}", i + 3));
            out.push(Contract {
                line: i + 1,
                command: command.trim().to_string(),
                planned,
                example,
            });
            i = end;
        }
        i += 1;
    }
    out
}

/// Words of a command line, a `{…}` (JSON) argument kept whole; `< {…}` is the stdin.
fn words(command: &str) -> (Vec<String>, Option<String>) {
    let (args, stdin) = match command.split_once(" < ") {
        Some((a, s)) => (a, Some(s.trim().to_string())),
        None => (command, None),
    };
    let mut out = Vec::new();
    let mut rest = args.trim();
    while !rest.is_empty() {
        if rest.starts_with('{') {
            let mut depth = 0;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i + 1)
                .expect("balanced braces");
            out.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
    }
    (out, stdin)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field of `example` is in `actual` with the same type; the differences, as paths.
fn shape_errors(example: &Value, actual: &Value, path: &str, errors: &mut Vec<String>) {
    match (example, actual) {
        (Value::Null, _) => {}
        (Value::Object(want), Value::Object(got)) => {
            for (key, sub) in want {
                match got.get(key) {
                    Some(v) => shape_errors(sub, v, &format!("{path}.{key}"), errors),
                    None => errors.push(format!("{path}.{key} is missing")),
                }
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            if let Some(first) = want.first() {
                if got.is_empty() {
                    errors.push(format!(
                        "{path} is empty: its elements' shape cannot be checked"
                    ));
                }
                for (i, element) in got.iter().enumerate() {
                    shape_errors(first, element, &format!("{path}[{i}]"), errors);
                }
            }
        }
        (want, got) if type_name(want) == type_name(got) => {}
        (want, got) => errors.push(format!(
            "{path} is {} ({got}), the contract says {}",
            type_name(got),
            type_name(want)
        )),
    }
}

/// A home with a daemon, a service that runs, one that cannot start (an incident), an event of
/// the contract check, and empty brain logs.
fn home() -> (TestHome, tempfile::TempDir) {
    let logs = tempfile::tempdir().unwrap();
    let mut home = TestHome::new();
    home.write_config(
        r#"[api]
port = 0

[[service]]
name = "svc"
command = ["sleep", "600"]
[service.probe]
kind = "process"

[[service]]
name = "broken"
command = ["/nonexistent/program"]
"#,
    );
    home.start_daemon();
    home.wait_for_event("alert.raised", Duration::from_secs(20), |e| {
        e["subject"] == "broken"
    });
    home.wait_for_event("service.started", Duration::from_secs(20), |e| {
        e["subject"] == "svc"
    });
    let (code, _, err) = home.run(&["emit", "contract.check", "--subject", "s", "--data", "{}"]);
    assert_eq!(code, 0, "{err}");
    (home, logs)
}

fn run(
    home: &TestHome,
    logs: &Path,
    words: &[String],
    stdin: Option<&str>,
) -> (i32, String, String) {
    let mut cmd = match words[0].as_str() {
        "paios" => home.paios(),
        "ai" => home.ai(),
        other => panic!("a contract runs paios or ai, not {other}"),
    };
    // No brain is reachable from a contract check: nothing may call a model service.
    cmd.args(&words[1..])
        .env_remove("PAIOS_TOOLS_DIR")
        .env("PATH", "/usr/bin:/bin")
        .env("CLAUDE_CONFIG_DIR", logs)
        .env("CODEX_HOME", logs)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether the program knows the command (its `--help` succeeds).
fn implemented(home: &TestHome, logs: &Path, words: &[String]) -> bool {
    let subcommand: Vec<String> = words
        .iter()
        .take_while(|w| !w.starts_with('-'))
        .cloned()
        .chain(["--help".to_string()])
        .collect();
    run(home, logs, &subcommand, None).0 == 0
}

#[test]
fn every_documented_contract_holds_against_a_real_daemon() {
    let text = std::fs::read_to_string(contracts_doc()).unwrap();
    let contracts = contracts(&text);
    assert!(
        contracts.len() >= 10,
        "found only {} contracts",
        contracts.len()
    );
    let (home, logs) = home();
    let mut failures = Vec::new();
    for contract in &contracts {
        let (words, stdin) = words(&contract.command);
        let at = format!("docs/contracts.md:{} `{}`", contract.line, contract.command);
        if let Some(issue) = &contract.planned {
            if implemented(&home, logs.path(), &words) {
                failures.push(format!(
                    "{at}: implemented now — remove \"(planned: {issue})\" so the test checks it"
                ));
            }
            continue;
        }
        let (code, out, err) = run(&home, logs.path(), &words, stdin.as_deref());
        let answer: Value = match serde_json::from_str(&out) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{at}: exit {code}, stdout is not JSON ({e}): {out}{err}"
                ));
                continue;
            }
        };
        let mut errors = Vec::new();
        shape_errors(&contract.example, &answer, "$", &mut errors);
        for e in errors {
            failures.push(format!("{at}: {e}\n    answer: {answer}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_shape_check_catches_a_missing_field_a_wrong_type_and_an_empty_list() {
    let example = serde_json::json!({"a": 1, "b": [{"c": "x"}], "d": null});
    let mut errors = Vec::new();
    shape_errors(
        &example,
        &serde_json::json!({"a": 2.5, "b": [{"c": "y"}], "d": [1]}),
        "$",
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    shape_errors(
        &example,
        &serde_json::json!({"a": "1", "b": [{}]}),
        "$",
        &mut errors,
    );
    assert_eq!(
        errors,
        [
            "$.a is string (\"1\"), the contract says number",
            "$.b[0].c is missing",
            "$.d is missing",
        ]
    );
    let mut errors = Vec::new();
    shape_errors(
        &example,
        &serde_json::json!({"a": 1, "b": [], "d": 0}),
        "$",
        &mut errors,
    );
    assert_eq!(
        errors,
        ["$.b is empty: its elements' shape cannot be checked"]
    );
    assert_eq!(
        words(r#"paios classify --input {"command":"ls -la"} --json < {"x": 1}"#),
        (
            vec![
                "paios".into(),
                "classify".into(),
                "--input".into(),
                r#"{"command":"ls -la"}"#.into(),
                "--json".into()
            ],
            Some(r#"{"x": 1}"#.into())
        )
    );
}
