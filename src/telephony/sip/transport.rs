//! SIP over UDP and TCP: reads datagrams and streams, frames messages and
//! hands each to the endpoint. Nothing here knows what a method means.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, Semaphore};
use tracing::{debug, info, warn};

use super::endpoint::{Endpoint, Reply};
use super::message::{frame, Frame};

/// The largest datagram read; SIP over UDP should stay far below it.
const MAX_DATAGRAM: usize = 65_535;

/// A TCP connection that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(300);

/// TCP connections open at once; a PBX needs a handful.
const MAX_CONNECTIONS: usize = 256;

/// Serves SIP on sockets the caller bound, until `shutdown` completes.
pub async fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    endpoint: Arc<Endpoint>,
    shutdown: impl Future<Output = ()>,
) {
    let udp = Arc::new(udp);
    if let (Ok(u), Ok(t)) = (udp.local_addr(), tcp.local_addr()) {
        info!(udp = %u, tcp = %t, "sip listening");
    }
    let sweeper = tokio::spawn(sweep(endpoint.clone()));
    tokio::select! {
        _ = serve_udp(udp, endpoint.clone()) => {}
        _ = serve_tcp(tcp, endpoint) => {}
        _ = shutdown => {}
    }
    sweeper.abort();
}

async fn serve_udp(socket: Arc<UdpSocket>, endpoint: Arc<Endpoint>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                // ICMP errors from earlier sends surface here on some systems;
                // they concern one peer, not the socket.
                debug!(error = %e, "sip udp receive failed");
                continue;
            }
        };
        let datagram = &buf[..len];

        // A datagram of only CRLFs is a keep-alive (RFC 5626 §4.4.1).
        if datagram.iter().all(|b| *b == b'\r' || *b == b'\n') {
            continue;
        }
        let reply = Reply::Udp(socket.clone(), peer);
        endpoint.handle(datagram, peer, &reply).await;
    }
}

async fn serve_tcp(listener: TcpListener, endpoint: Arc<Endpoint>) {
    let open = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // Only trusted peers may hold a connection, and only so many
                // at once, so that no one can use up the file descriptors
                // the web side and the database need too.
                if !endpoint.is_trusted(peer) {
                    endpoint.counters.refused.fetch_add(1, Ordering::Relaxed);
                    debug!(%peer, "sip tcp connection from an untrusted peer refused");
                    continue;
                }
                let Ok(permit) = open.clone().try_acquire_owned() else {
                    warn!(%peer, limit = MAX_CONNECTIONS, "sip tcp connection refused, too many open");
                    continue;
                };
                let endpoint = endpoint.clone();
                tokio::spawn(async move {
                    connection(stream, peer, endpoint).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // Usually out of file descriptors: wait rather than spin.
                warn!(error = %e, "sip tcp accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One TCP connection: messages framed by Content-Length, answers written
/// back in order by a writer task.
async fn connection(stream: TcpStream, peer: SocketAddr, endpoint: Arc<Endpoint>) {
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writing = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });

    let reply = Reply::Tcp(tx);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    'read: loop {
        let read = tokio::time::timeout(IDLE, reader.read(&mut chunk)).await;
        let n = match read {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                debug!(%peer, error = %e, "sip tcp read failed");
                break;
            }
        };
        buf.extend_from_slice(&chunk[..n]);

        // Take every whole message the buffer holds.
        loop {
            match frame(&buf) {
                Frame::Incomplete => break,
                Frame::KeepAlive(skip) => drop(buf.drain(..skip)),
                Frame::Message(len) => {
                    endpoint.handle(&buf[..len], peer, &reply).await;
                    buf.drain(..len);
                }
                Frame::Invalid(e) => {
                    // The stream cannot be re-synchronised: say why and close.
                    debug!(%peer, error = %e, "sip tcp stream unreadable, closing");
                    endpoint.handle_unframed(&buf, &e, peer, &reply).await;
                    break 'read;
                }
            }
        }
    }

    // Transactions still hold senders for this connection's writer; once the
    // peer is gone, send what is queued and close.
    drop(reply);
    let mut writing = writing;
    if tokio::time::timeout(Duration::from_secs(1), &mut writing)
        .await
        .is_err()
    {
        writing.abort();
    }
}

async fn sweep(endpoint: Arc<Endpoint>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        endpoint.sweep(Instant::now());
    }
}
