//! Black-box tests: the app on a free port, driven over HTTP and WebSocket
//! the way the conference front end drives it.

mod bad_input;
#[path = "../common/emulator.rs"]
mod emulator;
mod helpers;
mod likes;
mod processes;
mod spanner;
mod subscriptions;
