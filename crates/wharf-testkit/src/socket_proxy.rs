//! A recording proxy for the Docker socket: it forwards a unix socket to the engine's and
//! records the request line of every call. It can be cut and restored (the engine goes
//! away), stall its open connections (half-open: silent, never closed), and hold the answer
//! to a container listing for a while (a slow engine).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

pub struct SocketProxy {
    pub path: PathBuf,
    upstream: PathBuf,
    calls: Arc<Mutex<Vec<String>>>,
    cut: watch::Sender<bool>,
    /// Connections opened before the last stall go silent.
    stall_epoch: watch::Sender<u64>,
    /// How long the answer to `GET .../containers/json` is held, in milliseconds.
    listing_delay_ms: Arc<AtomicU64>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl SocketProxy {
    /// Listens on a fresh socket path, forwarding to `upstream` (e.g. /var/run/docker.sock).
    pub fn start(upstream: &Path) -> SocketProxy {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (cut, _) = watch::channel(false);
        let proxy = SocketProxy {
            path: dir.path().join("docker.sock"),
            upstream: upstream.to_path_buf(),
            calls: Arc::new(Mutex::new(Vec::new())),
            cut,
            stall_epoch: watch::channel(0).0,
            listing_delay_ms: Arc::new(AtomicU64::new(0)),
            runtime,
            _dir: dir,
        };
        proxy.listen();
        proxy
    }

    /// `unix://<path>`, for `providers.docker.endpoint`.
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Every request line seen so far (`GET /v1.47/containers/json?all=true HTTP/1.1`).
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }

    fn listen(&self) {
        let _ignored = std::fs::remove_file(&self.path);
        let listener = {
            let _guard = self.runtime.enter();
            UnixListener::bind(&self.path).expect("bind proxy socket")
        };
        self.cut.send_replace(false);
        let mut cut = self.cut.subscribe();
        let upstream = self.upstream.clone();
        let calls = self.calls.clone();
        let stall = self.stall_epoch.subscribe();
        let delay = self.listing_delay_ms.clone();
        self.runtime.spawn(async move {
            loop {
                tokio::select! {
                    _ = cut.changed() => return,
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        let Ok(server) = UnixStream::connect(&upstream).await else { continue };
                        let mut cut = cut.clone();
                        let calls = calls.clone();
                        let stall = stall.clone();
                        let opened = *stall.borrow();
                        let delay = delay.clone();
                        let stalled = move || *stall.borrow() > opened;
                        tokio::spawn(async move {
                            tokio::select! {
                                _ = cut.changed() => {}
                                () = pipe(client, server, calls, delay, stalled) => {}
                            }
                        });
                    }
                }
            }
        });
    }

    /// Closes the socket and every connection through it (the engine "goes away").
    pub fn cut(&self) {
        self.cut.send_replace(true);
        let _ignored = std::fs::remove_file(&self.path);
    }

    /// Listens again on the same path.
    pub fn restore(&self) {
        self.listen();
    }

    /// Every connection open now goes silent for good, without being closed (a half-open
    /// connection); new connections work.
    pub fn stall_open_connections(&self) {
        self.stall_epoch.send_modify(|epoch| *epoch += 1);
    }

    /// From now on, the answer to each container listing is held for `delay` first.
    pub fn hold_listings(&self, delay: Duration) {
        self.listing_delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

async fn pipe(
    client: UnixStream,
    server: UnixStream,
    calls: Arc<Mutex<Vec<String>>>,
    listing_delay_ms: Arc<AtomicU64>,
    stalled: impl Fn() -> bool,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    // Set when a listing was asked for: the next bytes from the engine are its answer.
    let hold_next = Arc::new(AtomicU64::new(0));
    let upload = async {
        let mut pending = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if stalled() {
                std::future::pending::<()>().await;
            }
            pending.extend_from_slice(&buf[..n]);
            // Requests to the engine here carry no body: each ends at an empty line.
            while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&pending[..end]).to_string();
                if let Some(line) = head.lines().next() {
                    if line.contains("/containers/json") {
                        hold_next
                            .store(listing_delay_ms.load(Ordering::Relaxed), Ordering::Relaxed);
                    }
                    calls.lock().expect("lock").push(line.to_string());
                }
                pending.drain(..end + 4);
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let download = async {
        let mut buf = [0u8; 16384];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if stalled() {
                // Half-open: the connection stays, nothing more passes.
                std::future::pending::<()>().await;
            }
            let hold = hold_next.swap(0, Ordering::Relaxed);
            if hold > 0 {
                tokio::time::sleep(Duration::from_millis(hold)).await;
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(upload, download);
}
