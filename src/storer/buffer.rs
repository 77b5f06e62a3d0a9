//! The storer's in-memory buffer, as plain data: accepts likes up to a bound
//! in likes and in bytes, remembers which ids it holds and which it stored
//! lately (so a retried mutation is acknowledged once, and counted once),
//! hands batches out for flushing and takes failed ones back in order.
//! No I/O, no clock.

use crate::model::{Like, LikeId};
use chrono::{DateTime, Utc};
use std::collections::{HashSet, VecDeque};

/// Why a like was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The buffer holds its maximum in likes or bytes; nothing already held
    /// is dropped.
    #[error("the like buffer is full")]
    Full,
    /// The process is shutting down and takes no more likes.
    #[error("the server is shutting down")]
    Closed,
}

/// What happened to an accepted like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A like not seen before: buffered.
    New,
    /// The same like (same id) is already buffered or being flushed.
    Held,
    /// The same like was stored by this buffer's flushes lately.
    Stored,
}

/// How many ids of stored likes named by their request are remembered
/// (about 3 MiB): a retry that comes within them is known at once.
pub const RECENT_IDS: usize = 65_536;

/// Likes waiting to be stored, oldest first.
#[derive(Debug)]
pub struct Buffer {
    pending: VecDeque<Like>,
    /// Ids of the likes pending or in flight that a retry can name again
    /// (those with a `clientMutationId`). Any other id is random and new,
    /// so looking it up, or keeping it, would be work per like for
    /// nothing.
    ids: HashSet<LikeId>,
    in_flight: usize,
    /// When the oldest like in flight was accepted (a batch is handed out
    /// oldest first).
    in_flight_since: Option<DateTime<Utc>>,
    /// Estimated bytes held by pending and in-flight likes.
    bytes: usize,
    max_likes: usize,
    max_bytes: usize,
    closed: bool,
    /// Ids of the last `RECENT_IDS` stored likes that a retry can name
    /// again (those with a `clientMutationId`), oldest first, and as a set.
    recent: VecDeque<LikeId>,
    recent_ids: HashSet<LikeId>,
}

/// Estimated memory one buffered like takes: the like, its liker id's
/// characters, and its entry in the id set (with the set's spare room).
pub fn held_bytes(like: &Like) -> usize {
    std::mem::size_of::<Like>() + like.liker.len() + 2 * std::mem::size_of::<LikeId>()
}

impl Buffer {
    /// An empty buffer that holds at most `max_likes`, and at most about
    /// `max_bytes` (pending plus in flight).
    pub fn new(max_likes: usize, max_bytes: usize) -> Self {
        Self {
            pending: VecDeque::new(),
            ids: HashSet::new(),
            in_flight: 0,
            in_flight_since: None,
            bytes: 0,
            max_likes,
            max_bytes,
            closed: false,
            recent: VecDeque::new(),
            recent_ids: HashSet::new(),
        }
    }

    /// Accepts a like unless the buffer is full or closed.
    pub fn push(&mut self, like: Like) -> Result<Accepted, Refusal> {
        if self.closed {
            return Err(Refusal::Closed);
        }
        let named = like.id.is_named();
        if named && self.ids.contains(&like.id) {
            return Ok(Accepted::Held);
        }
        if named && self.recent_ids.contains(&like.id) {
            return Ok(Accepted::Stored);
        }
        let size = held_bytes(&like);
        if self.len() >= self.max_likes || self.bytes + size > self.max_bytes {
            return Err(Refusal::Full);
        }
        self.bytes += size;
        if named {
            self.ids.insert(like.id);
        }
        self.pending.push_back(like);
        Ok(Accepted::New)
    }

    /// Takes up to `max` of the oldest pending likes for a flush. They stay
    /// counted (and deduplicated) until `finish` is called for them.
    pub fn take(&mut self, max: usize) -> Vec<Like> {
        let n = self.pending.len().min(max);
        if let Some(oldest) = self.pending.front().filter(|_| n > 0) {
            let since = self.in_flight_since.get_or_insert(oldest.created_at);
            *since = (*since).min(oldest.created_at);
        }
        self.in_flight += n;
        self.pending.drain(..n).collect()
    }

