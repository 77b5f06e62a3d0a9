//! Scenario 2, fan-out: many WebSocket subscribers on one replica, spread
//! over the catalogue's talks. First idle, for the memory each costs; then
//! with likes on every talk every second, for the time from the observer
//! publishing a total (the event's `publishedAt`) to each subscriber
//! receiving it, whether every subscriber's deltas add up exactly, and the
//! CPU the server and this process used per event meanwhile (from
//! `/proc`: less noisy than latency on a shared machine, and the latency of
//! a burst follows it). The same subscribers then run against the bare
//! broadcaster (`broadcast.rs`), in the same run: what a WebSocket server
//! needs at the least to deliver those events; and then as raw bytes over
//! loopback TCP (`loopback.rs`): what the kernel alone costs per event on
//! this machine, below any server. `fanout-sse` instead measures the
//! service's subscribers over server-sent events (`sse.rs`) against its
//! WebSocket subscribers in the same run.

use crate::broadcast::Broadcaster;
use crate::loopback::{self, Loopback};
use crate::support::{Replica, Table, count, cpu_seconds, mib, ms, percentile, talks, wait_for};
use crate::{sse, ws};
use anyhow::{Context, bail};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, clap::Args)]
pub struct Options {
    #[arg(long, default_value_t = 20_000)]
    pub subscribers: usize,
    /// Seconds of likes.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Likes per talk per second.
    #[arg(long, default_value_t = 5)]
    pub likes_per_talk: usize,
}

/// What each subscriber selects of `likeAdded`.
const FIELDS: &str = "likes total publishedAt";

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    /// Seconds from `publishedAt` to arrival, per event.
    latencies: Vec<f64>,
    events: u64,
    likes: u64,
    /// Events whose total was not the previous total plus their likes.
    broken: u64,
}

