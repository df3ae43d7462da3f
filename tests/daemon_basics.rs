//! The daemon comes up, records events, and refuses a second copy.
use paios_testkit as support;

use support::daemon::TestHome;

#[test]
fn emitted_event_is_listed() {
    let mut home = TestHome::new();
    home.start_daemon();
    let (code, _, err) = home.run(&[
        "emit",
        "test.hello",
        "--subject",
        "s",
        "--data",
        r#"{"n":1}"#,
    ]);
    assert_eq!(code, 0, "{err}");
    let events = home.events("test.");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["subject"], "s");
    assert_eq!(events[0]["data"]["n"], 1);
}
