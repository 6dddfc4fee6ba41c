//! An echo backend: answers every request with a JSON description of it.
//!
//! Paths with special meaning (whatever follows them): `/status/<code>` answers that status;
//! `/delay/<ms>` answers after that long; `/health` answers 200 or 503, switched by `/health/fail` and `/health/ok`;
//! `/auth/<code>` answers like an auth server (that status, `X-Auth-User`, cookies, and a
//! relative `Location` for redirects); `/bytes/<n>` answers n bytes of text, with the
//! Content-Type of the `type` query parameter (`%3B` and `%20` decoded; `none`: no header) and
//! the Content-Encoding of `encoding`, chunked with `chunked=1`. A gRPC request
//! (`application/grpc*`) gets its message back, then the trailers `grpc-status: 0` and
//! `grpc-message: echoed`; grpc.health.v1 `Check` answers SERVING, or NOT_SERVING after
//! `/health/fail`.
//! A WebSocket upgrade gets a 101 and then every byte is echoed back. The JSON includes the
//! local address the request arrived on (which network a proxy used).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;

pub use crate::bodies::EchoBody;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as the backend saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    /// Path and query, as sent on the wire.
    pub target: String,
    pub version: String,
    /// Header names lower-case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub struct EchoServer {
    pub name: String,
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    tls: bool,
    open: Arc<std::sync::atomic::AtomicUsize>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl EchoServer {
    /// Starts a backend on 127.0.0.1 with an ephemeral port.
    pub fn start(name: &str) -> EchoServer {
        Self::start_on("127.0.0.1:0".parse().expect("addr"), name)
    }

    pub fn start_on(bind: SocketAddr, name: &str) -> EchoServer {
        Self::start_with(bind, name, None)
    }

    /// An HTTPS backend on 127.0.0.1 with this TLS configuration (see `pki`).
    pub fn start_tls(name: &str, tls: Arc<rustls::ServerConfig>) -> EchoServer {
        let bind = "127.0.0.1:0".parse().expect("addr");
        Self::start_with(bind, name, Some(tokio_rustls::TlsAcceptor::from(tls)))
    }

    fn start_with(
        bind: SocketAddr,
        name: &str,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> EchoServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("echo runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(bind))
            .expect("bind echo server");
        let addr = listener.local_addr().expect("local addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let is_tls = tls.is_some();
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = open.clone();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let accepted_count = accepted.clone();
        let state = State {
            name: Arc::from(name),
            log: received.clone(),
            healthy: Arc::new(AtomicBool::new(true)),
        };
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                accepted_count.fetch_add(1, Ordering::SeqCst);
                let local = stream
                    .local_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                let state = state.clone();
                let tls = tls.clone();
                let open = OpenConnection::new(&counter);
                tokio::spawn(async move {
                    let _open = open;
                    let serve = |tls_info: String| {
                        hyper::service::service_fn(move |req| {
                            let state = state.clone();
                            let local = local.clone();
                            let tls_info = tls_info.clone();
                            async move { handle(req, state, local, tls_info).await }
                        })
                    };
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _closed = builder
                                .serve_connection_with_upgrades(
                                    TokioIo::new(stream),
                                    serve(String::new()),
                                )
                                .await;
                        }
                        Some(acceptor) => {
                            // A refused handshake (no client certificate) just ends here.
                            if let Ok(stream) = acceptor.accept(stream).await {
                                // What was negotiated, e.g. `TLSv1_2 TLS_ECDHE_…` (reported
                                // as `tls` in the echo).
                                let conn = stream.get_ref().1;
                                let tls_info = format!(
                                    "{:?} {:?}",
                                    conn.protocol_version()
                                        .unwrap_or(rustls::ProtocolVersion::Unknown(0)),
                                    conn.negotiated_cipher_suite()
                                        .map(|s| s.suite())
                                        .unwrap_or(rustls::CipherSuite::Unknown(0))
                                );
                                let _closed = builder
                                    .serve_connection_with_upgrades(
                                        TokioIo::new(stream),
                                        serve(tls_info),
                                    )
                                    .await;
                            }
                        }
                    }
                });
            }
        });
        EchoServer {
            name: name.to_string(),
            addr,
            received,
            tls: is_tls,
            open,
            accepted,
            _runtime: runtime,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    pub fn last(&self) -> Option<Received> {
        self.received.lock().expect("lock").last().cloned()
    }

    /// Connections open to this backend now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Connections accepted so far (open or closed).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn count(&self) -> usize {
        self.received.lock().expect("lock").len()
    }
}

#[derive(Clone)]
struct State {
    name: Arc<str>,
    log: Arc<Mutex<Vec<Received>>>,
    healthy: Arc<AtomicBool>,
}

/// Counts a connection while it is open.
struct OpenConnection(Arc<std::sync::atomic::AtomicUsize>);

