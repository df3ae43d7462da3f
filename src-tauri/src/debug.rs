//! Test hook: `--dump-panel-text FILE` writes the panel's rendered text (`document.body.innerText`)
//! to FILE once the page has loaded and had time to fetch its data, so the app's screenshot test
//! can check the real web view's DOM, not only its pixels.

use std::path::PathBuf;
use std::time::Duration;

use tauri::WebviewWindow;

pub fn dump_text_later(window: WebviewWindow, path: PathBuf) {
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        dump_text(&window, path);
    });
}

#[cfg(target_os = "linux")]
fn dump_text(window: &WebviewWindow, path: PathBuf) {
    use javascriptcore::ValueExt;
    use webkit2gtk::WebViewExt;
    let result = window.with_webview(move |platform| {
        let path = path.clone();
        platform.inner().evaluate_javascript(
            "document.body.innerText",
            None,
            None,
            None::<&webkit2gtk::gio::Cancellable>,
            move |result| {
                let text = match result {
                    Ok(value) => value.to_str().to_string(),
                    Err(e) => format!("(evaluate failed: {e})"),
                };
                if let Err(e) = std::fs::write(&path, text) {
                    tracing::error!(path = %path.display(), error = %e, "cannot write the panel text");
                }
            },
        );
    });
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot reach the panel's web view");
    }
}

#[cfg(not(target_os = "linux"))]
fn dump_text(_window: &WebviewWindow, path: PathBuf) {
    tracing::warn!(path = %path.display(), "--dump-panel-text is only implemented on Linux");
}
