//! A TCP proxy for fault injection, put between the service and its store.
//! It forwards bytes both ways until told to `refuse` (close the listening
//! socket, so new connections are refused, and cut the open ones), `stall`
//! (keep every connection open but forward nothing: a hung store), or `cut`
//! (close the open connections once). `heal` forwards again.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    refusing: bool,
    stalled: bool,
    /// Bumped to cut every connection opened before.
    epoch: u64,
}

/// The proxy; it stops when dropped.
pub struct FaultProxy {
    pub addr: SocketAddr,
    faults: watch::Sender<Faults>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (faults, watching) = watch::channel(Faults::default());
        let task = tokio::spawn(accept_loop(listener, addr, target, watching));
        Self { addr, faults, task }
    }

    /// New connections are refused and open ones cut, until `heal`.
    pub fn refuse(&self) {
        self.faults.send_modify(|f| {
            f.refusing = true;
            f.epoch += 1;
        });
    }

    /// Connections stay open (and new ones are accepted) but no byte
    /// passes, until `heal`.
    pub fn stall(&self) {
        self.faults.send_modify(|f| f.stalled = true);
    }

    /// Closes every open connection now.
    pub fn cut(&self) {
        self.faults.send_modify(|f| f.epoch += 1);
    }

    /// Forwards again.
    pub fn heal(&self) {
        self.faults.send_modify(|f| {
            f.refusing = false;
            f.stalled = false;
        });
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    target: SocketAddr,
    mut faults: watch::Receiver<Faults>,
) {
    let mut listener = Some(listener);
    loop {
        let Some(open) = &listener else {
            // Refusing: nothing listens until healed, then bind the same port.
            if faults.wait_for(|f| !f.refusing).await.is_err() {
                return;
            }
            listener = Some(
                TcpListener::bind(addr)
                    .await
                    .expect("the proxy port is free again"),
            );
            continue;
        };
        let for_connection = faults.clone();
        tokio::select! {
            accepted = open.accept() => {
                let Ok((client, _)) = accepted else { continue };
                tokio::spawn(connection(client, target, for_connection));
            }
            changed = faults.wait_for(|f| f.refusing) => {
                if changed.is_err() {
                    return;
                }
                listener = None;
            }
        }
    }
}

async fn connection(client: TcpStream, target: SocketAddr, faults: watch::Receiver<Faults>) {
    let epoch = faults.borrow().epoch;
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Either direction ending (or a cut) drops both sockets.
    tokio::select! {
        _ = pump(client_read, server_write, faults.clone(), epoch) => {}
        _ = pump(server_read, client_write, faults, epoch) => {}
    }
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut faults: watch::Receiver<Faults>,
    epoch: u64,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        // While stalled, read nothing either: the sender's buffers fill up.
        let passing = faults.wait_for(|f| f.epoch != epoch || !f.stalled).await;
        if !passing.is_ok_and(|f| f.epoch == epoch) {
            return;
        }
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = faults.wait_for(|f| f.epoch != epoch || f.stalled) => continue,
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
