//! Embeds `migrations/NNNN_name.sql` into the binary, in order, and the built-in approval
//! policy as JSON (`approvals/default_policy.toml` is the source; `paios hook` runs on every
//! tool call, and serde_json reads the policy in a fraction of the time the TOML parser takes).
use std::{env, fs, path::Path};

fn main() {
    policy_as_json();
    migrations();
}

fn policy_as_json() {
    let source = "src/approvals/default_policy.toml";
    println!("cargo:rerun-if-changed={source}");
    let text = fs::read_to_string(source).expect("the built-in policy");
    let value: toml::Value =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{source} is not valid TOML: {e}"));
    let json = serde_json::to_string(&value).expect("TOML values are JSON values");
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("default_policy.json"),
        json,
    )
    .unwrap();
}

fn migrations() {
    // The top-level `migrations/` folder (the design keeps it at the repository root).
    println!("cargo:rerun-if-changed=../../migrations");
    let mut files: Vec<_> = fs::read_dir("../../migrations")
        .expect("migrations/ folder")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// (version, name, sql), in order.\npub static MIGRATIONS: &[(u32, &str, &str)] = &[\n",
    );
    for (i, name) in files.iter().enumerate() {
        let version: u32 = name
            .split('_')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("migration {name} must start with its number, e.g. 0001_"));
        assert_eq!(
            version as usize,
            i + 1,
            "migrations must be numbered 0001, 0002, … without gaps ({name})"
        );
        // The folder is named when the library compiles, not here: a build folder reused after
        // the source folder moved must not point at the old one.
        out.push_str(&format!(
            "    ({version}, {name:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/../../migrations/{name}\"))),\n"
        ));
    }
    out.push_str("];\n");
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("migrations.rs"),
        out,
    )
    .unwrap();
}
