//! A minimal graphql-sse subscriber (distinct connections mode) over a raw
//! socket: POST the subscription, then read `next` events. Each event is
//! one chunk of the chunked body, so its `data:` line is never split by a
//! chunk's size line; those lines are skipped.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One subscription's stream.
pub struct Stream {
    socket: TcpStream,
    /// Bytes read and not yet taken as lines.
    buffer: Vec<u8>,
}

/// Opens a stream subscribed to `likeAdded` on `talk`, selecting `fields`,
/// at `url` (`http://HOST:PORT/graphql`); returns once the head is in.
pub async fn like_added(url: &str, talk: i64, fields: &str) -> anyhow::Result<Stream> {
    let address = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/graphql"))
        .context("an http://HOST:PORT/graphql URL")?;
    let mut socket = TcpStream::connect(address).await?;
    let query = format!("subscription($s:Int!){{likeAdded(sessionId:$s){{{fields}}}}}");
    let body = json!({ "query": query, "variables": { "s": talk } }).to_string();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: {address}\r\naccept: text/event-stream\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await?;
    let mut stream = Stream {
        socket,
        buffer: Vec::with_capacity(512),
    };
    let status = stream.line().await?.context("closed before the head")?;
    if !status.starts_with("HTTP/1.1 200") {
        bail!("the subscription was refused: {status}");
    }
    while !stream
        .line()
        .await?
        .context("closed in the head")?
        .is_empty()
    {}
    Ok(stream)
}

impl Stream {
    /// The next line, without its line break; `None` once closed.
    async fn line(&mut self) -> anyhow::Result<Option<String>> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let text = String::from_utf8(line)?;
                return Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()));
            }
            let mut chunk = [0u8; 4096];
            let n = self.socket.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next result, shaped as a graphql-transport-ws `next` message
    /// (`{"payload": result}`); `None` once the stream completed or closed.
    pub async fn next_json(&mut self) -> anyhow::Result<Option<Value>> {
        while let Some(line) = self.line().await? {
            if line == "event: complete" {
                return Ok(None);
            }
            if let Some(data) = line.strip_prefix("data: ") {
                let result: Value = serde_json::from_str(data)?;
                if result.get("errors").is_some() {
                    bail!("the subscription failed: {result}");
                }
                return Ok(Some(json!({ "payload": result })));
            }
        }
        Ok(None)
    }
}
