//! Black-box tests: the app on a free port, driven over HTTP and WebSocket
//! the way the conference front end drives it.

mod abuse;
mod acks;
mod bad_input;
mod conformance;
mod crashes;
mod differential;
#[path = "../common/emulator.rs"]
mod emulator;
mod faults;
mod fuzz;
mod graphiql;
mod helpers;
mod hostile;
mod likes;
mod page;
mod processes;
mod protocol;
#[path = "../common/proxy.rs"]
mod proxy;
#[path = "../common/python.rs"]
mod python;
mod resume;
mod slo;
mod soak;
mod spanner;
mod streams;
mod subscriptions;
mod traces;
