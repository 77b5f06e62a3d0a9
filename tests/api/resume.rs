//! Never miss a like: `likeAdded(sessionId, since)` resumes after a dropped
//! socket, and `watching` counts the audience. Over raw graphql-transport-ws
//! sockets, on one replica here and on several on the emulator.

use crate::emulator;
use crate::helpers::ws::Ws;
use crate::helpers::{ServerProcess, assert_acknowledged, eventually, like, spawn_app};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const LIKE_ADDED: &str = "subscription($s: Int!, $since: Int) {
  likeAdded(sessionId: $s, since: $since) { sessionId likes total watching }
}";

/// One graphql-transport-ws connection, acknowledged.
struct Live {
    ws: Ws,
}

/// A `next` event's `likes` and `total`.
type Heard = (i64, i64);

impl Live {
    async fn open(ws_url: &str) -> Self {
        let mut request = ws_url.into_client_request().unwrap();
        let protocol = "graphql-transport-ws".parse().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol);
        let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut live = Self { ws };
        live.send(json!({ "type": "connection_init" })).await;
        assert_eq!(live.message().await["type"], "connection_ack");
        live
    }

    async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    /// Subscribes `id` to `likeAdded` on `session`, resuming from `since`.
    async fn subscribe(&mut self, id: &str, session: i32, since: Option<i64>) {
        let variables = json!({ "s": session, "since": since });
        self.subscribe_with(id, LIKE_ADDED, variables).await;
    }

    /// Subscribes `id` with this document and variables.
    async fn subscribe_with(&mut self, id: &str, query: &str, variables: Value) {
        let payload = json!({ "query": query, "variables": variables });
        let message = json!({ "id": id, "type": "subscribe", "payload": payload });
        self.send(message).await;
    }

    /// The next message, skipping pings; panics after 10 s.
    async fn message(&mut self) -> Value {
        self.message_within(Duration::from_secs(10))
            .await
            .expect("a message within 10 s")
    }

    /// The next message within `within`, if any.
    async fn message_within(&mut self, within: Duration) -> Option<Value> {
        let read = async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(text))) => {
                        return serde_json::from_str::<Value>(&text).unwrap();
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    other => panic!("the socket ended: {other:?}"),
                }
            }
        };
        tokio::time::timeout(within, read).await.ok()
    }

    /// The next event's fields.
    async fn event(&mut self) -> Value {
        let message = self.message().await;
        assert_eq!(message["type"], "next", "{message}");
        message["payload"]["data"]["likeAdded"].clone()
    }

    /// The next event's `likes` and `total`.
    async fn heard(&mut self) -> Heard {
        let event = self.event().await;
        (
            event["likes"].as_i64().unwrap(),
            event["total"].as_i64().unwrap(),
        )
    }

    /// Events until their likes add up to `likes`; returns the last total.
    async fn hear(&mut self, likes: i64) -> i64 {
        let mut heard = 0;
        let mut total = -1;
        while heard < likes {
            let (more, now) = self.heard().await;
            heard += more;
            total = now;
        }
        assert_eq!(heard, likes, "the events' likes overshot");
        total
    }

    /// Events until one says `watching` is `want`; panics after 10 s.
    async fn until_watching(&mut self, want: i64) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = self.message_within(left).await;
            let message = message.unwrap_or_else(|| panic!("watching never became {want}"));
            let event = &message["payload"]["data"]["likeAdded"];
            if event["watching"] == want {
                return event.clone();
            }
        }
    }

    async fn drop_socket(self) {
        drop(self.ws);
    }
}

/// `count` likes of talk `session` through `url`, each acknowledged.
async fn likes(client: &reqwest::Client, url: &str, session: i32, tag: &str, count: usize) {
    for n in 0..count {
        let liker = format!("{tag}-{n}");
        assert_acknowledged(&like(client, url, session, &liker, Some(&liker)).await);
    }
}

/// The talk's total as `url`'s replica publishes it.
async fn liked_at(client: &reqwest::Client, url: &str, session: i32) -> i64 {
    crate::helpers::liked(client, url, session).await
}

