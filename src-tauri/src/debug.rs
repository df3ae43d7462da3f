//! Test hooks, carried out by the window host: `--dump-panel-text FILE` writes the panel's
//! rendered text (`document.body.innerText`) to FILE once the page has loaded and had time to
//! fetch its data, so the app's tests can check the real web view's DOM, not only its pixels; and
//! `--eval WINDOW SCRIPT FILE` (honoured only when the running app has `PAIOS_APP_TEST_HOOKS=1`)
//! runs SCRIPT in that window and writes its result to FILE, so a test can use a page the way a
//! person would (click a checkbox) through the app's real IPC and permissions.

use std::path::PathBuf;
use std::time::Duration;

use tauri::WebviewWindow;

/// Whether the app was started with its test hooks enabled.
pub fn hooks_enabled() -> bool {
    std::env::var("PAIOS_APP_TEST_HOOKS").is_ok_and(|v| v == "1")
}

pub fn dump_text_later(window: WebviewWindow, path: PathBuf) {
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        eval_to_file(&window, "document.body.innerText", path);
    });
}

/// Evaluate `script` in the window's page; write its value as text (or the error) to `path`.
#[cfg(target_os = "linux")]
pub fn eval_to_file(window: &WebviewWindow, script: &str, path: PathBuf) {
    use javascriptcore::ValueExt;
    use webkit2gtk::WebViewExt;
    let script = script.to_string();
    let result = window.with_webview(move |platform| {
        let path = path.clone();
        platform.inner().evaluate_javascript(
            &script,
            None,
            None,
            None::<&webkit2gtk::gio::Cancellable>,
            move |result| {
                let text = match result {
                    Ok(value) => value.to_str().to_string(),
                    Err(e) => format!("(evaluate failed: {e})"),
                };
                if let Err(e) = std::fs::write(&path, text) {
                    tracing::error!(path = %path.display(), error = %e, "cannot write the script's result");
                }
            },
        );
    });
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot reach the window's web view");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn eval_to_file(_window: &WebviewWindow, _script: &str, path: PathBuf) {
    tracing::warn!(path = %path.display(), "the test hooks are only implemented on Linux");
}
