//! A TCP relay in front of a backend whose open connections can be frozen: they stay open
//! but carry nothing more either way (a backend that hangs without closing).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct TcpRelay {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    /// Connections accepted before this count are frozen.
    frozen_below: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl TcpRelay {
    /// Relays 127.0.0.1:<ephemeral> to `target`.
    pub fn start(target: SocketAddr) -> TcpRelay {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("relay runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let frozen_below = Arc::new(AtomicUsize::new(0));
        let (a, f) = (accepted.clone(), frozen_below.clone());
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let index = a.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pipe(cr, sw, index, f.clone()));
                tokio::spawn(pipe(sr, cw, index, f.clone()));
            }
        });
        TcpRelay {
            addr,
            accepted,
            frozen_below,
            _runtime: runtime,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The connections open now carry nothing more; later ones are relayed as before.
    pub fn freeze_open_connections(&self) {
        self.frozen_below.store(self.accepted(), Ordering::SeqCst);
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    index: usize,
    frozen_below: Arc<AtomicUsize>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if index < frozen_below.load(Ordering::SeqCst) {
            // Frozen: hold both halves open for ever, deliver nothing.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
