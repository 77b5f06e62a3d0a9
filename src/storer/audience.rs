//! This replica's audience as the storer reports it after each flush: its
//! subscribers per talk, read from a source it is given, while there are
//! some, and once more when there are none. Decides only what is due; the
//! storer writes it.

use crate::model::TalkId;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// This replica's subscribers per talk (the talks that have some), read
/// at each flush.
pub type AudienceSource = Arc<dyn Fn() -> Vec<(TalkId, u64)> + Send + Sync>;

/// The source, and whether the last report that landed was empty.
pub(super) struct Audience {
    source: AudienceSource,
    none_reported: AtomicBool,
}

impl Audience {
    pub(super) fn new(source: AudienceSource) -> Self {
        Self {
            source,
            none_reported: AtomicBool::new(false),
        }
    }

    /// The audience to report now (none once `leaving`), or `None` when
    /// there is none and that is already reported.
    pub(super) fn due(&self, leaving: bool) -> Option<Vec<(TalkId, u64)>> {
        let audience = if leaving { Vec::new() } else { (self.source)() };
        let unchanged = audience.is_empty() && self.none_reported.load(Ordering::Relaxed);
        (!unchanged).then_some(audience)
    }

    /// Notes that `audience` is in the store.
    pub(super) fn reported(&self, audience: &[(TalkId, u64)]) {
        self.none_reported
            .store(audience.is_empty(), Ordering::Relaxed);
    }
}
