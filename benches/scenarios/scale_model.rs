//! The capacity model of docs/capacity.md, as the `scale` scenario checks
//! it: what N replicas sharing a fixed load should cost, in store calls and
//! rows from first principles (how often each replica flushes, reports and
//! reads, with `--ack stored`'s linger and the commit time measured), in
//! CPU and memory from what the run with the fewest replicas measured.
//! Pure arithmetic, no I/O.

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
    /// Requests per second over all replicas (the probe's excluded), each
    /// answered once its likes are stored.
    pub requests: f64,
    /// Likes per second on the probe's own talk, one a request, sent to one
    /// replica.
    pub probe_rate: f64,
    /// `--ack-linger`: a waiting like starts a flush this long after it.
    pub linger_seconds: f64,
    /// Mean time a flush commit took in this run (measured).
    pub commit_seconds: f64,
    /// How far back each observer read looks, in seconds (`--observe-window`).
    pub window_seconds: f64,
    /// Seconds between flushes and between observer reads.
    pub interval_seconds: f64,
}

/// What a replica of the first run (`replicas` of them) cost.
#[derive(Debug, Clone, Copy)]
pub struct Calibration {
    pub replicas: usize,
    /// Cores each replica spends whatever its share of the load: its
    /// ticks, and its flush commits, as many a second with a share of 1/8
    /// as of all of it (each one a linger and a commit long).
    pub fixed_cores: f64,
    /// Cores per replica of the first run that divide among replicas: its
    /// likes and events.
    pub shared_cores: f64,
    /// Resident memory per replica before its subscribers connected.
    pub base_kib: f64,
    /// Resident memory per replica under the load.
    pub loaded_kib: f64,
}

/// Spanner mutations per like row (`Likes` has 5 columns, no index).
pub const MUTATIONS_PER_LIKE: f64 = 5.0;
/// Spanner mutations per talk in each flush commit: its bucket row (5
/// columns), its totals row (3) and its timeline row (4; one 10-second
/// slot per talk and commit while likes keep coming).
pub const MUTATIONS_PER_TALK: f64 = 12.0;

/// The figures the model predicts for a run, over all replicas unless said.
#[derive(Debug, Clone, Copy)]
pub struct Predicted {
    /// Flush commits per second.
    pub flushes: f64,
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

pub fn predict(load: &Load, calibration: &Calibration) -> Predicted {
    let n = load.replicas as f64;
    let per_second = 1.0 / load.interval_seconds;
    // Every replica gets likes for every load talk in each interval (its
    // share of the rate is far above one like per talk per interval), and
    // one replica also the probe's talk: the bucket rows of each second.
    let bucket_rows = n * load.talks as f64 + 1.0;
    // A request waiting for its answer starts a flush a linger later, and
    // a replica runs one flush at a time: it commits once per request
    // while they come further apart than a linger and a commit, and once
    // per linger and commit when they come closer (its ticks' flushes are
    // among these). The first replica also gets the probe's requests.
    let most = 1.0 / (load.linger_seconds + load.commit_seconds);
    let share = load.requests / n;
    let flushes = (n - 1.0) * share.min(most) + (share + load.probe_rate).min(most);
    // Each flush commits a bucket and totals row per talk it holds: the
    // load's talks, and in the first replica's the probe's, which rides
    // with the load's when they share a flush.
    let talk_commits = flushes * load.talks as f64 + load.probe_rate.min(most);
    // Each replica reports its audience after its tick's flush, having
    // subscribers.
    let writes = flushes + n * per_second;
    let reads = n * per_second;
    // A read returns each replica's bucket of each talk for every second of
    // the window and the current one, each replica's audience entries (its
    // load talks, and the probe's on one replica), and once a window the
    // totals of every talk that has any and the reader's own running totals
    // (its load talks, and on one replica the probe's).
    let buckets = (load.window_seconds + 1.0) * bucket_rows;
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
        flushes,
        writes,
        reads,
        rows_read,
        mutations_per_like: MUTATIONS_PER_LIKE + MUTATIONS_PER_TALK * talk_commits / likes.max(1.0),
        events: load.subscribers as f64 * per_second,
        // The likes and events divide among the replicas; each replica's
        // own ticks and flush commits do not.
        cores: calibration.fixed_cores + calibration.shared_cores * scale,
        kib: calibration.base_kib
            + (calibration.loaded_kib - calibration.base_kib).max(0.0) * scale,
        latency: latency(load),
    }
}

/// Like → event, median and 99th percentile. A like is stored a linger
/// and a commit after it arrives (its answer waits for that), then waits
/// for the next read (every replica's, a quarter interval past the tick),
/// which is uniform over an interval: on its own replica too, which counts
/// it once stored and publishes with its read.
fn latency(load: &Load) -> (f64, f64) {
    let stored = load.linger_seconds + load.commit_seconds;
    (
        stored + 0.5 * load.interval_seconds,
        stored + 0.99 * load.interval_seconds,
    )
}
