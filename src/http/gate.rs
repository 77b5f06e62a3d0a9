//! Polling only what woke a subscriber's task. It wakes for every event it
//! sends; its socket, the shutdown signal (a lock all subscribers share),
//! its timers and its events are polled again only after their own wakers
//! fired, not to find nothing new each time.

use futures_util::task::AtomicWaker;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// Whether what is behind a gate asked to be polled, and the task to wake.
struct Flag {
    /// Set by its waker, and at first.
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// Lets a thing be polled only after its own waker (which marks it woken
/// and wakes the task) fired, and at first.
pub(super) struct Gate {
    flag: Arc<Flag>,
    waker: Waker,
}

impl Default for Gate {
    fn default() -> Self {
        let flag = Arc::new(Flag {
            woken: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        Self {
            waker: Waker::from(flag.clone()),
            flag,
        }
    }
}

impl Gate {
    /// `poll`'s answer if the thing asked to be polled, else `Pending`.
    pub(super) fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        self.flag.task.register(cx.waker());
        if !self.flag.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        match poll(&mut Context::from_waker(&self.waker)) {
            Poll::Ready(item) => {
                // It may have more ready, and would not wake for it.
                self.open();
                Poll::Ready(item)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Polls it next time, woken or not (something joined it).
    pub(super) fn open(&self) {
        self.flag.woken.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker_ref;
    use futures_util::{Stream, StreamExt};
    use std::pin::Pin;
    use std::sync::atomic::AtomicUsize;

    /// A stream that counts its polls and is never ready until told.
    struct Counting {
        polls: Arc<AtomicUsize>,
        ready: Arc<AtomicBool>,
        waker: Arc<AtomicWaker>,
    }

    impl Stream for Counting {
        type Item = ();

        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
            self.polls.fetch_add(1, Ordering::Relaxed);
            self.waker.register(cx.waker());
            if self.ready.swap(false, Ordering::Relaxed) {
                Poll::Ready(Some(()))
            } else {
                Poll::Pending
            }
        }
    }

    #[test]
    fn a_gated_stream_is_polled_only_after_its_waker_fired() {
        let mut gate = Gate::default();
        let (polls, ready, waker) = (
            Arc::default(),
            Arc::default(),
            Arc::<AtomicWaker>::default(),
        );
        let mut counting = Counting {
            polls: Arc::clone(&polls),
            ready: Arc::clone(&ready),
            waker: Arc::clone(&waker),
        };
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut poll = |gate: &mut Gate| gate.poll(&mut cx, |cx| counting.poll_next_unpin(cx));
        assert!(poll(&mut gate).is_pending());
        for _ in 0..10 {
            assert!(poll(&mut gate).is_pending());
        }
        assert_eq!(
            polls.load(Ordering::Relaxed),
            1,
            "polled again without a wake-up"
        );
        ready.store(true, Ordering::Relaxed);
        waker.wake();
        assert_eq!(poll(&mut gate), Poll::Ready(Some(())));
        // After an item it is polled once more, as it may have another.
        assert!(poll(&mut gate).is_pending());
        assert!(poll(&mut gate).is_pending());
        assert_eq!(polls.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn an_opened_gate_polls_once_more_without_a_wake_up() {
        let mut gate = Gate::default();
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut polls = 0;
        let mut poll = |gate: &mut Gate| {
            gate.poll(&mut cx, |_| {
                polls += 1;
                Poll::<()>::Pending
            })
        };
        assert!(poll(&mut gate).is_pending());
        assert!(poll(&mut gate).is_pending());
        gate.open();
        assert!(poll(&mut gate).is_pending());
        assert!(poll(&mut gate).is_pending());
        assert_eq!(polls, 2, "polled at first and once after opening");
    }
}