impl OpenConnection {
    fn new(counter: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        OpenConnection(counter.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(
    req: Request<Incoming>,
    state: State,
    local: String,
    tls: String,
) -> Result<Response<EchoBody>, Infallible> {
    let State { name, log, healthy } = state;
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().to_string(), |p| p.to_string());
    let version = format!("{:?}", req.version());
    let mut headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if req.version() == http::Version::HTTP_2 {
        if let Some(auth) = req.uri().authority() {
            headers.insert(0, ("host".into(), auth.to_string()));
        }
    }
    let is_ws = req
        .headers()
        .get("upgrade")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if is_ws {
        log.lock().expect("lock").push(Received {
            method,
            target,
            version,
            headers,
            body: Vec::new(),
        });
        tokio::spawn(async move {
            if let Ok(upgraded) = hyper::upgrade::on(req).await {
                let mut io = TokioIo::new(upgraded);
                let mut buf = [0u8; 4096];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        let resp = Response::builder()
            .status(101)
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            .body(EchoBody::full(Bytes::new()))
            .expect("response");
        return Ok(resp);
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let path = target.split('?').next().unwrap_or("").to_string();
    let grpc = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.clone())
        .filter(|ct| ct.starts_with("application/grpc"));
    let mut status = 200u16;
    // `/status/<code>/anything` too (a server URL with preservePath puts it first).
    if let Some(code) = path.strip_prefix("/status/") {
        status = code.split('/').next().unwrap_or("").parse().unwrap_or(200);
    }
    match path.as_str() {
        "/health/fail" => healthy.store(false, Ordering::SeqCst),
        "/health/ok" => healthy.store(true, Ordering::SeqCst),
        "/health" if !healthy.load(Ordering::SeqCst) => status = 503,
        _ => {}
    }
    let sized = path
        .strip_prefix("/bytes/")
        .and_then(|n| n.parse::<usize>().ok())
        .map(|n| sized_body(n, &target));
    let body_copy = body.clone();
    let json = serde_json::json!({
        "backend": &*name,
        "local": local,
        "tls": tls,
        "method": method,
        "target": target,
        "version": version,
        "headers": headers.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect::<Vec<_>>(),
        "body": String::from_utf8_lossy(&body),
    });
    log.lock().expect("lock").push(Received {
        method,
        target,
        version,
        headers,
        body,
    });
    // Recorded first, so a test can see a slow request arrive while it is still in flight.
    if let Some(ms) = path
        .strip_prefix("/delay/")
        .map(|rest| rest.split('/').next().unwrap_or(""))
    {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
    }
    // `/auth/<code>`: an auth server's answer, with identity headers and a cookie.
    if let Some(code) = path
        .strip_prefix("/auth/")
        .and_then(|c| c.parse::<u16>().ok())
    {
        let mut b = Response::builder()
            .status(code)
            .header("x-auth-user", "alice")
            .header("x-secret-zone", "z1")
            .header("set-cookie", "authck=1; Path=/")
            .header("set-cookie", "other=2");
        if (300..400).contains(&code) {
            b = b.header("location", "/login?x=1");
        }
        if code == 401 {
            b = b.header("www-authenticate", "Basic realm=\"auth\"");
        }
        let body = if (200..300).contains(&code) {
            String::new()
        } else {
            format!("denied {code}")
        };
        return Ok(b.body(EchoBody::full(body)).expect("response"));
    }
    if let Some(resp) = sized {
        return Ok(resp);
    }
    // grpc.health.v1: SERVING (1) or, switched by /health/fail, NOT_SERVING (2).
    if grpc.is_some() && path == "/grpc.health.v1.Health/Check" {
        let status = if healthy.load(Ordering::SeqCst) { 1 } else { 2 };
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let resp = Response::builder()
            .status(200)
            .header("content-type", "application/grpc")
            .body(EchoBody::Grpc(
                Some(Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status])),
                Some(trailers),
            ))
            .expect("response");
        return Ok(resp);
    }
    // gRPC: the request's message echoed back, then trailers.
    if let Some(ct) = grpc {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        trailers.insert("grpc-message", http::HeaderValue::from_static("echoed"));
        let resp = Response::builder()
            .status(200)
            .header("content-type", ct)
            .header("x-backend", &*name)
            .body(EchoBody::Grpc(Some(Bytes::from(body_copy)), Some(trailers)))
            .expect("response");
        return Ok(resp);
    }
    let resp = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-backend", &*name)
        .header("set-cookie", "authck=backend")
        .header("set-cookie", "backendck=1")
        .body(EchoBody::full(json.to_string()))
        .expect("response");
    Ok(resp)
}

/// `/bytes/<n>?type=..&encoding=..`: n bytes of compressible text.
fn sized_body(n: usize, target: &str) -> Response<EchoBody> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        query.split('&').find_map(|kv| {
            kv.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
                .map(|v| v.replace("%3B", ";").replace("%20", " "))
        })
    };
    let text: Vec<u8> = b"wharf says hello to traefik users. "
        .iter()
        .copied()
        .cycle()
        .take(n)
        .collect();
    let mut b = Response::builder().status(200);
    match param("type").as_deref() {
        Some("none") => {}
        Some(t) => b = b.header("content-type", t),
        None => b = b.header("content-type", "text/plain; charset=utf-8"),
    }
    if let Some(e) = param("encoding") {
        b = b.header("content-encoding", e);
    }
    let body = if param("chunked").is_some() {
        EchoBody::Chunked(Some(Bytes::from(text)))
    } else {
        EchoBody::full(text)
    };
    b.body(body).expect("response")
}
