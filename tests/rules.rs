//! The alerting and recording rules (`k8s/overlays/production/rules.yaml`)
//! pass `promtool check rules`, and promtool's unit tests (`tests/rules/`)
//! fire every alert on synthetic series and keep every other one silent,
//! on a healthy event too. `scripts/check-rules` does the work; it needs
//! promtool (Debian's `prometheus` package, which `scripts/test` installs)
//! and the test Python with PyYAML.

#[path = "common/python.rs"]
mod python;

use python::python_with;
use std::path::Path;
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `scripts/check-rules` with `args`, from the repository root.
fn check_rules(args: &[&str]) -> Output {
    let promtool = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        promtool,
        "promtool is missing: `apt-get install prometheus` (Debian's package has it); \
         scripts/test installs it"
    );
    Command::new("bash")
        .arg(repo().join("scripts/check-rules"))
        .arg("--python")
        .arg(python_with("yaml"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("bash runs scripts/check-rules")
}

fn assert_passes(args: &[&str], expected: &str) {
    let output = check_rules(args);
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "scripts/check-rules {args:?} failed ({}):\n{text}",
        output.status
    );
    assert!(text.contains(expected), "no {expected:?} in:\n{text}");
}

#[test]
fn the_rules_pass_promtool_check_and_every_alert_fires_in_some_scenario() {
    assert_passes(&["--check-only"], "SUCCESS: 33 rules found");
}

#[test]
fn each_slos_burn_rate_alerts_fire_alone_and_a_healthy_event_is_silent() {
    assert_passes(&["tests/rules/likes-slo.test.yaml"], "SUCCESS");
}

#[test]
fn each_cause_and_export_alert_fires_alone_and_a_healthy_event_is_silent() {
    assert_passes(&["tests/rules/likes-causes.test.yaml"], "SUCCESS");
}