/// Where the subscribers connect, and what makes totals grow there.
enum Target<'a> {
    Service(&'a Replica),
    /// The service, its subscribers over server-sent events.
    ServiceSse(&'a Replica),
    Bare(&'a Broadcaster),
}

/// One subscriber's connection.
enum Subscriber {
    Ws(Box<ws::Socket>),
    Sse(sse::Stream),
}

impl Subscriber {
    async fn next_json(&mut self) -> anyhow::Result<Option<serde_json::Value>> {
        match self {
            Subscriber::Ws(socket) => ws::next_json(socket).await,
            Subscriber::Sse(stream) => stream.next_json().await,
        }
    }
}

/// Subscribes to `likeAdded` on `talk` at `url`, over server-sent events
/// if `sse`, else over a WebSocket.
async fn subscribe(sse: bool, url: &str, talk: i64) -> anyhow::Result<Subscriber> {
    Ok(match sse {
        true => Subscriber::Sse(sse::like_added(url, talk, FIELDS).await?),
        false => Subscriber::Ws(Box::new(ws::like_added(url, talk, FIELDS).await?)),
    })
}

impl Target<'_> {
    /// Where subscribers connect, and whether over server-sent events.
    fn url(&self) -> (bool, String) {
        match self {
            Target::Service(replica) => (false, replica.ws()),
            Target::ServiceSse(replica) => (true, replica.graphql()),
            Target::Bare(broadcaster) => (false, broadcaster.ws()),
        }
    }

    async fn subscribers(&self) -> anyhow::Result<u64> {
        match self {
            Target::Service(replica) | Target::ServiceSse(replica) => {
                Ok(replica.metric("likes_subscribers").await? as u64)
            }
            Target::Bare(broadcaster) => broadcaster.subscribers().await,
        }
    }

    fn rss_kib(&self) -> u64 {
        match self {
            Target::Service(replica) | Target::ServiceSse(replica) => replica.rss_kib(),
            Target::Bare(broadcaster) => broadcaster.rss_kib(),
        }
    }

    fn peak_rss_kib(&self) -> u64 {
        match self {
            Target::Service(replica) | Target::ServiceSse(replica) => replica.peak_rss_kib(),
            Target::Bare(broadcaster) => broadcaster.peak_rss_kib(),
        }
    }

    fn cpu_seconds(&self) -> f64 {
        match self {
            Target::Service(replica) | Target::ServiceSse(replica) => replica.cpu_seconds(),
            Target::Bare(broadcaster) => broadcaster.cpu_seconds(),
        }
    }

    /// Grows every talk's total each second; returns each talk's growth.
    async fn drive(&self, talks: &[i64], options: &Options) -> anyhow::Result<Vec<u64>> {
        match self {
            Target::Service(replica) | Target::ServiceSse(replica) => {
                send_likes(replica, talks, options).await
            }
            Target::Bare(broadcaster) => {
                let likes = options.likes_per_talk as u64;
                broadcaster.tick(options.seconds, likes).await?;
                Ok(vec![options.seconds * likes; talks.len()])
            }
        }
    }
}

/// One target's figures; `None` where a figure does not apply to the
/// loopback floor.
struct Measured {
    opened_in: Duration,
    memory: Option<Memory>,
    sent: Option<u64>,
    events: u64,
    latencies: Vec<f64>,
    /// Subscribers whose deltas do not add up.
    wrong: Option<usize>,
    /// Whether every subscriber got everything sent.
    converged: bool,
    /// CPU seconds while events flowed: the server's, and this process's
    /// (the subscribers, and for the service the likes sent).
    server_cpu: f64,
    harness_cpu: f64,
}

/// A server process's resident memory, in KiB.
struct Memory {
    before: u64,
    idle: u64,
    peak: u64,
}

/// The service's WebSocket keepalive here: past the run, so that its CPU
/// per event counts what the bare broadcaster's counts, the events, and not
/// a ping to every subscriber, which the bare broadcaster never sends.
const KEEPALIVE: &str = "1h";

pub async fn run(options: &Options) -> anyhow::Result<()> {
    // Each subscriber is a socket here and one in the replica, which
    // inherits this process's limit on open files.
    let limit = open_files_limit();
    let subscribers = options.subscribers.min(limit.saturating_sub(200) as usize);
    if subscribers < options.subscribers {
        eprintln!(
            "{} subscribers capped at {subscribers} by the open files limit ({limit}); \
             raise it with `ulimit -n` for more",
            options.subscribers
        );
    }
    let options = &Options {
        subscribers,
        ..*options
    };
    let dir = tempfile::tempdir()?;
    let store = format!("sqlite://{}", dir.path().join("fanout.db").display());
    let keepalive = ["--ws-keepalive", KEEPALIVE];
    let replica = Replica::start(&store, "fanout", &keepalive).await?;
    let talks = talks(&replica).await?;
    let mut service = measure(&Target::Service(&replica), &talks, options).await?;
    replica.stop().await?;
    let broadcaster = Broadcaster::start().await?;
    let mut bare = measure(&Target::Bare(&broadcaster), &talks, options).await?;
    drop(broadcaster);
    let mut floor = measure_floor(talks.len(), options).await?;

    let mut table = Table::new(
        "Fan-out: subscribers on one replica (SQLite), likes on every talk every second; \
         the bare broadcaster and the loopback floor in the same run",
        &[
            "measure",
            "service",
            "bare broadcaster",
            "loopback TCP floor",
        ],
    );
    let mut row = |name: &str, figure: &dyn Fn(&mut Measured) -> String| {
        table.row(vec![
            name.into(),
            figure(&mut service),
            figure(&mut bare),
            figure(&mut floor),
        ]);
    };
    let or_dash = |figure: Option<String>| figure.unwrap_or_else(|| "—".into());
    row(
        "subscribers (one WebSocket each; the floor's a TCP connection)",
        &|_| count(options.subscribers as f64),
    );
    row("talks", &|_| talks.len().to_string());
    row("connected and subscribed in", &|m| {
        format!("{:.1} s", m.opened_in.as_secs_f64())
    });
    row("RSS before / with all idle", &|m| {
        or_dash(
            m.memory
                .as_ref()
                .map(|memory| format!("{} / {}", mib(memory.before), mib(memory.idle))),
        )
    });
    row(
        "RSS per idle subscriber (target: WebSocket ≤ 4 KiB, SSE ≤ 6 KiB)",
        &|m| {
            or_dash(m.memory.as_ref().map(|memory| {
                let grown = memory.idle.saturating_sub(memory.before) as f64;
                format!("{:.1} KiB", grown / options.subscribers as f64)
            }))
        },
    );
    row("likes sent", &|m| {
        or_dash(m.sent.map(|sent| count(sent as f64)))
    });
    row("events received", &|m| count(m.events as f64));
    row("publish → receive p50", &|m| {
        ms(percentile(&mut m.latencies, 50.0))
    });
    row("publish → receive p90", &|m| {
        ms(percentile(&mut m.latencies, 90.0))
    });
    row("publish → receive p99 (target ≤ 100 ms)", &|m| {
        ms(percentile(&mut m.latencies, 99.0))
    });
    row("publish → receive max", &|m| {
        ms(percentile(&mut m.latencies, 100.0))
    });
    let per_event =
        |cpu: f64, m: &Measured| format!("{:.1} µs", cpu * 1e6 / m.events.max(1) as f64);
    row("server CPU per event received", &|m| {
        per_event(m.server_cpu, m)
    });
    row("harness CPU per event received", &|m| {
        per_event(m.harness_cpu, m)
    });
    row("subscribers whose deltas do not add up", &|m| {
        or_dash(m.wrong.map(|wrong| count(wrong as f64)))
    });
    row("peak RSS", &|m| {
        or_dash(m.memory.as_ref().map(|memory| mib(memory.peak)))
    });
    table.print();
    for (name, m) in [
        ("service", &service),
        ("bare broadcaster", &bare),
        ("loopback floor", &floor),
    ] {
        if !m.converged {
            bail!("{name}: not every subscriber received everything sent");
        }
        if let Some(wrong @ 1..) = m.wrong {
            bail!("{name}: {wrong} subscribers missed or double-counted likes");
        }
    }
    Ok(())
}

/// The service's subscribers over server-sent events against its
/// WebSocket subscribers, each on a fresh replica, in the same run.
pub async fn run_sse(options: &Options) -> anyhow::Result<()> {
    let limit = open_files_limit();
    let options = &Options {
        subscribers: options.subscribers.min(limit.saturating_sub(200) as usize),
        ..*options
    };
    let dir = tempfile::tempdir()?;
    let mut measured = Vec::new();
    for (name, sse) in [("ws", false), ("sse", true)] {
        let store = format!(
            "sqlite://{}",
            dir.path().join(format!("{name}.db")).display()
        );
        let replica = Replica::start(&store, "fanout", &[]).await?;
        let talks = talks(&replica).await?;
        let target = match sse {
            true => Target::ServiceSse(&replica),
            false => Target::Service(&replica),
        };
        measured.push(measure(&target, &talks, options).await?);
        replica.stop().await?;
    }
    let (mut ws, mut sse) = (measured.remove(0), measured.remove(0));
    let mut table = Table::new(
        "Fan-out over server-sent events against WebSockets: subscribers on one replica \
         (SQLite), likes on every talk every second, in the same run",
        &["measure", "WebSocket", "SSE"],
    );
    let per_idle = |m: &Measured| {
        m.memory.as_ref().map_or(0.0, |memory| {
            memory.idle.saturating_sub(memory.before) as f64 / options.subscribers as f64
        })
    };
    let mut row = |name: &str, figure: &dyn Fn(&mut Measured) -> String| {
        let cells = vec![name.into(), figure(&mut ws), figure(&mut sse)];
        table.row(cells);
    };
    row("subscribers", &|_| count(options.subscribers as f64));
    row("connected and subscribed in", &|m| {
        format!("{:.1} s", m.opened_in.as_secs_f64())
    });
    row("RSS per idle subscriber", &|m| {
        format!("{:.1} KiB", per_idle(m))
    });
    row("events received", &|m| count(m.events as f64));
    row("publish → receive p50", &|m| {
        ms(percentile(&mut m.latencies, 50.0))
    });
    row("publish → receive p99", &|m| {
        ms(percentile(&mut m.latencies, 99.0))
    });
    row("server CPU per event received", &|m| {
        format!("{:.1} µs", m.server_cpu * 1e6 / m.events.max(1) as f64)
    });
    row("subscribers whose deltas do not add up", &|m| {
        count(m.wrong.unwrap_or_default() as f64)
    });
    let ratio = percentile(&mut sse.latencies, 99.0) / percentile(&mut ws.latencies, 99.0);
    table.row(vec![
        "p99 SSE ÷ p99 WebSocket".into(),
        "1".into(),
        format!("{ratio:.2}"),
    ]);
    table.print();
    for (name, m) in [("WebSocket", &ws), ("SSE", &sse)] {
        if !m.converged {
            bail!("{name}: not every subscriber received everything sent");
        }
        if let Some(wrong @ 1..) = m.wrong {
            bail!("{name}: {wrong} subscribers missed or double-counted likes");
        }
    }
    Ok(())
}

/// Opens every subscriber on `target`, waits until they are all registered
/// and idle, then grows every talk's total each second and collects what
/// each subscriber saw.
async fn measure(
    target: &Target<'_>,
    talks: &[i64],
    options: &Options,
) -> anyhow::Result<Measured> {
    let before_kib = target.rss_kib();
    let stop = CancellationToken::new();
    let last_totals: Arc<Vec<AtomicU64>> = Arc::new(
        (0..options.subscribers)
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    let opening = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::with_capacity(options.subscribers);
    for i in 0..options.subscribers {
        let talk = talks[i % talks.len()];
        let ((sse, url), stop, gate, last) = (
            target.url(),
            stop.clone(),
            gate.clone(),
            last_totals.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await?;
            let mut subscriber = subscribe(sse, &url, talk).await?;
            drop(permit);
            listen(&mut subscriber, &stop, &last[i]).await
        }));
    }
    let subscribed = wait_for(Duration::from_secs(300), || async {
        Ok(target.subscribers().await? as usize >= options.subscribers)
    })
    .await?;
    if !subscribed {
        bail!("not every subscription was registered");
    }
    let opened_in = opening.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_kib = target.rss_kib();

    let cpu_before = (target.cpu_seconds(), cpu_seconds(std::process::id()));
    let sent = target.drive(talks, options).await?;
    let converged = wait_for(Duration::from_secs(20), || async {
        Ok((0..options.subscribers)
            .all(|i| last_totals[i].load(Ordering::Relaxed) == sent[i % talks.len()]))
    })
    .await?;
    let server_cpu = target.cpu_seconds() - cpu_before.0;
    let harness_cpu = cpu_seconds(std::process::id()) - cpu_before.1;
    let peak_kib = target.peak_rss_kib();
    stop.cancel();
    let mut seen = Vec::with_capacity(tasks.len());
    for task in tasks {
        seen.push(task.await??);
    }
    let wrong = seen
        .iter()
        .enumerate()
        .filter(|(i, s)| s.likes != sent[i % talks.len()] || s.broken > 0)
        .count();
    Ok(Measured {
        opened_in,
        memory: Some(Memory {
            before: before_kib,
            idle: idle_kib,
            peak: peak_kib,
        }),
        sent: Some(sent.iter().sum()),
        events: seen.iter().map(|s| s.events).sum(),
        latencies: seen.into_iter().flat_map(|s| s.latencies).collect(),
        wrong: Some(wrong),
        converged,
        server_cpu,
        harness_cpu,
    })
}

