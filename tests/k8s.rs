//! The Kubernetes manifests (`k8s/`) render and pass offline validation:
//! `scripts/validate-k8s` checks every resource of an overlay strictly
//! against the pinned Kubernetes version's schemas (GKE's custom resources
//! against `k8s/schemas/`) and the invariants the service depends on,
//! among them: the autoscaler alone sets the replica count, every alert
//! pages or tickets and links its runbook section, the export runs as its
//! own identity, one run at a time. The backup schedule
//! (`scripts/backup-schedule`) is a gcloud command gcloud accepts.
//! Needs `kubectl` (for `kubectl kustomize`) and the test Python with
//! `tests/clients/requirements.txt` installed (`scripts/test` does it).

#[path = "common/python.rs"]
mod python;

use python::python_with;
use std::path::Path;
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `scripts/validate-k8s` with `args`, from the repository root.
fn validate_k8s(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(repo().join("scripts/validate-k8s"))
        .arg("--python")
        .arg(python_with("kubernetes_validate"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("bash runs scripts/validate-k8s")
}

fn printed(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_overlay_is_valid(overlay: &str) {
    let kubectl = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        kubectl,
        "kubectl is missing: these tests render the manifests with `kubectl kustomize`. \
         Install it: `apt-get install kubectl` (Google Cloud's apt repository) or \
         `gcloud components install kubectl`"
    );
    let output = validate_k8s(&[overlay]);
    assert!(
        output.status.success(),
        "scripts/validate-k8s {overlay} failed ({}):\n{}",
        output.status,
        printed(&output)
    );
}

#[test]
fn the_dev_overlay_renders_and_validates_strictly() {
    assert_overlay_is_valid("dev");
}

#[test]
fn the_production_overlay_renders_and_validates_strictly() {
    assert_overlay_is_valid("production");
}

/// The validation above would prove nothing if it passed anything: a wrong
/// type, an unknown field of a custom resource, and a kind with no schema
/// must each fail it.
#[test]
fn the_validation_refuses_broken_manifests() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: likes
spec:
  replicas: three
  selector:
    matchLabels: {app: likes}
  template:
    metadata:
      labels: {app: likes}
    spec:
      containers:
        - name: likes
          image: likes:0.1.0
---
apiVersion: cloud.google.com/v1
kind: BackendConfig
metadata:
  name: likes
spec:
  timeoutSecs: 3600
---
apiVersion: example.com/v1
kind: Gadget
metadata:
  name: likes
",
    )
    .expect("the broken manifest is written");
    let path = broken.to_str().expect("the temporary path is UTF-8");
    let output = validate_k8s(&["--file", path]);
    let text = printed(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "scripts/validate-k8s must fail on the broken manifest:\n{text}"
    );
    for expected in [
        "spec.replicas: 'three' is not of type",
        "'timeoutSecs' was unexpected",
        "no schema for Gadget",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
}

/// The invariants added for running by SLO must be able to fail too: the
/// production overlay, rendered, then broken in four places that its
/// schemas allow.
#[test]
fn the_checks_refuse_replicas_beside_the_autoscaler_and_untriaged_alerts() {
    let rendered = Command::new("kubectl")
        .args(["kustomize", "k8s/overlays/production"])
        .current_dir(repo())
        .output()
        .expect("kubectl renders the production overlay");
    assert!(rendered.status.success(), "{}", printed(&rendered));
    let text = String::from_utf8(rendered.stdout).expect("the rendering is UTF-8");
    let broken = [
        (
            "  revisionHistoryLimit: 5\n",
            "  replicas: 3\n  revisionHistoryLimit: 5\n",
        ),
        (
            "  concurrencyPolicy: Forbid\n",
            "  concurrencyPolicy: Allow\n",
        ),
        ("        severity: page\n", "        severity: urgent\n"),
        ("runbook.md#likestargetabsent", "runbook.md#nowhere"),
    ]
    .iter()
    .fold(text, |text, (from, to)| {
        assert!(text.contains(from), "the rendering has no {from:?}");
        text.replacen(from, to, 1)
    });
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("production.yaml");
    std::fs::write(&path, broken).expect("the broken rendering is written");
    let output = validate_k8s(&["--file", path.to_str().expect("UTF-8 path")]);
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(1), "must fail:\n{text}");
    for expected in [
        "spec.replicas is set beside HorizontalPodAutoscaler/likes",
        "concurrencyPolicy must be Forbid",
        "severity must be one of ['page', 'ticket']",
        "LikesTargetAbsent: runbook_url",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
}

/// Runs gcloud with `args` in an empty configuration (no account, no
/// prompts, no network): it parses the command line, then stops for want
/// of credentials.
fn gcloud_offline(program: &Path, args: &[&str]) -> Output {
    let config = tempfile::tempdir().expect("a temporary directory");
    Command::new(program)
        .args(args)
        .env("CLOUDSDK_CONFIG", config.path())
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()))
}

/// `scripts/backup-schedule` declares the database's backup schedule as a
/// gcloud command; the installed gcloud must accept every flag and value of
/// it (it fails only for want of credentials), and refuse a wrong one.
#[test]
fn the_backup_schedule_is_a_command_gcloud_accepts() {
    let gcloud = Command::new("gcloud").arg("--version").output();
    assert!(
        gcloud.is_ok_and(|output| output.status.success()),
        "gcloud is missing: install the Google Cloud SDK (it also brings the Spanner emulator)"
    );
    let script = repo().join("scripts/backup-schedule");
    let output = gcloud_offline(Path::new("bash"), &[script.to_str().unwrap(), "my-project"]);
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("gcloud.spanner.backup-schedules.create") && text.contains("active account"),
        "gcloud did not get as far as the credentials:\n{text}"
    );
    let wrong = gcloud_offline(
        Path::new("gcloud"),
        &[
            "spanner",
            "backup-schedules",
            "create",
            "likes-daily",
            "--instance=likes",
            "--database=likes",
            "--cron=0 2 * * *",
            "--retention-duration=14d",
            "--backup-type=daily",
        ],
    );
    assert_eq!(wrong.status.code(), Some(2), "{}", printed(&wrong));
}
