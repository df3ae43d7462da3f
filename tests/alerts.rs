//! Alerts from every module are incidents: raised once, listed by `paios incidents`, resolved.

use std::time::Duration;

use paios_testkit as support;
use serde_json::Value;
use support::daemon::TestHome;
use support::usage_logs::NowTree;

#[test]
fn a_budget_alert_is_an_incident_with_its_runbook_and_the_usage_it_follows_is_an_event() {
    // sonnet 4.5: 100k output tokens = $1.50, over a $1 daily budget.
    let logs = NowTree::with_one_message(100_000);
    let mut home = TestHome::new();
    home.write_config(&format!(
        "[api]\nport = 0\n{}[budgets.claude]\ndaily_usd = 1.0\n",
        logs.usage_table()
    ));
    home.start_daemon();
    let alert = home.wait_for_event("alert.raised", Duration::from_secs(20), |e| {
        e["subject"] == "budget:claude"
    });
    let incident = alert["data"]["incident"].as_str().unwrap_or("").to_string();
    assert!(incident.starts_with("inc-"), "an incident id: {alert}");
    assert_eq!(alert["data"]["alert"], "budget_exceeded");
    assert_eq!(
        alert["data"]["limit_usd"], 1.0,
        "the budget's facts ride along"
    );

    let (code, out, err) = home.run(&["incidents", "--json"]);
    assert_eq!(code, 0, "{err}");
    let incidents: Value = serde_json::from_str(&out).unwrap();
    let listed = incidents
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["component"] == "budget:claude")
        .unwrap_or_else(|| panic!("no budget incident in {incidents}"));
    assert_eq!(listed["id"], incident.as_str());
    assert_eq!(listed["runbook"], "budgets");
    assert_eq!(listed["severity"], "critical");
    assert!(listed["resolved_at"].is_null());

    let recorded = home.events("usage.recorded");
    assert!(
        recorded
            .iter()
            .any(|e| e["data"]["requests"].as_u64() >= Some(1)),
        "the ingest that found the usage is an event: {recorded:?}"
    );
}
