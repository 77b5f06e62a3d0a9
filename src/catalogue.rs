//! The talk catalogue: which talks exist, their titles, times and rooms. Loaded once at
//! start-up from a JSON file or the built-in sample; it never changes while
//! the process runs. It knows nothing of likes.

use crate::model::TalkId;
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One talk as the catalogue describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Talk {
    /// The talk's id (GraphQL `sessionId`).
    pub id: i32,
    /// The talk's title.
    pub title: String,
    /// When it starts, if the catalogue says.
    #[serde(default)]
    pub start_time: Option<DateTime<FixedOffset>>,
    /// When it ends, if the catalogue says.
    #[serde(default)]
    pub end_time: Option<DateTime<FixedOffset>>,
    /// Where it takes place (`room`, or `place` as some catalogues call it).
    #[serde(default, alias = "place")]
    pub room: Option<String>,
}

#[derive(Deserialize)]
struct CatalogueFile {
    sessions: Vec<Talk>,
}

/// Why a catalogue could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The file could not be read.
    #[error("cannot read the talk catalogue {path}: {source}")]
    Read {
        /// The file named.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not the expected JSON shape.
    #[error("talk catalogue {path} is not valid: {source}")]
    Parse {
        /// The file named.
        path: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// Two talks share an id.
    #[error("talk catalogue {path} lists talk {id} twice")]
    Duplicate {
        /// The file named.
        path: String,
        /// The repeated id.
        id: i32,
    },
    /// No talks at all.
    #[error("talk catalogue {path} has no sessions")]
    Empty {
        /// The file named.
        path: String,
    },
}

/// The talks, ordered by id.
#[derive(Debug, Clone)]
pub struct Catalogue {
    talks: BTreeMap<TalkId, Talk>,
}

/// The built-in sample: a small catalogue of made-up talks.
const SAMPLE: &str = include_str!("sample_sessions.json");

impl Catalogue {
    /// The built-in sample catalogue.
    pub fn sample() -> Self {
        Self::from_json("<built-in sample>", SAMPLE).expect("the built-in sample is valid")
    }

    /// Loads a catalogue file: a top-level `sessions` array of objects with
    /// an integer `id`, a string `title`, and optionally RFC 3339
    /// `startTime` and `endTime` and a `room` (or `place`); other fields are
    /// ignored.
    pub fn load(path: &Path) -> Result<Self, CatalogueError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CatalogueError::Read {
            path: name.clone(),
            source,
        })?;
        Self::from_json(&name, &text)
    }

    /// Parses catalogue JSON; `name` names its origin in errors.
    pub fn from_json(name: &str, text: &str) -> Result<Self, CatalogueError> {
        let file: CatalogueFile =
            serde_json::from_str(text).map_err(|source| CatalogueError::Parse {
                path: name.to_owned(),
                source,
            })?;
        if file.sessions.is_empty() {
            return Err(CatalogueError::Empty {
                path: name.to_owned(),
            });
        }
        let mut talks = BTreeMap::new();
        for talk in file.sessions {
            let id = talk.id;
            if talks.insert(TalkId(id), talk).is_some() {
                return Err(CatalogueError::Duplicate {
                    path: name.to_owned(),
                    id,
                });
            }
        }
        Ok(Self { talks })
    }

    /// The talk with this id, if the catalogue has it.
    pub fn get(&self, id: TalkId) -> Option<&Talk> {
        self.talks.get(&id)
    }

    /// All talks, ordered by id.
    pub fn talks(&self) -> impl Iterator<Item = &Talk> {
        self.talks.values()
    }

    /// All talk ids, ordered.
    pub fn ids(&self) -> impl Iterator<Item = TalkId> + '_ {
        self.talks.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_catalogue_has_talks() {
        let catalogue = Catalogue::sample();
        assert!(catalogue.talks().count() >= 3);
        assert!(catalogue.get(TalkId(1)).is_some());
    }

    #[test]
    fn extra_fields_are_ignored() {
        let json = r#"{"sessions":[{"id":4,"title":"T","room":"A","speakers":[]}],"x":1}"#;
        let catalogue = Catalogue::from_json("t", json).unwrap();
        assert_eq!(catalogue.get(TalkId(4)).unwrap().title, "T");
    }

    #[test]
    fn times_and_rooms_are_read_when_present() {
        let json = r#"{"sessions":[
            {"id":1,"title":"A","startTime":"2026-05-14T10:00:00+02:00","endTime":"2026-05-14T10:40:00+02:00","room":"Hall A"},
            {"id":2,"title":"B","place":"Track B"},
            {"id":3,"title":"C","room":null}]}"#;
        let catalogue = Catalogue::from_json("t", json).unwrap();
        let a = catalogue.get(TalkId(1)).unwrap();
        assert_eq!(
            a.start_time.unwrap().to_rfc3339(),
            "2026-05-14T10:00:00+02:00"
        );
        assert_eq!(
            a.end_time.unwrap().to_rfc3339(),
            "2026-05-14T10:40:00+02:00"
        );
        assert_eq!(a.room.as_deref(), Some("Hall A"));
        assert_eq!(
            catalogue.get(TalkId(2)).unwrap().room.as_deref(),
            Some("Track B")
        );
        let c = catalogue.get(TalkId(3)).unwrap();
        assert!(c.start_time.is_none() && c.room.is_none());
        let bad_time = r#"{"sessions":[{"id":1,"title":"A","startTime":"10am"}]}"#;
        assert!(matches!(
            Catalogue::from_json("t", bad_time),
            Err(CatalogueError::Parse { .. })
        ));
    }

    #[test]
    fn duplicates_and_bad_shapes_are_refused() {
        let dup = r#"{"sessions":[{"id":4,"title":"a"},{"id":4,"title":"b"}]}"#;
        assert!(matches!(
            Catalogue::from_json("t", dup),
            Err(CatalogueError::Duplicate { id: 4, .. })
        ));
        let bad = r#"{"sessions":[{"id":"4","title":"a"}]}"#;
        assert!(matches!(
            Catalogue::from_json("t", bad),
            Err(CatalogueError::Parse { .. })
        ));
        assert!(matches!(
            Catalogue::from_json("t", r#"{"sessions":[]}"#),
            Err(CatalogueError::Empty { .. })
        ));
    }
}
