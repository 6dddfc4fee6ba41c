//! WebSocket throughput through a proxy (benches/ws/run.sh).
//!
//!   ws_load serve ADDR                            an echo server: every message sent back
//!   ws_load run ADDR SECONDS CONNECTIONS HOST     CONNECTIONS WebSockets to ws://ADDR/ws with
//!                                                 `Host: HOST`, each sending a 32-byte text
//!                                                 message and awaiting its echo, again and
//!                                                 again; prints `round-trips/s round-trips`
//!
//! The client retries its connections for 10 s, so it can start as the proxy does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["serve", addr] => runtime.block_on(serve(addr.parse().expect("ADDR"))),
        ["run", addr, seconds, connections, host] => {
            let (rate, total) = runtime.block_on(run(
                addr.parse().expect("ADDR"),
                Duration::from_secs(seconds.parse().expect("SECONDS")),
                connections.parse().expect("CONNECTIONS"),
                host,
            ));
            println!("{rate:.0} {total}");
        }
        _ => {
            eprintln!("usage: ws_load serve ADDR | ws_load run ADDR SECONDS CONNECTIONS HOST");
            std::process::exit(2);
        }
    }
}

async fn serve(addr: SocketAddr) {
    let listener = TcpListener::bind(addr).await.expect("bind");
    while let Ok((tcp, _)) = listener.accept().await {
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            while let Some(Ok(message)) = ws.next().await {
                if message.is_text() || message.is_binary() {
                    if ws.send(message).await.is_err() {
                        return;
                    }
                } else if message.is_close() {
                    return;
                }
            }
        });
    }
}

async fn run(addr: SocketAddr, length: Duration, connections: usize, host: &str) -> (f64, u64) {
    let mut sockets = Vec::with_capacity(connections);
    for _ in 0..connections {
        sockets.push(connect(addr, host).await);
    }
    let round_trips = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + length;
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            let counted = round_trips.clone();
            tokio::spawn(async move {
                let payload = "x".repeat(32);
                while Instant::now() < end {
                    ws.send(Message::text(payload.clone())).await.expect("send");
                    match ws.next().await {
                        Some(Ok(m)) if m.is_text() => counted.fetch_add(1, Ordering::Relaxed),
                        other => panic!("no echo: {other:?}"),
                    };
                }
                // How the close handshake ends does not count.
                if let Err(e) = ws.close(None).await {
                    eprintln!("close: {e}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a connection failed");
    }
    let total = round_trips.load(Ordering::Relaxed);
    (total as f64 / start.elapsed().as_secs_f64(), total)
}

async fn connect(addr: SocketAddr, host: &str) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let mut request = format!("ws://{host}/ws")
            .into_client_request()
            .expect("request");
        request
            .headers_mut()
            .insert("host", host.parse().expect("host"));
        let attempt = async {
            let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            tokio_tungstenite::client_async(request, tcp)
                .await
                .map(|(ws, _)| ws)
                .map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(ws) => return ws,
            Err(e) if Instant::now() > give_up => panic!("no WebSocket to {addr}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
