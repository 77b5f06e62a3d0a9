//! What the engine's resolvers use, handed in by the app: the service's
//! parts, and a WebSocket connection's allowance of subscriptions.

use crate::catalogue::Catalogue;
use crate::limits::RateLimits;
use crate::listener::Listener;
use crate::storer::Storer;
use crate::timeline::Timelines;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What resolvers use.
#[derive(Clone)]
pub(crate) struct Services {
    /// The talks.
    pub(crate) catalogue: Arc<Catalogue>,
    /// Buffers new likes.
    pub(crate) storer: Storer,
    /// Published totals and subscriptions.
    pub(crate) listener: Listener,
    /// The talks' timelines, kept by the observer.
    pub(crate) timelines: Timelines,
    /// Like rates per liker and per client address.
    pub(crate) rate_limits: Arc<RateLimits>,
}

/// A WebSocket connection's allowance of live subscriptions; each
/// subscription holds a permit until it ends.
#[derive(Debug, Clone)]
pub(crate) struct SubscriptionSlots {
    /// One permit per subscription allowed.
    slots: Arc<Semaphore>,
    /// The allowance.
    pub(crate) max: usize,
}

impl SubscriptionSlots {
    /// Room for `max` subscriptions.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// A permit for one more subscription, held until it ends, if allowed.
    pub(crate) fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }
}
