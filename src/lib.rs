//! `likes`: a realtime like counter for conference talks.
//!
//! The data flow, one module each:
//! - [`graphql`] and [`http`]: clients send `createLike`, subscribe to `likeAdded`.
//! - [`storer`]: buffers acknowledged likes and flushes them every second.
//! - [`store`]: the `LikeStore` trait and its backends (SQLite, Cloud Spanner).
//! - [`observer`]: reads all servers' buckets over a sliding window, computes deltas.
//! - [`listener`]: fans each talk's new total out to its subscribers.
//! - [`timeline`]: each talk's likes per slot of time, kept by the observer.
//! - [`freshness`]: measures each like's delay from acknowledgement to push.
//!
//! Around them: [`model`] (value types), [`clock`] (the wall clock the storer
//! and observer read), [`catalogue`] (the talks),
//! [`limits`] (rates, origins, connection caps), [`telemetry`] (Prometheus metrics),
//! [`logging`] (log lines, trace export),
//! [`config`] (the validated settings, plain data every module may read),
//! [`cli`] (the flags that produce them) and [`app`] (wiring, running,
//! ordered shutdown).

pub mod app;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod config;
pub mod export;
pub mod freshness;
pub mod graphql;
pub mod http;
pub mod limits;
pub mod listener;
pub mod logging;
pub mod model;
pub mod observer;
pub mod schedule;
pub mod store;
pub mod storer;
pub mod telemetry;
pub mod timeline;

pub use app::App;
pub use cli::{Cli, Command};
pub use config::Config;
