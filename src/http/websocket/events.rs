//! The events of a connection's subscriptions: each tagged with the
//! subscription it belongs to (`T`: what frames them), merged into one
//! stream, and stopped by the connection dropping them.

use crate::http::gate::Gate;
use futures_util::StreamExt;
use futures_util::stream::{SelectAll, Stream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The events of the subscriptions run here (`S`, each one's stream). Most
/// connections run one: it is polled without `SelectAll`'s wake-up
/// bookkeeping (nor its allocations, made only for a second subscription).
/// Starting another moves both to `SelectAll`, which polls only the woken
/// ones; the two are never both in use. They are polled only once one of
/// them woke the connection (or one started): it wakes for each event, and
/// looks for more after each.
pub(super) struct EventStreams<T, S> {
    one: Option<Tagged<T, S>>,
    many: Option<SelectAll<Tagged<T, S>>>,
    gate: Gate,
}

impl<T, S> Default for EventStreams<T, S> {
    fn default() -> Self {
        Self {
            one: None,
            many: None,
            gate: Gate::default(),
        }
    }
}

impl<T, S: Stream + Unpin> EventStreams<T, S> {
    /// Runs `events`, each tagged with `tag`.
    pub(super) fn push(&mut self, tag: Arc<T>, events: S) {
        let events = Tagged {
            tag,
            events: Some(events),
        };
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

    /// Drops the events tagged as `is_it` says: they end silently.
    pub(super) fn stop(&mut self, is_it: impl Fn(&T) -> bool) {
        if self.one.as_ref().is_some_and(|one| is_it(&one.tag)) {
            self.one = None;
        }
        if let Some(many) = self.many.as_mut() {
            let kept = std::mem::take(many).into_iter();
            *many = kept.filter(|events| !is_it(&events.tag)).collect();
            // The others wait with the old set's wakers: polled again, they
            // wait with the new one's.
            self.gate.open();
        }
    }

    /// How many run in `SelectAll`.
    fn many_len(&self) -> usize {
        self.many.as_ref().map_or(0, SelectAll::len)
    }

    /// The next event of any of them; `Pending` when there is none.
    pub(super) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<(Arc<T>, Option<S::Item>)> {
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
struct Tagged<T, S> {
    tag: Arc<T>,
    /// `None` once ended.
    events: Option<S>,
}

impl<T, S: Stream + Unpin> Stream for Tagged<T, S> {
    type Item = (Arc<T>, Option<S::Item>);

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
    use futures_util::stream::BoxStream;
    use futures_util::task::noop_waker_ref;

    type Streams = EventStreams<String, BoxStream<'static, i32>>;

    fn subscribe(streams: &mut Streams, id: &str, likes: &[i32], ends: bool) {
        let events = futures_util::stream::iter(likes.to_vec());
        let events = if ends {
            events.boxed()
        } else {
            events.chain(futures_util::stream::pending()).boxed()
        };
        streams.push(Arc::new(id.to_owned()), events);
    }

    fn stop(streams: &mut Streams, id: &str) {
        streams.stop(|tag| tag == id);
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
        subscribe(&mut streams, "a", &[1, 2], true);
        assert!(streams.one.is_some() && streams.many.is_none());
        assert_eq!(
            ready(&mut streams),
            seen(&[("a", Some(1)), ("a", Some(2)), ("a", None)])
        );
        assert!(streams.one.is_none(), "an ended subscription is dropped");

        subscribe(&mut streams, "b", &[3], false);
        assert!(streams.one.is_some());
        subscribe(&mut streams, "c", &[4], false);
        assert!(streams.one.is_none() && streams.many_len() == 2);
        let mut both = ready(&mut streams);
        both.sort();
        assert_eq!(both, seen(&[("b", Some(3)), ("c", Some(4))]));

        stop(&mut streams, "b");
        assert_eq!(
            ready(&mut streams),
            seen(&[]),
            "a stopped one ends silently"
        );
        assert_eq!(streams.many_len(), 1);
        subscribe(&mut streams, "d", &[5], false);
        assert_eq!(
            streams.many_len(),
            2,
            "with one in SelectAll, a new one joins it"
        );
        assert_eq!(ready(&mut streams), seen(&[("d", Some(5))]));
        stop(&mut streams, "d");
        assert_eq!(ready(&mut streams), seen(&[]));
        assert_eq!(streams.many_len(), 1);
        stop(&mut streams, "c");
        assert_eq!(streams.many_len(), 0, "a stopped one is dropped at once");
        subscribe(&mut streams, "e", &[6], false);
        stop(&mut streams, "e");
        assert!(streams.one.is_none() && streams.many_len() == 0);
    }
}
