//! An event's response, written once per worker thread for all the
//! subscribers that get the same one. A publication wakes every subscriber
//! of a talk with the same event, and most of them run the same operation
//! with the same variables: without this, each of thousands would write
//! the same JSON again. Only the frame around it (the operation's id) is
//! each connection's own.

use crate::graphql::{AnyObject, Endpoint, LikeEvent, Ready};
use std::cell::RefCell;
use std::sync::Arc;

/// Responses kept per thread: one per talk and document in use at once,
/// with room to spare (a miss only writes the response again).
const KEPT: usize = 16;

/// One response written, and what it was written for (`P`, a plan;
/// `E`, an event).
struct Written<P, E> {
    plan: Arc<P>,
    event: E,
    response: Box<str>,
}

/// The responses written last on this thread; the oldest is replaced.
struct Recent<P, E> {
    kept: Vec<Written<P, E>>,
    next: usize,
}

impl<P, E> Default for Recent<P, E> {
    fn default() -> Self {
        Self {
            kept: Vec::new(),
            next: 0,
        }
    }
}

impl<P: PartialEq, E: PartialEq> Recent<P, E> {
    fn find(&self, plan: &Arc<P>, event: &E) -> Option<&str> {
        self.kept
            .iter()
            .find(|written| {
                written.event == *event
                    && (Arc::ptr_eq(&written.plan, plan) || *written.plan == **plan)
            })
            .map(|written| &*written.response)
    }

    fn keep(&mut self, written: Written<P, E>) {
        if self.kept.len() < KEPT {
            self.kept.push(written);
        } else {
            self.kept[self.next] = written;
            self.next = (self.next + 1) % KEPT;
        }
    }
}

thread_local! {
    static RECENT: RefCell<Recent<Ready<'static>, LikeEvent>> = RefCell::default();
}

/// Hands `use_it` the response `plan` writes for `event`: written now, or
/// kept from another subscriber that got the same on this thread.
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
        if let Some(response) = recent.find(plan, like) {
            return use_it(response);
        }
        let response = write(endpoint, plan, event);
        let answer = use_it(&response);
        recent.keep(Written {
            plan: plan.clone(),
            event: *like,
            response,
        });
        answer
    })
}

/// The response written afresh.
fn write(endpoint: &Endpoint, plan: &Ready<'static>, event: &AnyObject) -> Box<str> {
    let out = endpoint.write_event(plan, event);
    // The writer writes JSON, which is UTF-8; a response that were not
    // would be sent empty rather than broken.
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
        }
    }

    #[test]
    fn a_response_is_found_only_for_an_equal_plan_and_event() {
        let mut recent = Recent::default();
        let plan = Arc::new("likes total".to_owned());
        recent.keep(written(&plan, 1, "one"));
        assert_eq!(recent.find(&plan, &1), Some("one"));
        assert_eq!(
            recent.find(&Arc::new("likes total".to_owned()), &1),
            Some("one"),
            "another subscriber's equal plan"
        );
        assert_eq!(recent.find(&plan, &2), None, "another event");
        assert_eq!(
            recent.find(&Arc::new("total".to_owned()), &1),
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
        assert_eq!(recent.find(&plan, &0), None);
        assert_eq!(recent.find(&plan, &1), Some("1"));
        assert_eq!(recent.find(&plan, &99), Some("99"));
        recent.keep(written(&plan, 100, "100"));
        assert_eq!(recent.find(&plan, &1), None);
        assert_eq!(recent.find(&plan, &2), Some("2"));
    }
}
