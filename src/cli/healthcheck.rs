//! `callpop healthcheck`: asks the daemon's `/healthz` over plain HTTP and
//! exits 0 when it answers 200, for service managers and scripts.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn check(addr: SocketAddr) -> anyhow::Result<ExitCode> {
    let asked = tokio::time::timeout(Duration::from_secs(5), ask(addr)).await;
    match asked {
        Ok(Ok(true)) => {
            println!("callpop at {addr} is up");
            Ok(ExitCode::SUCCESS)
        }
        Ok(Ok(false)) => anyhow::bail!("callpop at {addr} answered, but not with 200"),
        Ok(Err(e)) => anyhow::bail!("callpop at {addr} is not answering: {e}"),
        Err(_) => anyhow::bail!("callpop at {addr} did not answer within 5 s"),
    }
}

async fn ask(addr: SocketAddr) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer.starts_with(b"HTTP/1.1 200"))
}
