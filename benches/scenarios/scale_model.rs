//! The capacity model of docs/capacity.md, as the `scale` scenario checks
//! it: what N replicas sharing a fixed load should cost, in store calls and
//! rows from first principles (how often each replica flushes, reports and
//! reads), in CPU and memory from what the run with the fewest replicas
//! measured. Pure arithmetic, no I/O.

/// The load every run of the grid shares, and its replica count.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub replicas: usize,
    /// Likes per second over all replicas (the probe's excluded).
    pub rate: f64,
    /// `likeAdded` subscribers over all replicas (the probe's excluded).
    pub subscribers: usize,
    /// Talks that get the likes and the subscribers.
    pub talks: usize,
    /// Likes per second on the probe's own talk, sent to one replica.
    pub probe_rate: f64,
    /// How far back each observer read looks, in seconds (`--observe-window`).
    pub window_seconds: f64,
    /// Seconds between flushes and between observer reads.
    pub interval_seconds: f64,
}

/// What a replica of the first run (`replicas` of them) cost.
#[derive(Debug, Clone, Copy)]
pub struct Calibration {
    pub replicas: usize,
    /// Cores per replica with its subscribers connected and no likes.
    pub idle_cores: f64,
    /// Cores per replica under the load.
    pub loaded_cores: f64,
    /// Resident memory per replica before its subscribers connected.
    pub base_kib: f64,
    /// Resident memory per replica under the load.
    pub loaded_kib: f64,
}

/// Spanner mutations per like row (`Likes` has 5 columns, no index).
pub const MUTATIONS_PER_LIKE: f64 = 5.0;
/// Spanner mutations per talk in each flush commit: its bucket row (5
/// columns) and its totals row (3).
pub const MUTATIONS_PER_TALK: f64 = 8.0;

/// The figures the model predicts for a run, over all replicas unless said.
#[derive(Debug, Clone, Copy)]
pub struct Predicted {
    /// Flush commits and audience reports per second.
    pub writes: f64,
    /// Observer reads per second.
    pub reads: f64,
    /// Rows those reads return per second.
    pub rows_read: f64,
    /// Spanner mutations of the flush commits per like they store.
    pub mutations_per_like: f64,
    /// Events delivered per second to the load's subscribers.
    pub events: f64,
    /// Cores per replica.
    pub cores: f64,
    /// Resident memory per replica.
    pub kib: f64,
    /// Like → event on another replica: median and 99th percentile, seconds.
    pub latency: (f64, f64),
}

/// The observer reads a quarter of an interval after the flushes (`schedule`).
const OBSERVE_OFFSET: f64 = 0.25;

pub fn predict(load: &Load, calibration: &Calibration) -> Predicted {
    let n = load.replicas as f64;
    let per_second = 1.0 / load.interval_seconds;
    // Every replica gets likes for every load talk in each interval (its
    // share of the rate is far above one like per talk per interval), and
    // one replica also the probe's talk.
    let talk_commits = n * load.talks as f64 + 1.0;
    // Each replica commits one flush an interval (under 10,000 likes each)
    // and reports its audience after it, having subscribers.
    let writes = 2.0 * n * per_second;
    let reads = n * per_second;
    // A read returns each replica's bucket of each talk for every second of
    // the window and the current one, each replica's audience entries (its
    // load talks, and the probe's on one replica), and once a window the
    // totals of every talk that has any and the reader's own running totals
    // (its load talks, and on one replica the probe's).
    let buckets = (load.window_seconds + 1.0) * talk_commits;
    let audience = n * load.talks.min(load.subscribers / load.replicas.max(1)) as f64 + 1.0;
    let reads_per_window = (load.window_seconds / load.interval_seconds)
        .floor()
        .max(1.0);
    let talks = load.talks as f64;
    let totals = (talks + 1.0 + talks + 1.0 / n) / reads_per_window;
    let rows_read = reads * (buckets + audience + totals);
    let likes = load.rate + load.probe_rate;
    let scale = calibration.replicas as f64 / n;
    Predicted {
        writes,
        reads,
        rows_read,
        mutations_per_like: MUTATIONS_PER_LIKE
            + MUTATIONS_PER_TALK * talk_commits * per_second / likes.max(1.0),
        events: load.subscribers as f64 * per_second,
        // What the load adds to a replica divides among the replicas; what
        // an idle replica costs does not.
        cores: calibration.idle_cores
            + (calibration.loaded_cores - calibration.idle_cores).max(0.0) * scale,
        kib: calibration.base_kib
            + (calibration.loaded_kib - calibration.base_kib).max(0.0) * scale,
        latency: latency(load),
    }
}

/// Like → event, median and 99th percentile. On another replica a like
/// waits for the next flush (uniform over an interval), then for the read a
/// quarter interval later. On its own replica (the probe's, with one
/// replica) it is counted at once, and waits only for the next read.
fn latency(load: &Load) -> (f64, f64) {
    let wait = if load.replicas > 1 {
        OBSERVE_OFFSET
    } else {
        0.0
    };
    (
        (0.5 + wait) * load.interval_seconds,
        (0.99 + wait) * load.interval_seconds,
    )
}