    /// Ends the flush of likes that were stored: they are forgotten. A batch
    /// may be forgotten in parts (the caller can then release the buffer's
    /// lock between them).
    pub fn forget_stored(&mut self, stored: &[Like]) {
        self.in_flight -= stored.len();
        if self.in_flight == 0 {
            self.in_flight_since = None;
        }
        for like in stored {
            self.bytes -= held_bytes(like);
            if !like.id.is_named() {
                continue;
            }
            self.ids.remove(&like.id);
            if self.recent_ids.insert(like.id) {
                self.recent.push_back(like.id);
                if self.recent.len() > RECENT_IDS
                    && let Some(oldest) = self.recent.pop_front()
                {
                    self.recent_ids.remove(&oldest);
                }
            }
        }
    }

    /// Ends a flush that did not store its batch: the likes go back to the
    /// front, ahead of anything accepted meanwhile.
    pub fn put_back(&mut self, batch: Vec<Like>) {
        self.in_flight -= batch.len();
        if self.in_flight == 0 {
            self.in_flight_since = None;
        }
        for like in batch.into_iter().rev() {
            self.pending.push_front(like);
        }
    }

    /// Refuses every later like; what is held stays until flushed.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Likes held: pending plus in flight.
    pub fn len(&self) -> usize {
        self.pending.len() + self.in_flight
    }

