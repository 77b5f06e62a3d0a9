//! Parsed GraphQL documents kept by their text. Clients send the same few
//! documents over and over (the page's like mutation and subscription), so
//! each is parsed once and handed to async-graphql already parsed
//! (`Request::set_parsed_query`); validation and execution run as always.
//! A plain `createLike` document is kept with its `DirectLike` plan instead,
//! and a plain `likeAdded` one with its `DirectLikeAdded` plan beside the
//! parse; the direct paths answer them without the general executor.

use super::direct::{DirectLike, DirectLikeAdded};
use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Documents longer than this are parsed every time: real clients' are short.
const MAX_TEXT_BYTES: usize = 4 * 1024;

/// A bounded map from document text to its parse.
pub struct Documents {
    parsed: Mutex<HashMap<String, Known>>,
    capacity: usize,
}

/// A document seen before.
#[derive(Clone)]
enum Known {
    /// Answered by async-graphql, from this parse.
    General(ExecutableDocument),
    /// Answered directly when a POSTed body allows (`direct::answer_posted`).
    Direct(Arc<DirectLike>),
    /// A plain `likeAdded` subscription: its events are written directly
    /// when it starts on a WebSocket, else async-graphql runs this parse.
    LikeAdded(Arc<DirectLikeAdded>, ExecutableDocument),
}

/// How the direct paths answer a document.
pub enum Plan {
    /// A plain `createLike`.
    Like(Arc<DirectLike>),
    /// A plain `likeAdded` subscription.
    LikeAdded(Arc<DirectLikeAdded>),
}

impl Documents {
    /// Keeps at most `capacity` documents. When full it starts over, so a
    /// client sending endless distinct documents costs a bounded amount of
    /// memory and evicts nothing it could not evict anyway.
    pub fn new(capacity: usize) -> Self {
        Self {
            parsed: Mutex::default(),
            capacity,
        }
    }

    /// Gives `request` its parsed document, from the map or parsed now and
    /// kept, with the plan of a plain `createLike` document in its place
    /// (`direct`). A document that does not parse, or one kept as a plan, is
    /// left for async-graphql to parse; a parse error is reported the usual
    /// way. Returns the document's plan, if it has one.
    pub fn prepare(&self, request: &mut async_graphql::Request) -> Option<Plan> {
        if request.query.len() > MAX_TEXT_BYTES {
            return None;
        }
        let known = self.lock().get(&request.query).cloned();
        let known = match known {
            Some(known) => known,
            None => {
                let Ok(document) = parse_query(&request.query) else {
                    return None;
                };
                let known = if let Some(direct) = DirectLike::of(&document) {
                    Known::Direct(Arc::new(direct))
                } else if let Some(plan) = DirectLikeAdded::of(&document) {
                    Known::LikeAdded(Arc::new(plan), document)
                } else {
                    Known::General(document)
                };
                let mut parsed = self.lock();
                if parsed.len() >= self.capacity {
                    parsed.clear();
                }
                parsed.insert(request.query.clone(), known.clone());
                known
            }
        };
        match known {
            Known::General(document) => {
                request.set_parsed_query(document);
                None
            }
            Known::LikeAdded(plan, document) => {
                request.set_parsed_query(document);
                Some(Plan::LikeAdded(plan))
            }
            Known::Direct(direct) => Some(Plan::Like(direct)),
        }
    }

    /// The plan of a plain `createLike` document seen before; `None` for
    /// any other text, or one not seen yet (`prepare` parses it).
    pub fn direct(&self, text: &str) -> Option<Arc<DirectLike>> {
        match self.lock().get(text)? {
            Known::Direct(direct) => Some(direct.clone()),
            Known::General(_) | Known::LikeAdded(..) => None,
        }
    }

    /// How many documents are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is kept.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Known>> {
        self.parsed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_the_map_stays_bounded() {
        let documents = Documents::new(2);
        let mut request = async_graphql::Request::new("{ sessions { id } }");
        documents.prepare(&mut request);
        assert!(request.parsed_query().is_ok());
        documents.prepare(&mut async_graphql::Request::new("{ sessions { id } }"));
        assert_eq!(documents.len(), 1);
        documents.prepare(&mut async_graphql::Request::new("{ a: sessions { id } }"));
        assert_eq!(documents.len(), 2);
        documents.prepare(&mut async_graphql::Request::new("{ b: sessions { id } }"));
        assert_eq!(documents.len(), 1, "full: started over");
    }

    #[test]
    fn a_plain_like_document_is_kept_with_its_plan_and_left_unparsed() {
        let documents = Documents::new(2);
        let like = "mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }";
        assert!(documents.direct(like).is_none(), "not seen yet");
        for _ in 0..2 {
            documents.prepare(&mut async_graphql::Request::new(like));
            assert!(documents.direct(like).is_some());
        }
        assert_eq!(documents.len(), 1);
        let other = "{ sessions { id } }";
        documents.prepare(&mut async_graphql::Request::new(other));
        assert!(documents.direct(other).is_none());
    }

    #[test]
    fn a_document_that_does_not_parse_is_left_alone_and_not_kept() {
        let documents = Documents::new(2);
        let mut request = async_graphql::Request::new("{ sessions { id ");
        documents.prepare(&mut request);
        assert!(documents.is_empty());
        assert!(request.parsed_query().is_err(), "async-graphql reports it");
    }
}
