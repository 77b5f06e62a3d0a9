//! The fan-out baseline: the least a WebSocket server can do to deliver the
//! same events. This bench binary re-run as `baseline-broadcast ADDR`
//! accepts `graphql-transport-ws` connections, acknowledges them, and on a
//! subscribe puts the connection on its talk's broadcast channel. After
//! `POST /start`, every second it grows each talk's total, writes the
//! `next` message once per talk and hands the same bytes to every
//! subscriber of that talk. No GraphQL, no store, no observer.

use anyhow::{Context, bail};
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Json, State};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::broadcast;

/// Read buffer per connection, as the service's. The library's default,
/// 128 KiB, is zero-filled before every read attempt, and a connection
/// attempts one each time it wakes for an event: with it, the broadcaster
/// spent more time clearing buffers than writing events.
const READ_BUFFER_BYTES: usize = 512;

/// A running broadcaster process.
pub struct Broadcaster {
    child: tokio::process::Child,
    base: String,
}

impl Broadcaster {
    pub async fn start() -> anyhow::Result<Self> {
        let port = crate::support::free_port();
        let child = Command::new(std::env::current_exe()?)
            .args(["baseline-broadcast", &format!("127.0.0.1:{port}")])
            .kill_on_drop(true)
            .spawn()?;
        let broadcaster = Self {
            child,
            base: format!("127.0.0.1:{port}"),
        };
        for _ in 0..200 {
            if broadcaster.subscribers().await.is_ok() {
                return Ok(broadcaster);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the baseline broadcaster did not answer")
    }

    pub fn ws(&self) -> String {
        format!("ws://{}/graphql", self.base)
    }

    /// Connections subscribed now.
    pub async fn subscribers(&self) -> anyhow::Result<u64> {
        let text = reqwest::get(format!("http://{}/subscribers", self.base))
            .await?
            .text()
            .await?;
        text.trim()
            .parse()
            .context("the broadcaster's subscriber count")
    }

    /// Grows every talk's total by `likes` each second, `seconds` times.
    pub async fn tick(&self, seconds: u64, likes: u64) -> anyhow::Result<()> {
        reqwest::Client::new()
            .post(format!("http://{}/start", self.base))
            .json(&serde_json::json!({"seconds": seconds, "likes": likes}))
            .send()
            .await?
            .error_for_status()?;
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        Ok(())
    }

    pub fn rss_kib(&self) -> u64 {
        crate::support::status_kib(self.child.id().unwrap_or(0), "VmRSS:")
    }

    pub fn peak_rss_kib(&self) -> u64 {
        crate::support::status_kib(self.child.id().unwrap_or(0), "VmHWM:")
    }

    pub fn cpu_seconds(&self) -> f64 {
        crate::support::cpu_seconds(self.child.id().unwrap_or(0))
    }
}

/// Per talk, its subscribers' channel; and how many are subscribed.
#[derive(Default)]
struct Talks {
    channels: Mutex<HashMap<i64, broadcast::Sender<Utf8Bytes>>>,
    subscribers: AtomicU64,
}

impl Talks {
    fn channel(&self, talk: i64) -> broadcast::Sender<Utf8Bytes> {
        self.channels
            .lock()
            .expect("talks lock")
            .entry(talk)
            .or_insert_with(|| broadcast::channel(16).0)
            .clone()
    }
}

#[derive(serde::Deserialize)]
struct Start {
    seconds: u64,
    likes: u64,
}

pub async fn serve(listen: &str) -> anyhow::Result<()> {
    let talks = Arc::new(Talks::default());
    let app = axum::Router::new()
        .route(
            "/graphql",
            get(
                |State(talks): State<Arc<Talks>>, upgrade: WebSocketUpgrade| async move {
                    upgrade
                        .protocols(["graphql-transport-ws"])
                        .read_buffer_size(READ_BUFFER_BYTES)
                        .on_upgrade(move |socket| connection(socket, talks))
                },
            ),
        )
        .route(
            "/subscribers",
            get(|State(talks): State<Arc<Talks>>| async move {
                talks.subscribers.load(Ordering::Relaxed).to_string()
            }),
        )
        .route(
            "/start",
            post(
                |State(talks): State<Arc<Talks>>, Json(start): Json<Start>| async move {
                    tokio::spawn(tick(talks, start));
                },
            ),
        )
        .with_state(talks);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// Every second, each talk's `next` message, written once.
async fn tick(talks: Arc<Talks>, start: Start) {
    let mut totals: HashMap<i64, u64> = HashMap::new();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    for _ in 0..start.seconds {
        ticks.tick().await;
        let channels: Vec<(i64, broadcast::Sender<Utf8Bytes>)> = talks
            .channels
            .lock()
            .expect("talks lock")
            .iter()
            .map(|(talk, sender)| (*talk, sender.clone()))
            .collect();
        for (talk, sender) in channels {
            let total = totals.entry(talk).or_default();
            *total += start.likes;
            let message = serde_json::json!({
                "id": "1",
                "type": "next",
                "payload": {"data": {"likeAdded": {
                    "likes": start.likes,
                    "total": *total,
                    "publishedAt": chrono::Utc::now()
                        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                }}},
            });
            let _ = sender.send(message.to_string().into());
        }
    }
}

/// One connection: ack, one subscription, then the talk's messages.
async fn connection(mut socket: WebSocket, talks: Arc<Talks>) {
    let mut events = None;
    while events.is_none() {
        let Some(Ok(Message::Text(text))) = socket.recv().await else {
            return;
        };
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&text) else {
            return;
        };
        match message["type"].as_str() {
            Some("connection_init") => {
                let ack = Message::Text(r#"{"type":"connection_ack"}"#.into());
                if socket.send(ack).await.is_err() {
                    return;
                }
            }
            Some("subscribe") => {
                let talk = message["payload"]["variables"]["s"].as_i64().unwrap_or(0);
                events = Some(talks.channel(talk).subscribe());
            }
            _ => {}
        }
    }
    let Some(mut events) = events else { return };
    talks.subscribers.fetch_add(1, Ordering::Relaxed);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(bytes) => {
                    if socket.send(Message::Text(bytes)).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            },
            incoming = socket.recv() => if !matches!(incoming, Some(Ok(_))) {
                break;
            },
        }
    }
    talks.subscribers.fetch_sub(1, Ordering::Relaxed);
}
