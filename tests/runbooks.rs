//! The runbooks cite only commands that exist: every `paios …` / `ai …` line or inline command
//! of docs/runbooks/*.md parses (its words before the first flag, then `--help`).

use std::path::Path;

use paios_testkit as support;

/// The commands a runbook cites: inline `paios …` code and code-block lines.
fn cited(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            let l = line.trim();
            if l.starts_with("paios ") || l.starts_with("ai ") {
                out.push(l.to_string());
            }
            continue;
        }
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 1 && (part.starts_with("paios ") || part.starts_with("ai ")) {
                out.push(part.to_string());
            }
        }
    }
    out
}

/// The program and the subcommand words of a cited command (up to the first flag, quote,
/// pipe or placeholder), e.g. `paios service logs NAME -n 200 | grep` → `paios service logs`.
fn subcommand(command: &str) -> Vec<String> {
    command
        .split_whitespace()
        .take_while(|w| {
            w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-')
        })
        .map(String::from)
        .collect()
}

#[test]
fn every_command_a_runbook_cites_exists() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/runbooks");
    let mut failures = Vec::new();
    let mut checked = 0;
    let home = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for command in cited(&text) {
            let words = subcommand(&command);
            let program = support::bin(&words[0]);
            let out = std::process::Command::new(&program)
                .args(&words[1..])
                .arg("--help")
                .env("PAIOS_HOME", home.path())
                .output()
                .unwrap();
            checked += 1;
            if !out.status.success() {
                failures.push(format!(
                    "{}: `{command}`: `{} --help` fails: {}",
                    path.file_name().unwrap().to_string_lossy(),
                    words.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .next()
                        .unwrap_or("")
                ));
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} commands found: is the scan broken?"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_scan_finds_inline_and_block_commands_and_stops_at_flags_and_placeholders() {
    let text =
        "Run `paios status` then:\n```sh\npaios service logs NAME -n 200 | grep x\nls\n```\n";
    assert_eq!(
        cited(text),
        ["paios status", "paios service logs NAME -n 200 | grep x"]
    );
    assert_eq!(
        subcommand("paios service logs NAME -n 200"),
        ["paios", "service", "logs"]
    );
    assert_eq!(subcommand("ai --brain codex \"say ok\""), ["ai"]);
}
