//! What one client, one liker and one process may take: like rates per liker
//! and per client address (`rate`), the client's address behind a load
//! balancer (`client`), which web pages may connect (`origin`), and the cap on
//! open connections (`connections`). The GraphQL document limits live in
//! `graphql`; the like buffer's bounds live in `storer`.

pub mod client;
pub mod connections;
pub mod origin;
pub mod rate;

pub use client::ClientIpSource;
pub use connections::{ConnectionLimit, LimitedListener};
pub use origin::AllowedOrigins;
pub use rate::{Limited, Rate, RateLimits};