/// The talk's audience as `url`'s replica publishes it.
async fn watching_at(client: &reqwest::Client, url: &str, session: i32) -> i64 {
    let query = "query($s: Int!) { session(sessionId: $s) { watching } }";
    let answer = crate::helpers::post_graphql(client, url, query, json!({ "s": session })).await;
    answer["data"]["session"]["watching"]
        .as_i64()
        .unwrap_or_else(|| panic!("no watching in {answer}"))
}

#[tokio::test]
async fn a_resubscription_after_a_dropped_socket_hears_every_like_it_missed() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let url = app.url();

    let mut live = Live::open(&app.ws_url()).await;
    live.subscribe("1", 1, Some(0)).await;
    assert_eq!(live.heard().await, (0, 0), "the first event comes at once");
    likes(&client, &url, 1, "before", 3).await;
    assert_eq!(live.hear(3).await, 3);
    live.drop_socket().await;

    // N likes from elsewhere while the socket is down.
    const N: i64 = 7;
    likes(&client, &url, 1, "away", N as usize).await;
    let total = eventually(Duration::from_secs(5), 3 + N, || liked_at(&client, &url, 1)).await;
    assert_eq!(total, 3 + N);

    // The same variables again (a client that shows `total`): the current
    // total at once, before any new like.
    let mut again = Live::open(&app.ws_url()).await;
    again.subscribe("1", 1, Some(0)).await;
    assert_eq!(again.heard().await, (3 + N, 3 + N));
    // The last total seen: the deltas add up across the gap.
    let mut summing = Live::open(&app.ws_url()).await;
    summing.subscribe("1", 1, Some(3)).await;
    assert_eq!(summing.heard().await, (N, 3 + N));
    likes(&client, &url, 1, "after", 2).await;
    assert_eq!(summing.hear(2).await, 3 + N + 2);
    assert_eq!(again.hear(2).await, 3 + N + 2);

    // An old client's document: nothing comes until the next like.
    let mut old = Live::open(&app.ws_url()).await;
    let before = "subscription($s: Int!) { likeAdded(sessionId: $s) { likes total } }";
    old.subscribe_with("1", before, json!({ "s": 1 })).await;
    let quiet = old.message_within(Duration::from_millis(2500)).await;
    assert_eq!(quiet, None, "an old client's first event waits for a like");
    likes(&client, &url, 1, "last", 1).await;
    assert_eq!(old.heard().await, (1, 3 + N + 3));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_negative_since_is_refused_with_a_code_and_no_event() {
    let app = spawn_app().await;
    let mut live = Live::open(&app.ws_url()).await;
    live.subscribe("bad", 1, Some(-1)).await;
    let refused = live.message().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "bad");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    assert_eq!(live.message_within(Duration::from_millis(1500)).await, None);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_since_ahead_of_this_replica_waits_until_its_total_gets_there() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let mut live = Live::open(&app.ws_url()).await;
    live.subscribe("1", 2, Some(5)).await;
    assert_eq!(live.message_within(Duration::from_millis(2500)).await, None);
    likes(&client, &app.url(), 2, "catch-up", 6).await;
    // Whether the 6 likes are read at once or in parts, the events start at
    // a total of 5 or more and add up to the one like past it.
    let mut heard = Vec::new();
    while heard.iter().map(|(likes, _)| likes).sum::<i64>() < 1 {
        heard.push(live.heard().await);
    }
    assert!(heard.iter().all(|(_, total)| *total >= 5), "{heard:?}");
    assert_eq!(heard.last().unwrap().1, 6, "{heard:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_audience_counts_subscriptions_and_drops_as_they_leave() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let url = app.url();
    assert_eq!(watching_at(&client, &url, 2).await, 0);

    let mut watcher = Live::open(&app.ws_url()).await;
    watcher.subscribe("w", 2, Some(0)).await;
    let mut two = Live::open(&app.ws_url()).await;
    two.subscribe("a", 2, None).await;
    two.subscribe("b", 2, None).await;
    // A subscription selecting `watching` hears the audience change, with
    // no likes.
    let event = watcher.until_watching(3).await;
    assert_eq!((&event["likes"], &event["total"]), (&json!(0), &json!(0)));
    assert_eq!(watching_at(&client, &url, 2).await, 3);
    assert_eq!(watching_at(&client, &url, 1).await, 0);

    two.drop_socket().await;
    watcher.until_watching(1).await;
    let left = eventually(Duration::from_secs(5), 1, || watching_at(&client, &url, 2)).await;
    assert_eq!(left, 1);
    app.stop().await.unwrap();
}

