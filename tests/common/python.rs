//! The Python the black-box tests drive real clients and tools with:
//! `LIKES_TEST_PYTHON`, else the virtual environment `scripts/test`
//! installs `tests/clients/requirements.txt` into (`target/test-venv`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// That Python, checked to import `module`; fails the test, saying how to
/// install it, when it cannot.
pub fn python_with(module: &str) -> PathBuf {
    let python = std::env::var_os("LIKES_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python")
        });
    let works = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        works,
        "{} cannot import {module}: run scripts/test, which installs \
         tests/clients/requirements.txt into target/test-venv, or set LIKES_TEST_PYTHON \
         to a Python that has it",
        python.display()
    );
    python
}
