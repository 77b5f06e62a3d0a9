//! The service's Prometheus metrics: their names, their help texts, and the
//! process-wide recorder behind `/metrics`. Components count events with the
//! `metrics` macros; levels (buffered likes, subscribers, connections,
//! observer lag) are read from their owners when `/metrics` is scraped.
//! Every series an alert or dashboard queries is registered when the
//! recorder is installed, so it reads 0 from the start, never "no data".

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Likes acknowledged to a client: once buffered (`--ack buffered`), or once
/// stored with a caller still waiting (`--ack stored`); a retry of a like
/// already acknowledged is not counted again.
pub const ACKNOWLEDGED: &str = "likes_acknowledged_total";
/// Acknowledged likes confirmed in the store by a flush: written by it, or
/// found already there. Equals `ACKNOWLEDGED` once the buffer is empty.
pub const STORED: &str = "likes_stored_total";
/// The part of `STORED` the store already had: a flush replayed after its
/// answer was lost, or a mutation retried after its like was stored.
pub const ALREADY_STORED: &str = "likes_already_stored_total";
/// Likes refused, by `reason`.
pub const REFUSED: &str = "likes_refused_total";
/// Likes held in memory, waiting for the store.
pub const BUFFERED: &str = "likes_buffered";
/// Estimated memory held by buffered likes.
pub const BUFFERED_BYTES: &str = "likes_buffered_bytes";
/// Age of the oldest like acknowledged and not yet stored (0 when none;
/// always 0 with `--ack stored`): what a crash of this replica would lose
/// is at least that old.
pub const UNSTORED_ACK_AGE: &str = "likes_unstored_ack_age_seconds";
/// Duration of successful flush tries.
pub const FLUSH_SECONDS: &str = "likes_flush_seconds";
/// Flush tries that failed or timed out.
pub const FLUSH_FAILURES: &str = "likes_flush_failures_total";
/// Store transactions committed: by flushes, and audience reports.
pub const STORE_WRITES: &str = "likes_store_writes_total";
/// Bucket and totals rows written by flushes (two per active talk per commit).
pub const STORE_SUMMARY_ROWS: &str = "likes_store_summary_rows_total";
/// Timeline rows written by flushes (one per talk and 10-second slot of
/// creation time that got likes, per commit).
pub const STORE_TIMELINE_ROWS: &str = "likes_store_timeline_rows_total";
/// Cloud Spanner mutations committed by flushes, as Spanner counts them
/// (the emulator does not: there, as the commits' cells add up).
pub const STORE_MUTATIONS: &str = "likes_store_mutations_total";
/// Store reads by the observer (its tick's read, and the rarer whole
/// timeline reads).
pub const STORE_READS: &str = "likes_store_reads_total";
/// Rows the observer's reads returned: buckets, audience entries, totals.
pub const STORE_ROWS_READ: &str = "likes_store_rows_read_total";
/// Duration of the observer's reads.
pub const OBSERVE_SECONDS: &str = "likes_observe_seconds";
/// Time since the observer's last successful read.
pub const OBSERVER_LAG: &str = "likes_observer_lag_seconds";
/// Live `likeAdded` subscriptions.
pub const SUBSCRIBERS: &str = "likes_subscribers";
/// Open TCP connections (HTTP and WebSocket).
pub const CONNECTIONS: &str = "likes_connections";
/// Open GraphQL WebSocket connections.
pub const WEBSOCKETS: &str = "likes_websockets";
/// Connections closed at once because the process, or the client's
/// network, was at its limit.
pub const CONNECTIONS_REFUSED: &str = "likes_connections_refused_total";
/// `CONNECTIONS_REFUSED`'s `reason` when the process was at its cap.
pub const REFUSED_AT_PROCESS_CAP: &str = "max_connections";
/// `CONNECTIONS_REFUSED`'s `reason` when the client's network was at its cap.
pub const REFUSED_AT_ADDRESS_CAP: &str = "max_connections_per_address";
/// Every `reason` of `CONNECTIONS_REFUSED`.
pub const CONNECTION_REFUSAL_REASONS: [&str; 2] = [REFUSED_AT_PROCESS_CAP, REFUSED_AT_ADDRESS_CAP];

/// HTTP requests answered, by `route` (the matched route, `other` for none)
/// and `outcome` (`success`, `client_error`, `server_error`).
pub const HTTP_REQUESTS: &str = "likes_http_requests_total";
/// Time to answer an HTTP request (to its response head; for a WebSocket,
/// the upgrade; for a streamed subscription, its start), by `route` and
/// `outcome`.
pub const HTTP_REQUEST_SECONDS: &str = "likes_http_request_duration_seconds";
/// Per like acknowledged here, the time from its acknowledgement to this
/// replica's publication of the total that includes it (see `freshness`).
pub const ACK_TO_PUSH: &str = "likes_ack_to_push_seconds";
/// Always 1; its `version` label is the running release.
pub const BUILD_INFO: &str = "likes_build_info";

/// Every `reason` of `REFUSED`: `not_stored_yet` is a like that waited
/// for its flush past `--ack-timeout` (held, and maybe stored later).
pub const REFUSAL_REASONS: [&str; 7] = [
    "buffer_full",
    "not_stored_yet",
    "shutting_down",
    "rate_limited_liker",
    "rate_limited_address",
    "bad_input",
    "not_found",
];

/// GraphQL documents prepared (parsed, validated and planned): once per
/// distinct document while the cache keeps it.
pub const DOCUMENTS_PREPARED: &str = "likes_graphql_documents_prepared_total";

