//! What the engine's resolvers use, handed in by the app: the service's
//! parts (`Services`), and per transport, the client's address and a
//! WebSocket connection's allowance of subscriptions.

use crate::catalogue::Catalogue;
use crate::limits::RateLimits;
use crate::listener::Listener;
use crate::store::LikeStore;
use crate::storer::Storer;
use crate::timeline::Timelines;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// What resolvers use.
#[derive(Clone)]
pub struct Services {
    /// The talks.
    pub catalogue: Arc<Catalogue>,
    /// Buffers new likes.
    pub storer: Storer,
    /// Published totals and subscriptions.
    pub listener: Listener,
    /// The talks' timelines, kept by the observer.
    pub timelines: Timelines,
    /// The store, for readiness.
    pub store: Arc<dyn LikeStore>,
    /// Cancelled when the process stops serving; ends subscriptions.
    pub shutdown: CancellationToken,
    /// Like rates per liker and per client address.
    pub rate_limits: Arc<RateLimits>,
}

/// The client's address, found by the HTTP layer.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

/// A WebSocket connection's allowance of live subscriptions; each
/// subscription holds a permit until it ends.
#[derive(Debug, Clone)]
pub struct SubscriptionSlots {
    /// One permit per subscription allowed.
    pub slots: Arc<Semaphore>,
    /// The allowance.
    pub max: usize,
}

impl SubscriptionSlots {
    /// Room for `max` subscriptions.
    pub fn new(max: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// A permit for one more subscription, held until it ends; `None` when
    /// the connection holds its allowance already.
    pub fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }
}
