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

/// Opens a GraphQL WebSocket with these extra request headers.
pub async fn open_ws(app: &TestApp, headers: &[(&str, &str)]) -> Result<Ws, tungstenite::Error> {
    let mut request = app.ws_url().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
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
