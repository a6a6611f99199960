//! A loopback TCP proxy in front of a service (usually the test registry): it records what
//! clients send, and can cut every connection after relaying a number of bytes back, so a
//! test sees a download interrupted mid-blob.

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Methods whose request lines [`FaultProxy::take_requests`] reports.
const HTTP_METHODS: [&str; 6] = ["GET ", "HEAD ", "PUT ", "POST ", "PATCH ", "DELETE "];

/// A running proxy; it stops accepting connections when dropped.
pub struct FaultProxy {
    addr: String,
    sent: Arc<Mutex<Vec<u8>>>,
    accept_loop: JoinHandle<()>,
}

impl FaultProxy {
    /// Relays everything both ways, recording what clients send.
    pub async fn relay(upstream: &str) -> Result<Self> {
        Self::start(upstream, None).await
    }

    /// Like [`FaultProxy::relay`], but closes each connection once it has relayed
    /// `bytes` bytes from the upstream back to the client.
    pub async fn cut_after(upstream: &str, bytes: usize) -> Result<Self> {
        Self::start(upstream, Some(bytes)).await
    }

    async fn start(upstream: &str, cut_after: Option<usize>) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the fault proxy")?;
        let addr = listener.local_addr()?.to_string();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let (upstream, log) = (upstream.to_owned(), sent.clone());
        let accept_loop = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(proxy_connection(client, server, cut_after, log.clone()));
            }
        });
        Ok(Self {
            addr,
            sent,
            accept_loop,
        })
    }

    /// `127.0.0.1:PORT`, to put where the upstream's host and port would be.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The HTTP request lines (`METHOD /v2/...`) clients sent so far; clears the record.
    pub fn take_requests(&self) -> Vec<String> {
        let data = std::mem::take(&mut *self.sent.lock().unwrap());
        String::from_utf8_lossy(&data)
            .split("\r\n")
            .filter(|l| HTTP_METHODS.iter().any(|m| l.starts_with(m)) && l.contains(" /v2/"))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

async fn proxy_connection(
    client: TcpStream,
    server: TcpStream,
    cut_after: Option<usize>,
    log: Arc<Mutex<Vec<u8>>>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 << 10];
        while let Ok(n) = client_read.read(&mut buf).await {
            if n == 0 || server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            log.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let mut relayed = 0usize;
    let mut buf = vec![0u8; 16 << 10];
    while let Ok(n) = server_read.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let n = cut_after.map_or(n, |limit| n.min(limit - relayed));
        if client_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
        relayed += n;
        if cut_after.is_some_and(|limit| relayed >= limit) {
            break;
        }
    }
    // Dropping both halves closes the connection, mid-response when cut.
    requests.abort();
}
