//! A recording proxy for the Docker socket: it forwards a unix socket to the engine's and
//! records the request line of every call, and can be cut and restored to simulate the
//! engine going away.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

pub struct SocketProxy {
    pub path: PathBuf,
    upstream: PathBuf,
    calls: Arc<Mutex<Vec<String>>>,
    cut: watch::Sender<bool>,
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
        self.runtime.spawn(async move {
            loop {
                tokio::select! {
                    _ = cut.changed() => return,
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        let Ok(server) = UnixStream::connect(&upstream).await else { continue };
                        let mut cut = cut.clone();
                        let calls = calls.clone();
                        tokio::spawn(async move {
                            tokio::select! {
                                _ = cut.changed() => {}
                                () = pipe(client, server, calls) => {}
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
}

async fn pipe(client: UnixStream, server: UnixStream, calls: Arc<Mutex<Vec<String>>>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let upload = async {
        let mut pending = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pending.extend_from_slice(&buf[..n]);
            // Requests to the engine here carry no body: each ends at an empty line.
            while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&pending[..end]).to_string();
                if let Some(line) = head.lines().next() {
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
        let _copied = tokio::io::copy(&mut sr, &mut cw).await;
    };
    tokio::join!(upload, download);
}