    /// Estimated bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// When the oldest like held (pending or in flight) was accepted.
    pub fn oldest(&self) -> Option<DateTime<Utc>> {
        let pending = self.pending.front().map(|like| like.created_at);
        match (self.in_flight_since, pending) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when even the smallest like (an empty liker id) would be
    /// refused as `Full`.
    pub fn is_full(&self) -> bool {
        let smallest = std::mem::size_of::<Like>() + 2 * std::mem::size_of::<LikeId>();
        self.len() >= self.max_likes || self.bytes + smallest > self.max_bytes
    }

    /// True once `close` was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TalkId;

    fn like(n: u32) -> Like {
        Like::numbered(n)
    }

    #[test]
    fn a_full_buffer_refuses_new_likes_and_keeps_old_ones() {
        let mut buffer = Buffer::new(2, usize::MAX);
        assert_eq!(buffer.push(like(1)), Ok(Accepted::New));
        assert_eq!(buffer.push(like(2)), Ok(Accepted::New));
        assert_eq!(buffer.push(like(3)), Err(Refusal::Full));
        let batch = buffer.take(10);
        let ids: Vec<LikeId> = batch.iter().map(|l| l.id).collect();
        assert_eq!(ids, vec![like(1).id, like(2).id]);
        assert_eq!(
            buffer.push(like(3)),
            Err(Refusal::Full),
            "in-flight likes count"
        );
        buffer.forget_stored(&batch);
        assert!(!buffer.is_full());
        assert_eq!(buffer.push(like(3)), Ok(Accepted::New));
    }

    #[test]
    fn a_buffer_is_full_at_its_count_or_near_its_bytes() {
        let mut buffer = Buffer::new(2, usize::MAX);
        buffer.push(like(1)).unwrap();
        assert!(!buffer.is_full());
        buffer.push(like(2)).unwrap();
        assert!(buffer.is_full());
        let mut by_bytes = Buffer::new(100, 2 * held_bytes(&like(1)));
        by_bytes.push(like(1)).unwrap();
        assert!(!by_bytes.is_full());
        by_bytes.push(like(2)).unwrap();
        assert!(by_bytes.is_full(), "no room for another like");
        assert!(!by_bytes.is_closed());
        by_bytes.close();
        assert!(by_bytes.is_closed());
    }

    #[test]
    fn the_byte_bound_refuses_long_liker_ids_first_and_frees_on_store() {
        let short = like(1);
        let mut long = like(2);
        long.liker = "x".repeat(64);
        let mut buffer = Buffer::new(100, held_bytes(&short) + held_bytes(&long));
        assert_eq!(buffer.push(short.clone()), Ok(Accepted::New));
        assert_eq!(buffer.push(long.clone()), Ok(Accepted::New));
        assert_eq!(buffer.bytes(), held_bytes(&short) + held_bytes(&long));
        assert_eq!(buffer.push(like(3)), Err(Refusal::Full));
        let batch = buffer.take(1);
        buffer.put_back(batch);
        assert_eq!(
            buffer.push(like(3)),
            Err(Refusal::Full),
            "a failed batch still holds its bytes"
        );
        let batch = buffer.take(1);
        buffer.forget_stored(&batch);
        assert_eq!(buffer.bytes(), held_bytes(&long));
        assert_eq!(buffer.push(like(3)), Ok(Accepted::New));
    }

    #[test]
    fn the_same_like_is_buffered_once_even_while_in_flight() {
        let mut buffer = Buffer::new(10, usize::MAX);
        assert_eq!(buffer.push(like(1)), Ok(Accepted::New));
        assert_eq!(buffer.push(like(1)), Ok(Accepted::Held));
        let batch = buffer.take(10);
        assert_eq!(buffer.push(like(1)), Ok(Accepted::Held));
        buffer.forget_stored(&batch);
        assert!(buffer.is_empty());
    }

    #[test]
    fn a_retry_of_a_like_stored_lately_is_known_and_not_buffered_again() {
        let mut buffer = Buffer::new(10, usize::MAX);
        buffer.push(like(1)).unwrap();
        let batch = buffer.take(10);
        buffer.forget_stored(&batch);
        assert_eq!(buffer.push(like(1)), Ok(Accepted::Stored));
        assert!(buffer.is_empty());
        let unnamed = Like {
            id: LikeId::for_request(TalkId(1), "liker", None),
            ..like(2)
        };
        buffer.push(unnamed.clone()).unwrap();
        assert!(buffer.ids.is_empty(), "a random id is new: not looked up");
        let batch = buffer.take(10);
        buffer.forget_stored(&batch);
        assert_eq!(
            buffer.recent.len(),
            1,
            "an id no retry can name is not kept"
        );
        // Only the last RECENT_IDS are remembered.
        for n in 2..=RECENT_IDS as u32 + 1 {
            buffer.push(like(n)).unwrap();
            let batch = buffer.take(1);
            buffer.forget_stored(&batch);
        }
        assert_eq!(buffer.push(like(1)), Ok(Accepted::New), "forgotten");
        assert_eq!(buffer.recent.len(), RECENT_IDS);
    }

    #[test]
    fn a_failed_batch_goes_back_in_front_in_order() {
        let mut buffer = Buffer::new(10, usize::MAX);
        for n in 1..=3 {
            buffer.push(like(n)).unwrap();
        }
        let batch = buffer.take(2);
        buffer.push(like(4)).unwrap();
        buffer.put_back(batch);
        let again = buffer.take(10);
        let expected: Vec<LikeId> = (1..=4).map(|n| like(n).id).collect();
        assert_eq!(again.iter().map(|l| l.id).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn the_oldest_like_held_is_known_pending_or_in_flight() {
        let at = |n: u32| {
            let mut like = like(n);
            like.created_at = DateTime::from_timestamp(1_790_000_000 + i64::from(n), 0).unwrap();
            like
        };
        let mut buffer = Buffer::new(10, usize::MAX);
        assert_eq!(buffer.oldest(), None);
        for n in 1..=3 {
            buffer.push(at(n)).unwrap();
        }
        let batch = buffer.take(2);
        assert_eq!(buffer.oldest(), Some(at(1).created_at), "in flight");
        buffer.forget_stored(&batch[..1]);
        assert_eq!(
            buffer.oldest(),
            Some(at(1).created_at),
            "its batch is not all stored"
        );
        buffer.forget_stored(&batch[1..]);
        assert_eq!(buffer.oldest(), Some(at(3).created_at));
        let batch = buffer.take(5);
        buffer.put_back(batch);
        assert_eq!(buffer.oldest(), Some(at(3).created_at));
        let batch = buffer.take(5);
        buffer.forget_stored(&batch);
        assert_eq!(buffer.oldest(), None);
    }

    #[test]
    fn a_closed_buffer_refuses_but_keeps_what_it_holds() {
        let mut buffer = Buffer::new(10, usize::MAX);
        buffer.push(like(1)).unwrap();
        buffer.close();
        assert_eq!(buffer.push(like(2)), Err(Refusal::Closed));
        assert_eq!(buffer.take(10).len(), 1);
    }
}
