//! A raw GraphQL WebSocket (graphql-transport-ws) for tests that need to
//! send exactly what a client library would not.

use super::TestApp;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

/// A client's WebSocket.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a graphql-transport-ws WebSocket with these extra request headers.
pub async fn open_ws(app: &TestApp, headers: &[(&str, &str)]) -> Result<Ws, tungstenite::Error> {
    open_ws_with_protocol(app, "graphql-transport-ws", headers).await
}

/// Opens a WebSocket offering `protocol`, with these extra request headers.
pub async fn open_ws_with_protocol(
    app: &TestApp,
    protocol: &str,
    headers: &[(&str, &str)],
) -> Result<Ws, tungstenite::Error> {
    let mut request = app.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    for (name, value) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
}

/// The next text message, as JSON, skipping pings; `None` on close or end.
pub async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).ok(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(_) => return None,
            Err(_) => panic!("no message within 5 s"),
        }
    }
}

pub async fn send_json(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
}

pub async fn init(ws: &mut Ws) {
    send_json(ws, json!({ "type": "connection_init" })).await;
    assert_eq!(next_json(ws).await.unwrap()["type"], "connection_ack");
}

/// The close code and reason the server ends the connection with, reading
/// (and skipping) everything before; `None` if it ends without a close
/// frame or a code.
pub async fn close(ws: &mut Ws, within: Duration) -> Option<(u16, String)> {
    let read = async {
        while let Some(message) = ws.next().await {
            match message {
                Ok(Message::Close(frame)) => {
                    return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    };
    tokio::time::timeout(within, read)
        .await
        .expect("the server closed the connection in time")
}