/// Three replicas on one emulator database, each with known subscribers.
#[tokio::test]
async fn the_audience_and_resumes_span_replicas_on_spanner() {
    let database = emulator::database().await;
    let store = format!("spanner://{database}");
    // A short window, so that a killed replica's audience leaves it soon.
    let flags = ["--observe-window", "4s"];
    let mut replicas = Vec::new();
    for id in ["audience-a", "audience-b", "audience-c"] {
        replicas.push(ServerProcess::start_on(&store, id, &flags).await);
    }
    let client = reqwest::Client::new();

    // 1, 2 and 3 subscribers of talk 3 on the three replicas.
    let mut sockets = Vec::new();
    for (n, replica) in replicas.iter().enumerate() {
        let mut live = Live::open(&replica.ws_url).await;
        for k in 0..=n {
            live.subscribe(&format!("s{k}"), 3, None).await;
        }
        sockets.push(live);
    }
    for replica in &replicas {
        let seen = eventually(Duration::from_secs(10), 6, || {
            watching_at(&client, &replica.url, 3)
        })
        .await;
        assert_eq!(seen, 6, "talk 3's audience as {} sees it", replica.url);
    }

    // Resume across replicas: likes through A while the socket on B is
    // down, then a resubscription that lands on C.
    let mut on_b = Live::open(&replicas[1].ws_url).await;
    on_b.subscribe("r", 4, Some(0)).await;
    assert_eq!(on_b.heard().await, (0, 0));
    likes(&client, &replicas[0].url, 4, "a", 2).await;
    assert_eq!(on_b.hear(2).await, 2);
    on_b.drop_socket().await;
    const N: i64 = 5;
    likes(&client, &replicas[0].url, 4, "gap", N as usize).await;
    let total = eventually(Duration::from_secs(10), 2 + N, || {
        liked_at(&client, &replicas[2].url, 4)
    })
    .await;
    assert_eq!(total, 2 + N);
    let mut on_c = Live::open(&replicas[2].ws_url).await;
    on_c.subscribe("r", 4, Some(2)).await;
    assert_eq!(on_c.heard().await, (N, 2 + N));
    let mut shows_total = Live::open(&replicas[2].ws_url).await;
    shows_total.subscribe("r", 4, Some(0)).await;
    assert_eq!(shows_total.heard().await, (2 + N, 2 + N));
    drop((on_c, shows_total));

    // Subscribers leave replica B: 6 - 2. Replica C is killed outright: its
    // 3 leave with the window. Replica A stops cleanly: its 1 leaves at once.
    let mut sockets = sockets.into_iter();
    let (on_a, on_b, on_c) = (
        sockets.next().unwrap(),
        sockets.next().unwrap(),
        sockets.next().unwrap(),
    );
    on_b.drop_socket().await;
    let seen = eventually(Duration::from_secs(10), 4, || {
        watching_at(&client, &replicas[0].url, 3)
    })
    .await;
    assert_eq!(seen, 4, "B's two subscribers left");
    let mut replicas = replicas.into_iter();
    let (a, b, c) = (
        replicas.next().unwrap(),
        replicas.next().unwrap(),
        replicas.next().unwrap(),
    );
    assert!(c.signal("KILL").await.code().is_none());
    drop(on_c);
    let seen = eventually(Duration::from_secs(10), 1, || {
        watching_at(&client, &b.url, 3)
    })
    .await;
    assert_eq!(
        seen, 1,
        "the killed replica's audience left with the window"
    );
    assert!(a.terminate().await.success());
    drop(on_a);
    let seen = eventually(Duration::from_secs(10), 0, || {
        watching_at(&client, &b.url, 3)
    })
    .await;
    assert_eq!(seen, 0, "a replica that stops reports no audience");
    assert!(b.terminate().await.success());
}
