//! The domain's value types: talks, servers, likes and the seconds that
//! buckets are keyed by. No I/O lives here.

use chrono::{DateTime, Utc};
use std::fmt;
use uuid::Uuid;

/// A talk's id in the catalogue (GraphQL `sessionId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TalkId(pub i32);

impl fmt::Display for TalkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whole seconds since the Unix epoch (UTC): the key of a summary bucket.
pub type Second = i64;

/// Growth of one of this replica's own buckets, as the observer saw it
/// (`observer::Window::for_server`); the likes it counts are then published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnGrowth {
    /// The bucket's second.
    pub second: Second,
    /// The talk.
    pub talk: TalkId,
    /// Likes the bucket grew by.
    pub likes: u64,
}

/// The longest liker id (`uuid`) accepted, in bytes.
pub const MAX_LIKER_BYTES: usize = 64;
/// The longest `clientMutationId` accepted, in bytes.
pub const MAX_CLIENT_MUTATION_ID_BYTES: usize = 64;
/// The longest server id accepted, in bytes.
pub const MAX_SERVER_ID_BYTES: usize = 64;

/// The replica that accepted a like and owns its summary buckets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerId(String);

impl ServerId {
    /// A server id: 1 to 64 bytes of printable ASCII without spaces.
    pub fn new(id: impl Into<String>) -> Result<Self, String> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_SERVER_ID_BYTES {
            return Err(format!(
                "server id must be 1 to {MAX_SERVER_ID_BYTES} bytes, got {}",
                id.len()
            ));
        }
        if !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "server id {id:?} must be printable ASCII without spaces"
            ));
        }
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A like's id. Stable across retries, so storing it twice stores it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LikeId(pub Uuid);

/// Namespace for name-based like ids (UUID v5).
const LIKE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c1b_2f0e_8d4a_4e59_9a57_3c1f_0b7e_21d4);

impl LikeId {
    /// The id of a `createLike` request. With a `clientMutationId` the id is
    /// derived from (talk, liker, clientMutationId), so a retried mutation,
    /// on any replica, names the same like. Without one every call is a new like.
    pub fn for_request(talk: TalkId, liker: &str, client_mutation_id: Option<&str>) -> Self {
        match client_mutation_id {
            Some(mutation) => {
                let name = format!("{}\u{0}{liker}\u{0}{mutation}", talk.0);
                Self(Uuid::new_v5(&LIKE_ID_NAMESPACE, name.as_bytes()))
            }
            None => Self(Uuid::new_v4()),
        }
    }
}

impl LikeId {
    /// Whether the id is derived from its request's `clientMutationId`, so
    /// a retry names it again.
    pub fn is_named(&self) -> bool {
        self.0.get_version_num() == 5
    }
}

impl fmt::Display for LikeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// One acknowledged like, as buffered and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Like {
    /// Stable id; the store keeps one row per id.
    pub id: LikeId,
    /// The liked talk.
    pub talk: TalkId,
    /// The liker: an id unique to a browser or app install (GraphQL `uuid`).
    pub liker: String,
    /// When the replica acknowledged it, to the microsecond.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_mutation_names_the_same_like() {
        let a = LikeId::for_request(TalkId(3), "liker", Some("m-1"));
        let b = LikeId::for_request(TalkId(3), "liker", Some("m-1"));
        assert_eq!(a, b);
        assert_ne!(a, LikeId::for_request(TalkId(4), "liker", Some("m-1")));
        assert_ne!(a, LikeId::for_request(TalkId(3), "other", Some("m-1")));
        assert_ne!(a, LikeId::for_request(TalkId(3), "liker", Some("m-2")));
        assert!(a.is_named());
    }

    #[test]
    fn likes_without_a_mutation_id_are_all_distinct() {
        let a = LikeId::for_request(TalkId(3), "liker", None);
        let b = LikeId::for_request(TalkId(3), "liker", None);
        assert_ne!(a, b);
        assert!(!a.is_named());
    }

    #[test]
    fn server_ids_are_short_printable_words() {
        assert!(ServerId::new("likes-7d9f-abc").is_ok());
        assert!(ServerId::new("").is_err());
        assert!(ServerId::new("a b").is_err());
        assert!(ServerId::new("x".repeat(65)).is_err());
    }
}
