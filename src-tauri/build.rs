fn main() {
    // The app's own commands, so the settings page (served by the daemon, a remote origin for
    // Tauri) can be granted exactly these through capabilities/settings.json.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&["login_item_get", "login_item_set"]),
    ))
    .expect("tauri-build failed");
}
