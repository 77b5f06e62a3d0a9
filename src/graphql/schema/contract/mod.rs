//! The resolvers of the contract written in `schema.graphql`, whose names
//! and shapes the front end fixes (fields may be added, never removed):
//! talks in `session` (their timelines in `timeline`), likes in `like`,
//! live counts in `event`.

mod event;
mod like;
mod session;
mod timeline;

pub(crate) use event::LikeEvent;

use super::types::{InputObject, Object};

/// The value of the root types (`Query`, `Mutation`).
pub(crate) struct Root;

/// The object types, the root types first.
pub(super) fn objects() -> Vec<Object> {
    vec![
        session::query(),
        like::mutation(),
        event::subscription(),
        timeline::on(session::session()),
        timeline::like_interval(),
        like::like(),
        like::payload(),
        event::like_event(),
    ]
}

/// The input objects.
pub(super) fn inputs() -> Vec<InputObject> {
    vec![like::input()]
}

/// A count as an `Int`, at most `i32::MAX`.
fn clamp(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
