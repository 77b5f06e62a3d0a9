//! The `--store` URL: which backend, and where.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite://PATH`: an embedded SQLite file, created if missing.
    Sqlite(PathBuf),
    /// `spanner://projects/P/instances/I/databases/D`.
    Spanner(String),
}

impl FromStr for StoreUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://likes.db".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some(name) = s.strip_prefix("spanner://") {
            if spanner_name_parts(name).is_none() {
                return Err(format!(
                    "{s:?} is not spanner://projects/P/instances/I/databases/D"
                ));
            }
            return Ok(Self::Spanner(name.to_owned()));
        }
        Err(format!(
            "{s:?} is not a store URL: use sqlite://PATH or spanner://projects/P/instances/I/databases/D"
        ))
    }
}

/// The project, instance and database of `projects/P/instances/I/databases/D`.
pub fn spanner_name_parts(name: &str) -> Option<(&str, &str, &str)> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["projects", p, "instances", i, "databases", d]
            if !p.is_empty() && !i.is_empty() && !d.is_empty() =>
        {
            Some((p, i, d))
        }
        _ => None,
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Spanner(name) => write!(f, "spanner://{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_parse_or_say_why_not() {
        assert_eq!(
            "sqlite://likes.db".parse(),
            Ok(StoreUrl::Sqlite("likes.db".into()))
        );
        assert_eq!(
            "sqlite:///tmp/x.db".parse(),
            Ok(StoreUrl::Sqlite("/tmp/x.db".into()))
        );
        assert_eq!(
            "spanner://projects/p/instances/i/databases/d".parse(),
            Ok(StoreUrl::Spanner(
                "projects/p/instances/i/databases/d".into()
            ))
        );
        assert!("sqlite://".parse::<StoreUrl>().is_err());
        assert!("spanner://projects/p".parse::<StoreUrl>().is_err());
        assert_eq!(
            spanner_name_parts("projects/p/instances/i/databases/d"),
            Some(("p", "i", "d"))
        );
        assert_eq!(spanner_name_parts("projects/p/instances/i"), None);
        assert!("postgres://x".parse::<StoreUrl>().is_err());
    }
}
