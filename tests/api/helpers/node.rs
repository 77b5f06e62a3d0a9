//! Node scripts of `tests/clients/node` (real clients, the HTTP audit, the
//! differential test against graphql-js), run as child processes.

use std::path::PathBuf;
use tokio::process::Command;

/// The Node package of clients, with its modules installed.
fn clients() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/node");
    assert!(
        [
            "graphql",
            "graphql-http",
            "graphql-sse",
            "@apollo/client",
            "ws"
        ]
        .iter()
        .all(|module| dir.join("node_modules").join(module).is_dir()),
        "the clients' Node modules are missing: run scripts/test, or `cd tests/clients/node && npm ci`"
    );
    dir
}

/// Runs `node script args…` and returns what it printed; fails the test,
/// showing it, if the script fails.
pub async fn node(script: &str, args: &[&str]) -> String {
    let dir = clients();
    run(&[dir.join(script).to_str().unwrap()], args, script).await
}

/// Runs the Node tests (`node --test`) in `file`; fails the test, showing
/// their report, if one fails.
pub async fn node_tests(file: &str) -> String {
    let path = clients().join(file);
    run(&["--test", path.to_str().unwrap()], &[], file).await
}

async fn run(node_args: &[&str], args: &[&str], script: &str) -> String {
    let dir = clients();
    let output = Command::new("node")
        .args(node_args)
        .args(args)
        .current_dir(&dir)
        .output()
        .await
        .expect("node runs (Node.js 20.19 or later)");
    let printed = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{script} failed:\n{printed}");
    printed
}
