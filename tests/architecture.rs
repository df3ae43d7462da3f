//! The architecture invariants that a compiler or a grep can check (ARCHITECTURE.md, "Layers").

use std::path::Path;

use serde_json::Value;

const WORKSPACE_CRATES: &[&str] = &[
    "paios",
    "paios-core",
    "paios-app",
    "paios-testkit",
    "paios-bench",
];

/// The workspace's packages as `cargo metadata` sees them (declared dependencies only).
fn packages() -> Vec<Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    meta["packages"].as_array().expect("packages").clone()
}

/// The workspace crates `package` depends on outside its tests (normal and build dependencies).
fn shipped_workspace_deps(packages: &[Value], package: &str) -> Vec<String> {
    let p = packages
        .iter()
        .find(|p| p["name"] == package)
        .unwrap_or_else(|| panic!("no package {package} in the workspace"));
    p["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] != "dev")
        .filter_map(|d| d["name"].as_str())
        .filter(|n| WORKSPACE_CRATES.contains(n))
        .map(String::from)
        .collect()
}

#[test]
fn the_core_library_depends_on_no_cli_app_bench_or_test_kit() {
    let packages = packages();
    assert_eq!(
        shipped_workspace_deps(&packages, "paios-core"),
        Vec::<String>::new()
    );
}

#[test]
fn the_shipped_programs_depend_on_the_core_and_never_on_the_test_kit_or_the_benchmarks() {
    let packages = packages();
    for program in ["paios", "paios-app"] {
        assert_eq!(
            shipped_workspace_deps(&packages, program),
            vec!["paios-core".to_string()],
            "{program}"
        );
    }
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_path_under_the_home_is_built_outside_paths_rs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["crates/core/src", "src", "src-tauri/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("crates/core/src/paths.rs"))
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains("home().join(") || l.contains(".home.join("))
                .map(|(n, l)| format!("{}:{}: {}", f.display(), n + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "paths under PAIOS_HOME belong in paths.rs:\n{}",
        offenders.join("\n")
    );
}
