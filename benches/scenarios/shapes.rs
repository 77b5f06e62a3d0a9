//! The `createLike` documents real clients send, and `wrk` scripts that
//! POST them with a new liker on every request.

use sha2::{Digest, Sha256};
use std::io::Write;

/// Where each request's liker id goes in a body template.
pub const LIKER: &str = "@LIKER@";

/// One document shape, as a client sends it.
pub struct Shape {
    /// Its name in the tables.
    pub name: &'static str,
    /// The document.
    pub query: &'static str,
    /// The variables, with `LIKER` for the liker's id.
    pub variables: &'static str,
    /// Sent as a persisted-query hash, without the text.
    pub persisted: bool,
}

const README: &str = "mutation($input: CreateLikeInput!) { createLike(input: $input) { clientMutationId like { id session { sessionId liked } } } }";

/// The conference front end's own mutation (its `LikeSession`), as its
/// Apollo Client printed it.
const INLINE: &str = "mutation LikeSession($randomId: String!, $sessionId: Int!) {
  createLike(input: {uuid: $randomId, sessionId: $sessionId}) {
    clientMutationId
    like {
      id
      session {
        id
        liked
      }
    }
  }
}";

/// What Apollo Client sends: named, `__typename` in every selection set.
const APOLLO: &str = "mutation Like($input: CreateLikeInput!) {
  createLike(input: $input) {
    clientMutationId
    like {
      id
      session {
        sessionId
        liked
        __typename
      }
      __typename
    }
    __typename
  }
}";

const FRAGMENT: &str = "mutation Tap($input: CreateLikeInput!) {
  tap: createLike(input: $input) { ...Ack }
}
fragment Ack on CreateLikePayload {
  clientMutationId
  like { likeId: id session { talk: sessionId liked } }
}";

const INPUT: &str = r#"{"input":{"uuid":"@LIKER@","sessionId":1}}"#;

/// The shapes measured.
pub const SHAPES: [Shape; 5] = [
    Shape {
        name: "README's $input",
        query: README,
        variables: INPUT,
        persisted: false,
    },
    Shape {
        name: "inline input object",
        query: INLINE,
        variables: r#"{"randomId":"@LIKER@","sessionId":1}"#,
        persisted: false,
    },
    Shape {
        name: "Apollo's (__typename, named)",
        query: APOLLO,
        variables: INPUT,
        persisted: false,
    },
    Shape {
        name: "fragment and aliases",
        query: FRAGMENT,
        variables: INPUT,
        persisted: false,
    },
    Shape {
        name: "persisted hash, no text",
        query: APOLLO,
        variables: INPUT,
        persisted: true,
    },
];

impl Shape {
    /// The POST body, with `LIKER` where each request's liker goes.
    pub fn body(&self) -> String {
        let variables = self.variables;
        if self.persisted {
            format!(
                r#"{{"extensions":{},"variables":{variables}}}"#,
                self.hash()
            )
        } else {
            let query = serde_json::to_string(self.query).expect("a string");
            format!(r#"{{"query":{query},"variables":{variables}}}"#)
        }
    }

    /// The body that registers a persisted query: text and hash.
    pub fn registration(&self) -> String {
        let query = serde_json::to_string(self.query).expect("a string");
        let variables = self.variables.replace(LIKER, "registration");
        format!(
            r#"{{"query":{query},"extensions":{},"variables":{variables}}}"#,
            self.hash()
        )
    }

    fn hash(&self) -> String {
        let hash = hex::encode(Sha256::digest(self.query.as_bytes()));
        format!(r#"{{"persistedQuery":{{"version":1,"sha256Hash":"{hash}"}}}}"#)
    }
}

/// A `wrk` script POSTing `template` with every `LIKER` replaced by an id
/// new to each request: `salt`, the thread and a counter.
pub fn wrk_script(template: &str, salt: &str) -> anyhow::Result<tempfile::NamedTempFile> {
    let mut script = tempfile::NamedTempFile::new()?;
    let parts: Vec<String> = template
        .split(LIKER)
        .map(|part| format!("[==[{part}]==]"))
        .collect();
    write!(
        script,
        r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local parts = {{ {parts} }}
local threads = 0
function setup(thread)
  thread:set("thread", threads)
  threads = threads + 1
end
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, table.concat(parts, "{salt}-" .. thread .. "-" .. counter))
end
"#,
        parts = parts.join(", "),
    )?;
    Ok(script)
}
