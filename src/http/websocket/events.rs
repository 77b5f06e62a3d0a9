//! The events of a connection's subscriptions: each tagged with the
//! subscription it belongs to (`T`: what frames them), merged into one
//! stream, and stopped by the connection, which owns them.

use futures_util::StreamExt;
use futures_util::stream::{BoxStream, SelectAll, Stream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// `events` tagged with `tag`.
pub(super) fn tagged<T, E>(tag: Arc<T>, events: BoxStream<'static, E>) -> Tagged<T, E> {
    Tagged {
        tag,
        events: Some(events),
    }
}

/// The events of the subscriptions run here. Most connections run one: it
/// is polled without `SelectAll`'s wake-up bookkeeping (nor its
/// allocations, made only for a second subscription), and registers the
/// connection's own waker: an event touches nothing else of the
/// subscriber's. Starting another moves both to `SelectAll`, which polls
/// only the woken ones; the two are never both in use.
pub(super) struct EventStreams<T, E> {
    one: Option<Tagged<T, E>>,
    many: Option<SelectAll<Tagged<T, E>>>,
}

impl<T, E> Default for EventStreams<T, E> {
    fn default() -> Self {
        Self {
            one: None,
            many: None,
        }
    }
}

impl<T, E> EventStreams<T, E> {
    pub(super) fn push(&mut self, events: Tagged<T, E>) {
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

    /// Drops the subscriptions whose tag `is_it`, silently: no end follows.
    pub(super) fn stop(&mut self, is_it: impl Fn(&T) -> bool) {
        if self.one.as_ref().is_some_and(|one| is_it(&one.tag)) {
            self.one = None;
        }
        if let Some(many) = self.many.take() {
            let kept: SelectAll<_> = many
                .into_iter()
                .filter(|tagged| !is_it(&tagged.tag))
                .collect();
            self.many = Some(kept);
        }
    }

    /// How many run in `SelectAll`.
    fn many_len(&self) -> usize {
        self.many.as_ref().map_or(0, SelectAll::len)
    }

    /// The next event of any of them; `Pending` when there is none (a
    /// subscription started later is polled then).
    pub(super) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<(Arc<T>, Option<E>)> {
        if let Some(events) = self.one.as_mut() {
            match events.poll_next_unpin(cx) {
                Poll::Ready(Some(item)) => return Poll::Ready(item),
                Poll::Ready(None) => self.one = None,
                Poll::Pending => return Poll::Pending,
            }
        }
        match self.many.as_mut().map(|many| many.poll_next_unpin(cx)) {
            Some(Poll::Ready(Some(item))) => Poll::Ready(item),
            _ => Poll::Pending,
        }
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

    fn subscription(id: &str, likes: &[i32], ends: bool) -> Tagged<String, i32> {
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
        streams.push(subscription("a", &[1, 2], true));
        assert!(streams.one.is_some() && streams.many.is_none());
        assert_eq!(
            ready(&mut streams),
            seen(&[("a", Some(1)), ("a", Some(2)), ("a", None)])
        );
        assert!(streams.one.is_none(), "an ended subscription is dropped");

        streams.push(subscription("b", &[3], false));
        assert!(streams.one.is_some());
        streams.push(subscription("c", &[4], false));
        assert!(streams.one.is_none() && streams.many_len() == 2);
        let mut both = ready(&mut streams);
        both.sort();
        assert_eq!(both, seen(&[("b", Some(3)), ("c", Some(4))]));

        streams.stop(|id| id == "b");
        assert_eq!(streams.many_len(), 1, "a stopped one is dropped at once");
        assert_eq!(ready(&mut streams), seen(&[]), "and ends silently");
        streams.push(subscription("d", &[5], false));
        assert_eq!(
            streams.many_len(),
            2,
            "with one in SelectAll, a new one joins it"
        );
        assert_eq!(ready(&mut streams), seen(&[("d", Some(5))]));
        streams.stop(|id| id == "d");
        assert_eq!(ready(&mut streams), seen(&[]));
        assert_eq!(streams.many_len(), 1);
    }

    #[test]
    fn a_lone_subscription_stopped_is_dropped_and_says_nothing() {
        let mut streams = EventStreams::default();
        streams.push(subscription("a", &[1], false));
        streams.stop(|id| id == "b");
        assert!(streams.one.is_some(), "another id stops nothing");
        streams.stop(|id| id == "a");
        assert!(streams.one.is_none());
        assert_eq!(ready(&mut streams), seen(&[]));
    }
}
