//! The running service: builds the store, storer, observer, listener,
//! schema and HTTP server from a `Config`, runs them, and shuts them down
//! within one grace period: stop accepting while the storer drains into the
//! store, then stop the rest.

use crate::config::Config;
use crate::graphql::{Endpoint, Services};
use crate::http::{self, HttpState};
use crate::limits::{ConnectionLimit, LimitedListener, RateLimits};
use crate::listener::Listener;
use crate::observer::{ObserveSettings, Observer};
use crate::store::{self, LikeStore, StoreOptions};
use crate::storer::{AckSettings, FlushSettings, Storer};
use crate::telemetry;
use crate::timeline::Timelines;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Likes written per store transaction.
const MAX_LIKES_PER_TRANSACTION: usize = 10_000;

/// A built service, bound to its port, not yet running.
pub struct App {
    config: Config,
    tcp: TcpListener,
    store: Arc<dyn LikeStore>,
    storer: Storer,
    observer: Observer,
    listener: Listener,
    router: http::Routes,
    connections: ConnectionLimit,
    rate_limits: Arc<RateLimits>,
    /// Cancelled when shutdown begins; ends subscriptions and WebSockets.
    serving: CancellationToken,
}

impl App {
    /// Opens the store and binds the listening socket.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // The recorder first: every series exists from the start.
        let metrics = telemetry::handle();
        let options = StoreOptions {
            lock_timeout: config.flush_try_timeout,
            op_timeout: config.flush_try_timeout,
            ..StoreOptions::default()
        };
        let store = store::open(&config.store, &options)
            .await
            .with_context(|| format!("opening the store {}", config.store))?;
        let listener = Listener::new(config.catalogue.ids());
        let timelines = Timelines::new(config.catalogue.ids());
        let audience = listener.clone();
        let storer = Storer::new(
            store.clone(),
            config.server_id.clone(),
            FlushSettings {
                interval: config.flush_interval,
                try_timeout: config.flush_try_timeout,
                hard_timeout: config.flush_hard_timeout,
                max_batch: MAX_LIKES_PER_TRANSACTION,
                max_buffered: config.buffer_max_likes,
                max_buffered_bytes: config.buffer_max_bytes,
                shutdown_grace: config.shutdown_grace,
            },
        )
        .reporting(Arc::new(move || audience.audience()))
        .counting(listener.clone())
        .acknowledging(AckSettings {
            ack: config.ack,
            timeout: config.ack_timeout,
            linger: config.ack_linger,
        });
        let mut observer = Observer::new(
            store.clone(),
            listener.clone(),
            config.server_id.clone(),
            ObserveSettings {
                interval: config.observe_interval,
                window: config.observe_window,
            },
        )
        .measuring(storer.freshness())
        .keeping(timelines.clone())
        .following(storer.landed());
        // The talks' totals and timelines are known before the first request
        // is taken, unless the store does not answer now: then the
        // observer's next read finds them.
        if let Err(error) = observer.observe().await {
            tracing::warn!(%error, "the first read of the totals failed; retrying while serving");
        }
        let serving = CancellationToken::new();
        let rate_limits = Arc::new(RateLimits::new(
            config.limits.rate_per_liker,
            config.limits.rate_per_address,
        ));
        let graphql = Endpoint::new(
            Services {
                catalogue: Arc::new(config.catalogue.clone()),
                storer: storer.clone(),
                listener: listener.clone(),
                timelines,
                rate_limits: rate_limits.clone(),
            },
            config.access.introspection,
        )
        .context("checking the declared GraphQL schema")?;
        let connections = ConnectionLimit::new(
            config.limits.max_connections,
            config.limits.max_connections_per_address,
        );
        let router = http::router(
            HttpState {
                graphql: Arc::new(graphql),
                connections: connections.clone(),
                limits: Arc::new(config.limits.clone()),
                access: Arc::new(config.access.clone()),
                metrics,
                shutdown: serving.clone(),
            },
            &config.page,
        );
        let tcp = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        Ok(Self {
            config,
            tcp,
            store,
            storer,
            observer,
            listener,
            router,
            connections,
            rate_limits,
            serving,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.tcp
            .local_addr()
            .expect("a bound socket has an address")
    }

    /// The store this app writes to.
    pub fn store(&self) -> Arc<dyn LikeStore> {
        self.store.clone()
    }

    /// The app's listener (published totals, subscriber counts).
    pub fn listener(&self) -> Listener {
        self.listener.clone()
    }

    /// Serves until `stop` completes, then shuts down in order, within
    /// `shutdown_grace` of the signal: stop accepting connections and end
    /// subscriptions; meanwhile the storer finishes its flush, refuses new
    /// likes and stores what it holds; then stop the observer. Fails if
    /// acknowledged likes could not be stored in time.
    pub async fn run(self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let tracker = TaskTracker::new();
        let storer_stop = CancellationToken::new();
        let observer_stop = CancellationToken::new();
        let storer_task = tracker.spawn(self.storer.clone().run(storer_stop.clone()));
        tracker.spawn(self.observer.run(observer_stop.clone()));
        tracker.spawn(self.rate_limits.clone().run(observer_stop.clone()));
        tracker.spawn(telemetry::run_upkeep(
            telemetry::handle(),
            observer_stop.clone(),
        ));

        let serving = self.serving.clone();
        let listener = LimitedListener::new(self.tcp, self.connections.clone());
        let server = http::serve(
            listener,
            self.router,
            self.config.limits.timeouts,
            serving.clone(),
        );
        let mut server = tracker.spawn(server);
        tracing::info!(
            addr = %self.config.listen,
            store = %self.config.store,
            server_id = %self.config.server_id,
            "serving"
        );

        let mut server_done = false;
        tokio::select! {
            _ = stop => {}
            result = &mut server => {
                server_done = true;
                match result {
                    Ok(()) => tracing::error!("the HTTP server stopped by itself"),
                    Err(error) => tracing::error!(%error, "the HTTP server task failed"),
                }
            }
        }
        let deadline = tokio::time::Instant::now() + self.config.shutdown_grace;
        tracing::info!("shutting down: refusing new requests, then storing buffered likes");
        serving.cancel();
        storer_stop.cancel();

        let unflushed = match storer_task.await {
            Ok(unflushed) => unflushed,
            Err(error) => {
                tracing::error!(%error, "the storer task failed");
                self.storer.buffered()
            }
        };
        if !server_done
            && tokio::time::timeout_at(deadline, &mut server)
                .await
                .is_err()
        {
            tracing::warn!("requests still open at the end of the grace period are cut");
            server.abort();
        }
        observer_stop.cancel();
        tracker.close();
        tracker.wait().await;
        if unflushed > 0 {
            anyhow::bail!("{unflushed} acknowledged likes could not be stored before exit");
        }
        tracing::info!("stopped");
        Ok(())
    }
}
