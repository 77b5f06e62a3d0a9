//! Acknowledgements that wait for their flush (`--ack stored`): who waits
//! for which like. A flush that stores likes answers their waiters; the
//! shutdown drain, giving up, tells those left that their like was not
//! stored. A waiter that stops waiting (its bound passed) just drops its
//! end. Holds channel ends only; no I/O, no clock.

use crate::model::{Like, LikeId};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::oneshot;

/// Why a waiting like was not acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotStored {
    /// No flush stored it within the wait bound: the store is slow or
    /// down. The like stays held and may still be stored.
    #[error("the like was not stored within {0:?}")]
    Late(Duration),
    /// The process stopped before a flush could store it.
    #[error("the server stopped before the like could be stored")]
    Stopped,
}

/// What one waiter hears.
type Answer = Result<(), NotStored>;

/// Waiters by the id of the like they wait for.
#[derive(Debug, Default)]
pub(super) struct Waiting {
    waiters: HashMap<LikeId, Vec<oneshot::Sender<Answer>>>,
}

impl Waiting {
    /// A waiter for like `id`: answered once a flush stores it.
    pub(super) fn wait(&mut self, id: LikeId) -> oneshot::Receiver<Answer> {
        let (answer, heard) = oneshot::channel();
        let waiters = self.waiters.entry(id).or_default();
        // Retries of one like that gave up waiting leave closed ends.
        waiters.retain(|waiter| !waiter.is_closed());
        waiters.push(answer);
        heard
    }

    /// These likes are stored: their waiters are answered. Returns how
    /// many of them had a waiter still listening (acknowledged now).
    pub(super) fn stored(&mut self, likes: &[Like]) -> u64 {
        let mut acknowledged = 0;
        for like in likes {
            let Some(waiters) = self.waiters.remove(&like.id) else {
                continue;
            };
            let mut heard = false;
            for waiter in waiters {
                heard |= waiter.send(Ok(())).is_ok();
            }
            acknowledged += u64::from(heard);
        }
        acknowledged
    }

    /// Tells every waiter left that its like was not stored.
    pub(super) fn give_up(&mut self) -> usize {
        let waiters: Vec<_> = self.waiters.drain().flat_map(|(_, w)| w).collect();
        let told = waiters.len();
        for waiter in waiters {
            let _ = waiter.send(Err(NotStored::Stopped));
        }
        told
    }
}

/// The answer to `createLike` for an accepted like.
#[derive(Debug)]
pub enum Receipt {
    /// Acknowledged now: buffered (`--ack buffered`), or stored already.
    Now,
    /// Acknowledged once a flush stores it.
    Later(Pending),
}

/// A like waiting for the flush that stores it.
#[derive(Debug)]
pub struct Pending {
    heard: oneshot::Receiver<Answer>,
    bound: Duration,
}

impl Pending {
    pub(super) fn new(heard: oneshot::Receiver<Answer>, bound: Duration) -> Self {
        Self { heard, bound }
    }

    /// Waits, up to the bound, for the like to be stored.
    pub async fn stored(self) -> Result<(), NotStored> {
        match tokio::time::timeout(self.bound, self.heard).await {
            Ok(Ok(answer)) => answer,
            // The storer is gone: the process is stopping.
            Ok(Err(_)) => Err(NotStored::Stopped),
            Err(_) => Err(NotStored::Late(self.bound)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TalkId;
    use chrono::Utc;

    fn like(n: u32) -> Like {
        Like {
            id: LikeId::for_request(TalkId(1), "liker", Some(&n.to_string())),
            talk: TalkId(1),
            liker: "liker".into(),
            created_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn a_stored_like_answers_every_waiter_and_only_its_own() {
        let mut waiting = Waiting::default();
        let first = waiting.wait(like(1).id);
        let retry = waiting.wait(like(1).id);
        let mut other = waiting.wait(like(2).id);
        assert_eq!(waiting.stored(&[like(1)]), 1);
        assert_eq!(first.await.unwrap(), Ok(()));
        assert_eq!(retry.await.unwrap(), Ok(()));
        assert!(other.try_recv().is_err(), "still waiting");
        assert_eq!(waiting.give_up(), 1);
        assert_eq!(other.await.unwrap(), Err(NotStored::Stopped));
    }

    #[tokio::test]
    async fn a_waiter_that_gave_up_is_neither_counted_nor_kept() {
        let mut waiting = Waiting::default();
        drop(waiting.wait(like(1).id));
        let _again = waiting.wait(like(1).id);
        assert_eq!(waiting.waiters[&like(1).id].len(), 1);
        drop(_again);
        assert_eq!(waiting.stored(&[like(1)]), 0, "no one heard it");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_hears_late_past_its_bound() {
        let mut waiting = Waiting::default();
        let pending = Pending::new(waiting.wait(like(1).id), Duration::from_secs(5));
        let started = tokio::time::Instant::now();
        assert_eq!(
            pending.stored().await,
            Err(NotStored::Late(Duration::from_secs(5)))
        );
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }
}