/// Latency buckets in seconds, from 1 ms to 10 s.
const SECONDS_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of `ACK_TO_PUSH`, in seconds: fine around the 2 s promise,
/// coarse up to the minutes a store outage can hold likes back.
const ACK_TO_PUSH_BUCKETS: [f64; 14] = [
    0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The process's recorder, installed on first use. Every app in a process
/// shares it (one per process in production).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Full(ACK_TO_PUSH.into()),
                        &ACK_TO_PUSH_BUCKETS,
                    )
                })
                .expect("the buckets are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            describe();
            let _ = ACKNOWLEDGED_COUNTER.set(metrics::counter!(ACKNOWLEDGED));
            register_from_start();
            handle
        })
        .clone()
}

/// `ACKNOWLEDGED`, registered once the recorder is: every like counts it,
/// and looking it up each time costs an allocation.
static ACKNOWLEDGED_COUNTER: OnceLock<metrics::Counter> = OnceLock::new();

/// Counts acknowledged likes.
pub fn count_acknowledged(likes: u64) {
    match ACKNOWLEDGED_COUNTER.get() {
        Some(counter) => counter.increment(likes),
        None => metrics::counter!(ACKNOWLEDGED).increment(likes),
    }
}

/// Registers the series that are counted only when something happens, so
/// each exists at 0 (histograms empty) before it does. The HTTP request
/// series are registered with the routes (`http`).
fn register_from_start() {
    for counter in [STORED, ALREADY_STORED, FLUSH_FAILURES, STORE_WRITES] {
        metrics::counter!(counter).absolute(0);
    }
    for counter in [
        STORE_SUMMARY_ROWS,
        STORE_TIMELINE_ROWS,
        STORE_MUTATIONS,
        STORE_READS,
        STORE_ROWS_READ,
    ] {
        metrics::counter!(counter).absolute(0);
    }
    for reason in CONNECTION_REFUSAL_REASONS {
        metrics::counter!(CONNECTIONS_REFUSED, "reason" => reason).absolute(0);
    }
    for reason in REFUSAL_REASONS {
        metrics::counter!(REFUSED, "reason" => reason).absolute(0);
    }
    for gauge in [
        BUFFERED,
        BUFFERED_BYTES,
        UNSTORED_ACK_AGE,
        OBSERVER_LAG,
        SUBSCRIBERS,
    ] {
        metrics::gauge!(gauge).set(0.0);
    }
    for gauge in [CONNECTIONS, WEBSOCKETS] {
        metrics::gauge!(gauge).set(0.0);
    }
    for histogram in [FLUSH_SECONDS, OBSERVE_SECONDS, ACK_TO_PUSH] {
        let _ = metrics::histogram!(histogram);
    }
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

fn describe() {
    describe_counter!(ACKNOWLEDGED, "Likes accepted and acknowledged to a client.");
    describe_counter!(
        STORED,
        "Acknowledged likes confirmed in the store by a flush."
    );
    describe_counter!(
        ALREADY_STORED,
        "Likes a flush found already stored (replays and retries)."
    );
    describe_counter!(REFUSED, "Likes refused, by reason.");
    describe_gauge!(BUFFERED, "Likes held in memory, waiting for the store.");
    describe_gauge!(
        UNSTORED_ACK_AGE,
        Unit::Seconds,
        "Age of the oldest like acknowledged and not yet stored (0 when none; always with --ack stored): one crash from loss."
    );
    describe_gauge!(
        BUFFERED_BYTES,
        Unit::Bytes,
        "Estimated memory held by buffered likes."
    );
    describe_histogram!(
        FLUSH_SECONDS,
        Unit::Seconds,
        "Duration of successful flush tries."
    );
    describe_counter!(FLUSH_FAILURES, "Flush tries that failed or timed out.");
    describe_counter!(
        STORE_WRITES,
        "Store transactions committed: by flushes, and audience reports."
    );
    describe_counter!(
        STORE_SUMMARY_ROWS,
        "Bucket and totals rows written by flushes."
    );
    describe_counter!(STORE_TIMELINE_ROWS, "Timeline rows written by flushes.");
    describe_counter!(
        STORE_MUTATIONS,
        "Cloud Spanner mutations committed by flushes (0 on SQLite)."
    );
    describe_counter!(STORE_READS, "Store reads by the observer.");
    describe_counter!(
        STORE_ROWS_READ,
        "Rows the observer's reads returned: buckets, audience entries, totals."
    );
    describe_histogram!(
        OBSERVE_SECONDS,
        Unit::Seconds,
        "Duration of the observer's reads."
    );
    describe_gauge!(
        OBSERVER_LAG,
        Unit::Seconds,
        "Time since the observer's last successful read."
    );
    describe_gauge!(SUBSCRIBERS, "Live likeAdded subscriptions.");
    describe_gauge!(CONNECTIONS, "Open TCP connections.");
    describe_gauge!(WEBSOCKETS, "Open GraphQL WebSocket connections.");
    describe_counter!(
        DOCUMENTS_PREPARED,
        "GraphQL documents parsed, validated and planned."
    );
    describe_counter!(
        CONNECTIONS_REFUSED,
        "Connections closed at once at the connection limit."
    );
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route and outcome."
    );
    describe_histogram!(
        HTTP_REQUEST_SECONDS,
        Unit::Seconds,
        "Time to answer an HTTP request, by route and outcome."
    );
    describe_histogram!(
        ACK_TO_PUSH,
        Unit::Seconds,
        "Per like acknowledged here, time from acknowledgement to the publication of a total that includes it."
    );
    describe_gauge!(BUILD_INFO, "Always 1; version is the running release.");
}

/// Drains histogram samples into their buckets every few seconds until
/// `shutdown` is cancelled, so memory stays flat between scrapes.
pub async fn run_upkeep(handle: PrometheusHandle, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => handle.run_upkeep(),
        }
    }
}
