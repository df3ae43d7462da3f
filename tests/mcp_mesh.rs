//! `paios mesh install|uninstall|check` with the real, pinned claude, codex and openclaw in a
//! hermetic home: registrations through each CLI's own `mcp add`, idempotent, exactly undone;
//! the check starts every registered server as its brain would and names the broken link.

use paios_testkit as support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::env::BrainEnv;

const LONG: Duration = Duration::from_secs(300);

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            let ft = entry.file_type().unwrap();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn config_files(env: &BrainEnv) -> Vec<PathBuf> {
    vec![
        env.claude_config_dir().join(".claude.json"),
        env.codex_home().join("config.toml"),
        env.openclaw_config_path(),
    ]
}

fn mesh(env: &BrainEnv, args: &[&str]) -> support::env::Finished {
    let mut cmd = env.paios();
    cmd.arg("mesh").args(args);
    let out = env.run(&mut cmd, LONG);
    assert!(
        !out.timed_out,
        "paios mesh {args:?} timed out: {}",
        out.stderr
    );
    out
}

fn check(env: &BrainEnv, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["check", "--json"];
    args.extend(extra);
    let out = mesh(env, &args);
    let report: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "mesh check --json is not JSON ({e}): {}\n{}",
            out.stdout, out.stderr
        )
    });
    (out.code.unwrap_or(-1), report)
}

fn link<'a>(report: &'a Value, brain: &str, server: &str) -> &'a Value {
    report["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["brain"] == brain && l["server"] == server)
        .unwrap_or_else(|| panic!("no link {brain} → {server} in {report}"))
}

#[test]
fn mesh_install_twice_changes_nothing_the_second_time_and_uninstall_restores_the_originals() {
    let env = BrainEnv::new();
    // A Claude Code that has run before: its own state file exists.
    std::fs::write(
        env.claude_config_dir().join(".claude.json"),
        "{\n  \"numStartups\": 3,\n  \"mcpServers\": {\n    \"mine\": {\"type\": \"stdio\", \"command\": \"/bin/true\", \"args\": []}\n  }\n}\n",
    )
    .unwrap();
    let originals: Vec<(PathBuf, Option<Vec<u8>>)> = config_files(&env)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).ok();
            (p, bytes)
        })
        .collect();

    let first = mesh(&env, &["install", "--json"]);
    assert_eq!(first.code, Some(0), "{}\n{}", first.stdout, first.stderr);
    let changes: Value = serde_json::from_str(&first.stdout).unwrap();
    let added: Vec<String> = changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "added")
        .map(|c| {
            format!(
                "{}→{}",
                c["brain"].as_str().unwrap(),
                c["server"].as_str().unwrap()
            )
        })
        .collect();
    for wanted in [
        "claude→paios",
        "codex→paios",
        "openclaw→paios",
        "codex→claude",
        "openclaw→claude",
        "claude→openclaw",
        "codex→openclaw",
    ] {
        assert!(
            added.contains(&wanted.to_string()),
            "{wanted} not in {added:?}"
        );
    }
    // The user's own server is still there.
    let claude: Value = serde_json::from_slice(
        &std::fs::read(env.claude_config_dir().join(".claude.json")).unwrap(),
    )
    .unwrap();
    assert!(claude["mcpServers"]["mine"].is_object(), "{claude}");
    assert!(
        claude["mcpServers"]["paios"]["args"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "mcp")
    );

    let after_first = snapshot(env.root());
    let second = mesh(&env, &["install", "--json"]);
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    let changes: Value = serde_json::from_str(&second.stdout).unwrap();
    assert!(
        changes["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["action"] == "unchanged"),
        "{changes}"
    );
    let after_second = snapshot(env.root());
    for (path, bytes) in &after_first {
        assert_eq!(
            after_second.get(path),
            Some(bytes),
            "{} changed on the second install",
            path.display()
        );
    }
    assert_eq!(
        after_first.len(),
        after_second.len(),
        "the second install made new files"
    );

    // OpenClaw reaches PAIOS's tools through its own probe.
    let mut probe = env.openclaw();
    probe.args(["mcp", "probe", "paios", "--json"]);
    let probed = env.run(&mut probe, LONG);
    assert_eq!(probed.code, Some(0), "{}\n{}", probed.stdout, probed.stderr);
    let probed: Value = serde_json::from_str(&probed.stdout).unwrap();
    let tools: Vec<&str> = probed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for tool in [
        "paios__paios_status",
        "paios__paios_classify",
        "paios__ask_codex",
    ] {
        assert!(tools.contains(&tool), "{tool} not in {tools:?}");
    }

    let undone = mesh(&env, &["uninstall", "--json"]);
    assert_eq!(undone.code, Some(0), "{}\n{}", undone.stdout, undone.stderr);
    for (path, bytes) in originals {
        assert_eq!(
            std::fs::read(&path).ok(),
            bytes,
            "{} is not restored exactly",
            path.display()
        );
    }
}

#[test]
fn mesh_check_is_ok_after_install_and_names_the_broken_link() {
    let env = BrainEnv::new();
    // PAIOS registered from a copy of the program, so the test can make it unreachable.
    let copy = env.root().join("bin/paios");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(support::daemon::paios_bin(), &copy).unwrap();
    let mut install = std::process::Command::new(&copy);
    env.apply(&mut install);
    install.args(["mesh", "install"]);
    let out = env.run(&mut install, LONG);
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    let (code, report) = check(&env, &[]);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(code, 0);
    for brain in report["brains"].as_array().unwrap() {
        assert_eq!(brain["installed"], true, "{brain}");
        assert_eq!(brain["mcp_registered"], true, "{brain}");
        assert_eq!(brain["tools_visible"], true, "{brain}");
        assert!(brain["error"].is_null(), "{brain}");
    }
    let l = link(&report, "codex", "paios");
    assert_eq!(l["tools"], 8, "{l}");
    assert!(l["latency_ms"].as_u64().is_some());

    // A registration removed behind PAIOS's back.
    let mut remove = env.codex();
    remove.args(["mcp", "remove", "paios"]);
    assert_eq!(env.run(&mut remove, LONG).code, Some(0));
    let (code, report) = check(&env, &["--brain", "codex"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["ok"], false);
    let codex = &report["brains"][0];
    assert_eq!(codex["name"], "codex");
    assert_eq!(codex["mcp_registered"], false);
    assert!(
        codex["error"]
            .as_str()
            .unwrap()
            .contains("paios mesh install --brain codex"),
        "{codex}"
    );
    assert_eq!(link(&report, "codex", "paios")["registered"], false);

    // The registered command made unreachable.
    std::fs::remove_file(&copy).unwrap();
    let (code, report) = check(&env, &["--brain", "claude"]);
    assert_eq!(code, 1);
    let l = link(&report, "claude", "paios");
    assert_eq!(l["registered"], true);
    assert_eq!(l["ok"], false);
    assert!(
        l["error"]
            .as_str()
            .unwrap()
            .contains(&copy.display().to_string()),
        "{l}"
    );
    assert_eq!(report["brains"][0]["tools_visible"], false);
}
