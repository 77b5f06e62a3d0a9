//! A talk's timeline: `Session.timeline(every:)` and the `LikeInterval`
//! type, cut from the timelines the observer keeps (no store is read).

use super::super::types::{Args, Env, Object, Out};
use super::clamp;
use super::session::{COUNT_MAX_AGE, Session, not_read_yet};
use crate::graphql::errors::GraphQLError;
use crate::graphql::input::Input;
use crate::graphql::input::InputValue;
use crate::timeline::{Every, Interval};
use chrono::{DateTime, SecondsFormat};

/// `every`, the interval length: the argument of `Session.timeline`.
const EVERY: InputValue = InputValue("every");

/// `session`, the `Session` type, with its `timeline` field.
pub(super) fn on(session: Object) -> Object {
    session.field("timeline", (&[EVERY], COUNT_MAX_AGE), resolve)
}

/// `Session.timeline`: the talk's intervals of length `every`.
fn resolve<'a>(session: &'a Session, args: &Args<'_>, env: &Env<'a>) -> Out<'a> {
    let every = match args.get(&EVERY) {
        None => Ok(Every::MINUTE),
        Some(Input::Int(seconds)) => Every::new(*seconds),
        Some(_) => Err("every must be a number of seconds, not null".to_owned()),
    };
    let every = match every {
        Ok(every) => every,
        Err(why) => return GraphQLError::bad_input(why).into(),
    };
    match env.services.timelines.intervals(session.talk, every) {
        Some(intervals) => Out::List(intervals.into_iter().map(Out::object).collect()),
        None => not_read_yet(),
    }
}

/// The `LikeInterval` type.
pub(super) fn like_interval() -> Object {
    Object::new("LikeInterval")
        .cached(COUNT_MAX_AGE)
        .with("start", |interval: &Interval, _, _| {
            let start = DateTime::from_timestamp(interval.start, 0).unwrap_or_default();
            Out::Str(start.to_rfc3339_opts(SecondsFormat::Secs, true).into())
        })
        .with("likes", |interval: &Interval, _, _| {
            Out::Int(clamp(interval.likes).into())
        })
}
