//! The events of a connection's subscriptions: each tagged with the
//! subscription it belongs to (`T`: what frames them), stoppable, and
//! merged into one stream.

use crate::http::gate::Gate;
use futures_util::StreamExt;
use futures_util::stream::{AbortHandle, Abortable, BoxStream, SelectAll, Stream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// One subscription's events, stoppable by the client.
pub(super) type Events<T, E> = Abortable<Tagged<T, E>>;

/// `events` tagged with `tag`, and what stops them.
pub(super) fn tagged<T, E>(
    tag: Arc<T>,
    events: BoxStream<'static, E>,
) -> (Events<T, E>, AbortHandle) {
    let (abort, registration) = AbortHandle::new_pair();
    let tagged = Tagged {
        tag,
        events: Some(events),
    };
    (Abortable::new(tagged, registration), abort)
}

/// The events of the subscriptions run here. Most connections run one: it
/// is polled without `SelectAll`'s wake-up bookkeeping (nor its
/// allocations, made only for a second subscription). Starting another
/// moves both to `SelectAll`, which polls only the woken ones; the two are
/// never both in use. They are polled only once one of them woke the
/// connection (or one started): it wakes for each event, and looks for
/// more after each.
pub(super) struct EventStreams<T, E> {
    one: Option<Events<T, E>>,
    many: Option<SelectAll<Events<T, E>>>,
    gate: Gate,
}

impl<T, E> Default for EventStreams<T, E> {
    fn default() -> Self {
        Self {
            one: None,
            many: None,
            gate: Gate::default(),
        }
    }
}

impl<T, E> EventStreams<T, E> {
    pub(super) fn push(&mut self, events: Events<T, E>) {
        self.gate.open();
        if self.one.is_none() && self.many_len() == 0 {
            self.one = Some(events);
            return;
        }
        let many = self.many.get_or_insert_with(SelectAll::new);
        if let Some(one) = self.one.take() {
            many.push(one);
        }
        many.push(events);
    }

    /// How many run in `SelectAll`.
    fn many_len(&self) -> usize {
        self.many.as_ref().map_or(0, SelectAll::len)
    }

    /// The next event of any of them; `Pending` when there is none.
    pub(super) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<(Arc<T>, Option<E>)> {
        let (one, many) = (&mut self.one, &mut self.many);
        self.gate.poll(cx, |cx| {
            if let Some(events) = one.as_mut() {
                match events.poll_next_unpin(cx) {
                    Poll::Ready(Some(item)) => return Poll::Ready(item),
                    Poll::Ready(None) => *one = None,
                    Poll::Pending => return Poll::Pending,
                }
            }
            let Some(many) = many.as_mut() else {
                return Poll::Pending;
            };
            match many.poll_next_unpin(cx) {
                Poll::Ready(Some(item)) => Poll::Ready(item),
                // Empty: a subscription started later opens the gate.
                Poll::Ready(None) | Poll::Pending => Poll::Pending,
            }
        })
    }
}

/// One subscription's events, each with what frames it, and then `None`
/// for its end.
pub(super) struct Tagged<T, E> {
    tag: Arc<T>,
    /// `None` once ended.
    events: Option<BoxStream<'static, E>>,
}

impl<T, E> Stream for Tagged<T, E> {
    type Item = (Arc<T>, Option<E>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(events) = this.events.as_mut() else {
            return Poll::Ready(None);
        };
        let event = std::task::ready!(events.poll_next_unpin(cx));
        if event.is_none() {
            this.events = None;
        }
        Poll::Ready(Some((this.tag.clone(), event)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker_ref;

    type Streams = EventStreams<String, i32>;

    fn subscription(id: &str, likes: &[i32], ends: bool) -> (Events<String, i32>, AbortHandle) {
        let events = futures_util::stream::iter(likes.to_vec());
        let events = if ends {
            events.boxed()
        } else {
            events.chain(futures_util::stream::pending()).boxed()
        };
        tagged(Arc::new(id.to_owned()), events)
    }

    /// Everything ready now, as (id, likes); `None` likes for an end.
    fn ready(streams: &mut Streams) -> Vec<(String, Option<i32>)> {
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut seen = Vec::new();
        while let Poll::Ready((tag, event)) = streams.poll_next(&mut cx) {
            seen.push((tag.as_ref().clone(), event));
        }
        seen
    }

    fn seen(items: &[(&str, Option<i32>)]) -> Vec<(String, Option<i32>)> {
        items
            .iter()
            .map(|(id, likes)| (id.to_string(), *likes))
            .collect()
    }

    #[test]
    fn one_subscription_or_many_every_event_and_end_comes_out_once() {
        let mut streams = EventStreams::default();
        let (a, _a) = subscription("a", &[1, 2], true);
        streams.push(a);
        assert!(streams.one.is_some() && streams.many.is_none());
        assert_eq!(
            ready(&mut streams),
            seen(&[("a", Some(1)), ("a", Some(2)), ("a", None)])
        );
        assert!(streams.one.is_none(), "an ended subscription is dropped");

        let (b, stop_b) = subscription("b", &[3], false);
        streams.push(b);
        assert!(streams.one.is_some());
        let (c, _c) = subscription("c", &[4], false);
        streams.push(c);
        assert!(streams.one.is_none() && streams.many_len() == 2);
        let mut both = ready(&mut streams);
        both.sort();
        assert_eq!(both, seen(&[("b", Some(3)), ("c", Some(4))]));

        stop_b.abort();
        assert_eq!(
            ready(&mut streams),
            seen(&[]),
            "a stopped one ends silently"
        );
        assert_eq!(streams.many_len(), 1);
        let (d, stop_d) = subscription("d", &[5], false);
        streams.push(d);
        assert_eq!(
            streams.many_len(),
            2,
            "with one in SelectAll, a new one joins it"
        );
        assert_eq!(ready(&mut streams), seen(&[("d", Some(5))]));
        stop_d.abort();
        assert_eq!(ready(&mut streams), seen(&[]));
    }
}
