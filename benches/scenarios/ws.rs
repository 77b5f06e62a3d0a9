//! A minimal `graphql-transport-ws` client: connect, acknowledge, subscribe.

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Read buffer per connection. The library's default, 128 KiB, is
/// zero-filled before every read: with thousands of subscribers on the
/// same cores as the replica, that alone took an eighth of the machine in
/// the fan-out scenario. A message here is under 200 bytes, and the buffer
/// grows for a longer one.
const READ_BUFFER_BYTES: usize = 4096;

/// Opens a connection and waits for `connection_ack`.
pub async fn connect(url: &str) -> anyhow::Result<Socket> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false)
            .await
            .context("WebSocket handshake")?;
    send(&mut socket, json!({"type": "connection_init"})).await?;
    loop {
        let message = next_json(&mut socket).await?.context("closed before ack")?;
        if message["type"] == "connection_ack" {
            return Ok(socket);
        }
    }
}

/// Sends one protocol message.
pub async fn send(socket: &mut Socket, message: Value) -> anyhow::Result<()> {
    socket
        .send(Message::Text(message.to_string().into()))
        .await?;
    Ok(())
}

/// Starts operation `id`.
pub async fn subscribe(
    socket: &mut Socket,
    id: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<()> {
    let payload = json!({"query": query, "variables": variables});
    send(
        socket,
        json!({"id": id, "type": "subscribe", "payload": payload}),
    )
    .await
}

/// Opens a connection subscribed (as operation "1") to `likeAdded` on
/// `talk`, selecting `fields`.
pub async fn like_added(url: &str, talk: i64, fields: &str) -> anyhow::Result<Socket> {
    let mut socket = connect(url).await?;
    let query = format!("subscription($s:Int!){{likeAdded(sessionId:$s){{{fields}}}}}");
    subscribe(&mut socket, "1", &query, json!({ "s": talk })).await?;
    Ok(socket)
}

/// The next protocol message, answering pings; `None` once closed.
pub async fn next_json(socket: &mut Socket) -> anyhow::Result<Option<Value>> {
    while let Some(frame) = socket.next().await {
        match frame? {
            Message::Text(text) => {
                let message: Value = serde_json::from_str(&text)?;
                match message["type"].as_str() {
                    Some("ping") => send(socket, json!({"type": "pong"})).await?,
                    Some("error") => bail!("operation failed: {message}"),
                    _ => return Ok(Some(message)),
                }
            }
            Message::Close(_) => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}