/// The same bursts as raw bytes over loopback TCP: one message per
/// subscriber per second, stamped when its burst starts.
async fn measure_floor(talks: usize, options: &Options) -> anyhow::Result<Measured> {
    let opening = Instant::now();
    let (mut writer, streams) =
        Loopback::start(options.subscribers, talks, options.seconds).await?;
    let opened_in = opening.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu_before = (writer.cpu_seconds(), cpu_seconds(std::process::id()));
    writer.go().await?;
    let seconds = options.seconds;
    let within = Duration::from_secs(seconds + 20);
    let received =
        tokio::task::spawn_blocking(move || loopback::read(streams, seconds, within)).await??;
    Ok(Measured {
        opened_in,
        memory: None,
        sent: None,
        events: received.latencies.len() as u64,
        latencies: received.latencies,
        wrong: None,
        converged: received.short == 0,
        server_cpu: writer.cpu_seconds() - cpu_before.0,
        harness_cpu: cpu_seconds(std::process::id()) - cpu_before.1,
    })
}
/// Reads events until `stop`, keeping the last total in `last`.
async fn listen(
    socket: &mut Subscriber,
    stop: &CancellationToken,
    last: &AtomicU64,
) -> anyhow::Result<Seen> {
    let mut seen = Seen::default();
    let mut previous: Option<u64> = None;
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => return Ok(seen),
            message = socket.next_json() => message?.context("the replica closed a subscription")?,
        };
        let arrived = chrono::Utc::now();
        let event = &message["payload"]["data"]["likeAdded"];
        let (Some(likes), Some(total), Some(at)) = (
            event["likes"].as_u64(),
            event["total"].as_u64(),
            event["publishedAt"].as_str(),
        ) else {
            bail!("unexpected message {message}");
        };
        let published = chrono::DateTime::parse_from_rfc3339(at)?;
        seen.latencies
            .push((arrived - published.to_utc()).as_seconds_f64());
        seen.events += 1;
        seen.likes += likes;
        if previous.is_some_and(|p| p + likes != total) || (previous.is_none() && likes != total) {
            seen.broken += 1;
        }
        previous = Some(total);
        last.store(total, Ordering::Relaxed);
    }
}

/// `likes_per_talk` likes on every talk every second for `seconds`;
/// returns how many each talk got.
async fn send_likes(
    replica: &Replica,
    talks: &[i64],
    options: &Options,
) -> anyhow::Result<Vec<u64>> {
    let client = reqwest::Client::new();
    let mut sent = vec![0u64; talks.len()];
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    for second in 0..options.seconds {
        ticks.tick().await;
        let mut requests = Vec::new();
        for (t, talk) in talks.iter().enumerate() {
            for n in 0..options.likes_per_talk {
                let body = crate::support::like_body(*talk as i32, &format!("fan-{second}-{n}"));
                requests.push(
                    client
                        .post(replica.graphql())
                        .header("content-type", "application/json")
                        .body(body)
                        .send(),
                );
                sent[t] += 1;
            }
        }
        for answer in futures_util::future::join_all(requests).await {
            let text = answer?.text().await?;
            if text.contains("\"errors\"") {
                bail!("a like was refused: {text}");
            }
        }
    }
    Ok(sent)
}

/// This process's soft limit on open files.
fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(0)
}
