//! Every file the project's code and docs point to exists: relative
//! Markdown links, and paths into the repository's folders named in code,
//! comments, scripts and manifests (from the repository's root, or from
//! `web/`, where the page's commands run).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Top-level folders whose paths are checked wherever they are named.
const ROOTS: [&str; 7] = [
    "src/", "tests/", "docs/", "scripts/", "k8s/", "web/", "benches/",
];

/// Tracked text files that may cite others (builds and lock files excluded).
fn citing_files(root: &Path) -> Vec<PathBuf> {
    let listed = Command::new("git")
        .args(["ls-files"])
        .current_dir(root)
        .output()
        .expect("git lists the tracked files");
    let listed = String::from_utf8(listed.stdout).unwrap();
    let texts = [
        ".rs", ".md", ".yaml", ".yml", ".py", ".mjs", ".js", ".toml", ".sql",
    ];
    listed
        .lines()
        .filter(|path| !path.contains("/dist") && !path.contains("node_modules"))
        .filter(|path| !path.ends_with("package-lock.json") && !path.ends_with("Cargo.lock"))
        .filter(|path| {
            texts.iter().any(|ext| path.ends_with(ext))
                || path.starts_with("scripts/")
                || path.starts_with(".ci/")
                || *path == "Dockerfile"
        })
        .map(|path| root.join(path))
        .collect()
}

/// The targets of `[text](target)` links that name a file in the repository.
fn links(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            let target = &rest[..rest.find(')')?];
            let target = target.split('#').next().unwrap_or_default();
            let external = target.contains("://") || target.starts_with("mailto:");
            (!target.is_empty() && !external && !target.contains(' ')).then_some(target)
        })
        .collect()
}

/// Words that are paths into one of `ROOTS`, with a file extension or a
/// trailing slash (a folder).
fn paths(text: &str) -> Vec<&str> {
    let path_char = |c: char| c.is_ascii_alphanumeric() || "_./-*".contains(c);
    text.split(|c: char| !path_char(c))
        .map(|word| word.trim_end_matches(['.', ',']))
        .filter(|word| ROOTS.iter().any(|root| word.starts_with(root)))
        .filter(|word| {
            let name = word.rsplit('/').next().unwrap_or_default();
            word.ends_with('/') || name.contains('.')
        })
        .filter(|word| !word.contains("..") && !word.contains('*'))
        .collect()
}

#[test]
fn every_file_the_project_points_to_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    let files = citing_files(root);
    assert!(files.len() > 100, "too few files found: {}", files.len());
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let name = file.strip_prefix(root).unwrap().display().to_string();
        if name.ends_with(".md") {
            let dir = file.parent().unwrap();
            for target in links(&text) {
                if !dir.join(target).exists() {
                    missing.push(format!("{name}: link to {target}"));
                }
            }
        }
        // Commands in the page's docs run in its package, `web/`.
        for path in paths(&text) {
            if !root.join(path).exists() && !root.join("web").join(path).exists() {
                missing.push(format!("{name}: {path}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "cited but missing:\n{}",
        missing.join("\n")
    );
}

#[test]
fn links_and_paths_are_found_as_written() {
    let text = "see [the API](docs/api.md#errors), [site](https://x.org/a.md), \
                `src/http/server.rs`, web/dist/, scripts/test and tests/api/*.rs.";
    assert_eq!(links(text), ["docs/api.md"]);
    assert_eq!(
        paths(text),
        ["docs/api.md", "src/http/server.rs", "web/dist/"]
    );
}
