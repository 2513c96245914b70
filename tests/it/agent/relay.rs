//! A TCP relay between the agent and the daemon. It tells when the agent's
//! stream is open (the daemon answered, so its hub has the subscription),
//! keeps what each request asked, and can cut every connection and refuse
//! new ones until it is restored: a network that drops.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::WAIT;

pub struct Relay {
    addr: SocketAddr,
    up: watch::Sender<bool>,
    /// The request heads the daemon answered, in order.
    answered: watch::Receiver<Vec<String>>,
    accept: JoinHandle<()>,
}

impl Relay {
    /// Relays 127.0.0.1 port 0 to `target`.
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, _) = watch::channel(true);
        let (answered_tx, answered) = watch::channel(Vec::new());

        let up_rx = up.subscribe();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                // While cut, a connection is closed as soon as it comes.
                if *up_rx.borrow() {
                    tokio::spawn(pipe(client, target, up_rx.clone(), answered_tx.clone()));
                }
            }
        });
        Relay {
            addr,
            up,
            answered,
            accept,
        }
    }

    /// The daemon's base URL through the relay.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Waits until the daemon answered `n` requests; their heads.
    pub async fn answered(&self, n: usize) -> Vec<String> {
        let mut answered = self.answered.clone();
        let waited = tokio::time::timeout(WAIT, answered.wait_for(|a| a.len() >= n)).await;
        let heads = self.answered.borrow().clone();
        assert!(
            waited.is_ok(),
            "expected {n} answered requests, got {heads:#?}"
        );
        heads
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// One connection: the request head and the first bytes of the answer
/// are passed on and noted, then everything both ways until either side
/// closes or the relay is cut.
async fn pipe(
    mut client: TcpStream,
    target: SocketAddr,
    mut up: watch::Receiver<bool>,
    answered: watch::Sender<Vec<String>>,
) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    let mut head = vec![0; 16 * 1024];
    let mut first = vec![0; 16 * 1024];
    let relayed = async {
        let n = client.read(&mut head).await?;
        server.write_all(&head[..n]).await?;
        let m = server.read(&mut first).await?;
        client.write_all(&first[..m]).await?;
        std::io::Result::Ok((n, m))
    };
    let n = match relayed.await {
        Ok((n, m)) if n > 0 && m > 0 => n,
        _ => return,
    };
    answered.send_modify(|a| a.push(String::from_utf8_lossy(&head[..n]).into_owned()));

    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = up.wait_for(|up| !*up) => {}
    }
}
