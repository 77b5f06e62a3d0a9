//! An event's response, written once per worker thread for all the
//! subscribers that get the same: a publication wakes a talk's thousands of
//! subscribers, most with the same operation. The WebSocket frame around it
//! is kept too, for those whose operation has the first one's id ("1"),
//! found by the id's copy in the subscription's tag (`ShortId`).

use crate::graphql::{AnyObject, Endpoint, LikeEvent, Ready};
use axum::extract::ws::Utf8Bytes;
use std::cell::RefCell;
use std::sync::Arc;

/// Responses kept per thread (a miss only writes the response again).
const KEPT: usize = 16;

/// An operation id as JSON, of at most 16 bytes, held inline: a
/// subscriber's frame is found by it without reading its id's allocation.
/// Longer ids (graphql-ws's UUIDs) are framed anew: no two share a frame.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct ShortId {
    bytes: [u8; 16],
    len: u8,
}

impl ShortId {
    pub(super) fn of(id: &str) -> Option<Self> {
        let mut bytes = [0; 16];
        bytes.get_mut(..id.len())?.copy_from_slice(id.as_bytes());
        let len = id.len() as u8;
        Some(Self { bytes, len })
    }
}

/// One response, and the plan (`P`) and event (`E`) it was written for.
struct Written<P, E> {
    plan: Arc<P>,
    event: E,
    response: Box<str>,
    /// The first frame made of it with a short id, its message type and id.
    frame: Option<(&'static str, ShortId, Utf8Bytes)>,
}

impl<P, E> Written<P, E> {
    /// The frame `frame` makes of the response for messages of type `kind`
    /// and id `id`: the one kept if it has the same.
    fn framed(
        &mut self,
        kind: &'static str,
        id: Option<ShortId>,
        frame: impl FnOnce(&str) -> String,
    ) -> Utf8Bytes {
        match (&self.frame, id) {
            (Some((framed_kind, framed_id, bytes)), Some(id))
                if *framed_kind == kind && *framed_id == id =>
            {
                bytes.clone()
            }
            (None, Some(id)) => {
                let bytes = Utf8Bytes::from(frame(&self.response));
                self.frame = Some((kind, id, bytes.clone()));
                bytes
            }
            _ => frame(&self.response).into(),
        }
    }
}

/// The responses written last on this thread; the oldest is replaced.
struct Recent<P, E> {
    kept: Vec<Written<P, E>>,
    next: usize,
    /// The one found or kept last, looked at first.
    used: usize,
}

impl<P, E> Default for Recent<P, E> {
    fn default() -> Self {
        Self {
            kept: Vec::new(),
            next: 0,
            used: 0,
        }
    }
}

impl<P: PartialEq, E: PartialEq> Recent<P, E> {
    /// Where the response for `plan` and `event` is kept, if it is.
    fn find(&mut self, plan: &Arc<P>, event: &E) -> Option<usize> {
        let is_it = |written: &Written<P, E>| {
            written.event == *event && (Arc::ptr_eq(&written.plan, plan) || *written.plan == **plan)
        };
        if !self.kept.get(self.used).is_some_and(is_it) {
            self.used = self.kept.iter().position(is_it)?;
        }
        Some(self.used)
    }

