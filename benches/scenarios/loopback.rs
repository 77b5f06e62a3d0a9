//! The fan-out floor below any server: the same bursts as raw bytes over
//! loopback TCP. This bench binary re-run as `baseline-loopback ADDR …`
//! accepts the subscribers' connections and, once told to start, every
//! second stamps one message per talk and writes it to each of that talk's
//! connections from as many threads as the machine has cores: one `write`
//! per event, no runtime, no WebSocket, no JSON. The harness reads them
//! with one thread polling every socket (`mio`), one `read` per wake-up.
//! What is left is the kernel's cost of a small message over loopback and
//! of the wake-ups, which every server on this machine pays per event.

use anyhow::{Context, bail};
use std::io::{BufRead, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// One message: about the size of a `likeAdded` event's WebSocket frame.
/// It starts with its publish time, in nanoseconds since the epoch, as 20
/// digits.
const MESSAGE_BYTES: usize = 128;
const STAMP_DIGITS: usize = 20;

/// A running writer process, its connections accepted.
pub struct Loopback {
    child: tokio::process::Child,
}

impl Loopback {
    /// Starts the writer for `connections` connections on `talks` talks
    /// and `seconds` bursts, and opens the connections; returns them with
    /// the writer.
    pub async fn start(
        connections: usize,
        talks: usize,
        seconds: u64,
    ) -> anyhow::Result<(Self, Vec<TcpStream>)> {
        let address = format!("127.0.0.1:{}", crate::support::free_port());
        let child = Command::new(std::env::current_exe()?)
            .args(["baseline-loopback", &address])
            .args(["--connections", &connections.to_string()])
            .args([
                "--talks",
                &talks.to_string(),
                "--seconds",
                &seconds.to_string(),
            ])
            .stdin(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let streams = tokio::task::spawn_blocking(move || connect(&address, connections)).await??;
        Ok((Self { child }, streams))
    }

    /// Tells the writer to start its bursts.
    pub async fn go(&mut self) -> anyhow::Result<()> {
        let stdin = self.child.stdin.as_mut().context("the writer's stdin")?;
        stdin.write_all(b"start\n").await?;
        stdin.flush().await?;
        Ok(())
    }

    pub fn cpu_seconds(&self) -> f64 {
        crate::support::cpu_seconds(self.child.id().unwrap_or(0))
    }
}

/// Opens `connections` connections to `address`, in order, waiting for the
/// writer to listen.
fn connect(address: &str, connections: usize) -> anyhow::Result<Vec<TcpStream>> {
    let started = Instant::now();
    let first = loop {
        match TcpStream::connect(address) {
            Ok(stream) => break stream,
            Err(_) if started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(error) => return Err(error).context("the loopback writer did not listen"),
        }
    };
    let mut streams = vec![first];
    for _ in 1..connections {
        streams.push(TcpStream::connect(address)?);
    }
    Ok(streams)
}

/// What the reader saw.
pub struct Received {
    /// Seconds from each message's stamp to its arrival.
    pub latencies: Vec<f64>,
    /// Connections that did not get `expected` messages in time.
    pub short: usize,
}

/// Reads every connection until each has had `expected` messages or
/// `within` has passed.
pub fn read(streams: Vec<TcpStream>, expected: u64, within: Duration) -> anyhow::Result<Received> {
    let mut poll = mio::Poll::new()?;
    let mut sockets = Vec::with_capacity(streams.len());
    for (i, stream) in streams.into_iter().enumerate() {
        stream.set_nonblocking(true)?;
        let mut socket = mio::net::TcpStream::from_std(stream);
        poll.registry()
            .register(&mut socket, mio::Token(i), mio::Interest::READABLE)?;
        sockets.push(socket);
    }
    // Bytes of a message split across reads, per connection (rarely any).
    let mut partial: Vec<Vec<u8>> = vec![Vec::new(); sockets.len()];
    let mut received = vec![0u64; sockets.len()];
    let mut remaining = sockets.len() as u64 * expected;
    let mut latencies = Vec::with_capacity(remaining as usize);
    let mut events = mio::Events::with_capacity(1024);
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + within;
    while remaining > 0 && Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for event in &events {
            let i = event.token().0;
            // Edge-triggered: read until the socket is empty. A read that
            // leaves room in the buffer has emptied it, and whatever
            // arrives later raises a new event: one `read` per wake-up.
            loop {
                let n = match sockets[i].read(&mut buffer) {
                    Ok(0) => bail!("the loopback writer closed a connection"),
                    Ok(n) => n,
                    Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                    Err(error) => return Err(error.into()),
                };
                let arrived = now_nanos();
                let bytes = &mut partial[i];
                bytes.extend_from_slice(&buffer[..n]);
                let whole = bytes.len() / MESSAGE_BYTES * MESSAGE_BYTES;
                for message in bytes[..whole].chunks_exact(MESSAGE_BYTES) {
                    let stamp: u128 = std::str::from_utf8(&message[..STAMP_DIGITS])?.parse()?;
                    latencies.push(arrived.saturating_sub(stamp) as f64 / 1e9);
                    received[i] += 1;
                    remaining = remaining.saturating_sub(1);
                }
                bytes.drain(..whole);
                if n < buffer.len() {
                    break;
                }
            }
        }
    }
    Ok(Received {
        latencies,
        short: received.iter().filter(|&&n| n < expected).count(),
    })
}

/// The writer process: `baseline-loopback ADDR --connections N --talks T
/// --seconds S`.
pub fn serve(listen: &str, connections: usize, talks: usize, seconds: u64) -> anyhow::Result<()> {
    // std listens with a backlog of 128: the harness connects faster than
    // that drains, and every overflow costs a connect a 1 s SYN retry.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(listen.parse()?)?;
    let listener = socket.listen(4096)?.into_std()?;
    listener.set_nonblocking(false)?;
    let mut sockets = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (socket, _) = listener.accept()?;
        socket.set_nodelay(true)?;
        sockets.push(socket);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = sockets.len().div_ceil(threads).max(1);
    let mut next = Instant::now();
    for _ in 0..seconds {
        let stamp = now_nanos();
        let messages: Vec<[u8; MESSAGE_BYTES]> =
            (0..talks.max(1)).map(|_| message(stamp)).collect();
        std::thread::scope(|scope| {
            let writers: Vec<_> = sockets
                .chunks_mut(share)
                .enumerate()
                .map(|(part, chunk)| {
                    let messages = &messages;
                    scope.spawn(move || -> std::io::Result<()> {
                        for (j, socket) in chunk.iter_mut().enumerate() {
                            socket.write_all(&messages[(part * share + j) % messages.len()])?;
                        }
                        Ok(())
                    })
                })
                .collect();
            writers
                .into_iter()
                .try_for_each(|writer| writer.join().expect("a writer thread panicked"))
        })?;
        next += Duration::from_secs(1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    // Holds the connections until the harness has read and stops it.
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(())
}

/// A message stamped `nanos`, padded to `MESSAGE_BYTES`.
fn message(nanos: u128) -> [u8; MESSAGE_BYTES] {
    let mut bytes = [b' '; MESSAGE_BYTES];
    bytes[..STAMP_DIGITS].copy_from_slice(format!("{nanos:0STAMP_DIGITS$}").as_bytes());
    bytes[MESSAGE_BYTES - 1] = b'\n';
    bytes
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