    fn keep(&mut self, written: Written<P, E>) -> &mut Written<P, E> {
        let at = if self.kept.len() < KEPT {
            self.kept.push(written);
            self.kept.len() - 1
        } else {
            let at = self.next;
            self.kept[at] = written;
            self.next = (at + 1) % KEPT;
            at
        };
        self.used = at;
        &mut self.kept[at]
    }
}

thread_local! {
    static RECENT: RefCell<Recent<Ready<'static>, LikeEvent>> = RefCell::default();
}

/// Hands `use_it` the response `plan` writes for `event`, written now or
/// kept from this thread's last subscribers.
pub(super) fn with_response<R>(
    endpoint: &Endpoint,
    plan: &Arc<Ready<'static>>,
    event: &AnyObject,
    use_it: impl FnOnce(&str) -> R,
) -> R {
    let Some(like) = event.downcast_ref::<LikeEvent>() else {
        return use_it(&write(endpoint, plan, event));
    };
    RECENT.with_borrow_mut(|recent| {
        use_it(&recent_or_written(recent, endpoint, plan, event, like).response)
    })
}

/// The WebSocket frame `frame` makes, for a message of type `kind` and
/// operation `id`, of the response `plan` writes for `event`: made now or
/// kept from this thread's last subscribers.
pub(super) fn frame(
    endpoint: &Endpoint,
    plan: &Arc<Ready<'static>>,
    event: &AnyObject,
    (kind, id): (&'static str, Option<ShortId>),
    frame: impl FnOnce(&str) -> String,
) -> Utf8Bytes {
    let Some(like) = event.downcast_ref::<LikeEvent>() else {
        return frame(&write(endpoint, plan, event)).into();
    };
    RECENT.with_borrow_mut(|recent| {
        recent_or_written(recent, endpoint, plan, event, like).framed(kind, id, frame)
    })
}

/// What this thread kept for `plan` and `event` (`like`), or written now.
fn recent_or_written<'a>(
    recent: &'a mut Recent<Ready<'static>, LikeEvent>,
    endpoint: &Endpoint,
    plan: &Arc<Ready<'static>>,
    event: &AnyObject,
    like: &LikeEvent,
) -> &'a mut Written<Ready<'static>, LikeEvent> {
    match recent.find(plan, like) {
        Some(at) => &mut recent.kept[at],
        None => recent.keep(Written {
            plan: plan.clone(),
            event: *like,
            response: write(endpoint, plan, event),
            frame: None,
        }),
    }
}

/// The response written afresh.
fn write(endpoint: &Endpoint, plan: &Ready<'static>, event: &AnyObject) -> Box<str> {
    // JSON, so UTF-8: else sent empty rather than broken.
    let out = endpoint.write_event(plan, event);
    String::from_utf8(out).unwrap_or_default().into_boxed_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(plan: &Arc<String>, event: u32, response: &str) -> Written<String, u32> {
        Written {
            plan: plan.clone(),
            event,
            response: response.into(),
            frame: None,
        }
    }

    fn found<'a>(
        recent: &'a mut Recent<String, u32>,
        plan: &Arc<String>,
        event: u32,
    ) -> Option<&'a str> {
        let at = recent.find(plan, &event)?;
        Some(&recent.kept[at].response)
    }

    #[test]
    fn a_response_is_found_only_for_an_equal_plan_and_event() {
        let mut recent = Recent::default();
        let plan = Arc::new("likes total".to_owned());
        recent.keep(written(&plan, 1, "one"));
        assert_eq!(found(&mut recent, &plan, 1), Some("one"));
        assert_eq!(
            found(&mut recent, &Arc::new("likes total".to_owned()), 1),
            Some("one"),
            "another subscriber's equal plan"
        );
        assert_eq!(found(&mut recent, &plan, 2), None, "another event");
        assert_eq!(
            found(&mut recent, &Arc::new("total".to_owned()), 1),
            None,
            "another plan"
        );
    }

    #[test]
    fn the_oldest_response_makes_room_for_a_new_one() {
        let mut recent = Recent::default();
        let plan = Arc::new("likes".to_owned());
        for event in 0..KEPT as u32 {
            recent.keep(written(&plan, event, &event.to_string()));
        }
        recent.keep(written(&plan, 99, "99"));
        assert_eq!(recent.kept.len(), KEPT);
        assert_eq!(found(&mut recent, &plan, 0), None);
        assert_eq!(found(&mut recent, &plan, 1), Some("1"));
        assert_eq!(found(&mut recent, &plan, 99), Some("99"));
        recent.keep(written(&plan, 100, "100"));
        assert_eq!(found(&mut recent, &plan, 1), None);
        assert_eq!(found(&mut recent, &plan, 2), Some("2"));
    }

    /// The frames made of one kept response for `ids` in turn, and how
    /// many were made anew.
    fn framed_in_turn(ids: &[&str]) -> (Vec<String>, usize) {
        let plan = Arc::new("likes".to_owned());
        let mut kept = written(&plan, 1, "{}");
        let mut framings = 0;
        let frames = ids
            .iter()
            .map(|id| {
                let made = kept.framed("next", ShortId::of(id), |response| {
                    framings += 1;
                    format!("{id}:{response}")
                });
                made.as_str().to_owned()
            })
            .collect();
        (frames, framings)
    }

    #[test]
    fn a_frame_is_shared_by_the_operations_with_the_first_ones_id() {
        let (frames, framings) = framed_in_turn(&["1", "1", "a", "a", "1"]);
        assert_eq!(frames, ["1:{}", "1:{}", "a:{}", "a:{}", "1:{}"]);
        assert_eq!(
            framings, 3,
            "framed once for \"1\", each time for another id"
        );
    }

    #[test]
    fn an_id_past_sixteen_bytes_is_framed_each_time_and_kept_by_none() {
        let (long, short) = ("0123456789abcdef-", "0123456789abcdef");
        let ids = [long, long, short, short];
        let (frames, framings) = framed_in_turn(&ids);
        assert_eq!(frames, ids.map(|id| format!("{id}:{{}}")));
        assert_eq!(framings, 3, "the 16-byte id is kept once framed");
        assert!(ShortId::of("a") != ShortId::of("a\0"));
    }
}
