//! A stand-in for the application services of the design's Compose stack (admin-frontend,
//! admin-backend, landing, tenants, vehicles-api, the databases), so the stack runs on a machine
//! that cannot pull their images. Statically linked, it is the whole of a `FROM scratch` image.
//!
//! `wharf-standin [PORT]` serves HTTP/1.1 on 0.0.0.0:PORT (default 80) as `$STANDIN_NAME`:
//! - `/health`, `/health/live`, `/health/ready`: the design's health endpoints (ready is 503
//!   while draining);
//! - `/auth/verify`: a forwardAuth endpoint (admin-backend's): 200 with `X-Auth-User` and
//!   `X-Auth-Roles` for `Authorization: Bearer <token>`, the token read from the file named by
//!   `$STANDIN_TOKEN_FILE` (a Docker secret); CORS preflights (`X-Forwarded-Method: OPTIONS`) pass
//!   without one, as a browser sends none; anything else is 401;
//! - any other path: a JSON description of the request and of who answered (`service`,
//!   `hostname`), so a test sees which replica served it and what the proxy forwarded.
//!
//! On SIGTERM it stops accepting, lets requests in flight finish and closes idle keep-alive
//! connections, as a well-behaved service does when `docker stop` asks it to.
//!
//! `wharf-standin probe URL` exits 0 if URL answers 200 within 2 s (a Docker healthcheck; as
//! `/bin/sh -c "wharf-standin probe URL"` it does the same, so shell-form checks work).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

struct Identity {
    service: String,
    hostname: String,
    token: Option<String>,
    draining: AtomicBool,
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(value.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn verify(id: &Identity, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let preflight = header("x-forwarded-method") == Some("OPTIONS");
    let bearer = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
    let allowed = match (&id.token, bearer) {
        (Some(token), Some(given)) => token == given,
        _ => false,
    };
    if allowed || preflight {
        let mut resp = json(StatusCode::OK, serde_json::json!({"allowed": true}));
        if allowed {
            let h = resp.headers_mut();
            h.insert(
                "x-auth-user",
                hyper::header::HeaderValue::from_static("admin"),
            );
            h.insert(
                "x-auth-roles",
                hyper::header::HeaderValue::from_static("admin,fleet"),
            );
        }
        return resp;
    }
    let mut resp = json(
        StatusCode::UNAUTHORIZED,
        serde_json::json!({"allowed": false, "reason": "a valid bearer token is required"}),
    );
    resp.headers_mut().insert(
        hyper::header::WWW_AUTHENTICATE,
        hyper::header::HeaderValue::from_static("Bearer realm=\"motovaultpro\""),
    );
    resp
}

fn answer(id: &Identity, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let health = |status| {
        json(
            status,
            serde_json::json!({"status": if status == StatusCode::OK { "ok" } else { "draining" }, "service": id.service}),
        )
    };
    match req.uri().path() {
        "/health" | "/health/live" => health(StatusCode::OK),
        "/health/ready" if id.draining.load(Ordering::SeqCst) => {
            health(StatusCode::SERVICE_UNAVAILABLE)
        }
        "/health/ready" => health(StatusCode::OK),
        "/auth/verify" => verify(id, &req),
        _ => {
            let headers: Vec<(String, String)> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect();
            json(
                StatusCode::OK,
                serde_json::json!({
                    "service": id.service,
                    "hostname": id.hostname,
                    "method": req.method().as_str(),
                    "target": req.uri().to_string(),
                    "headers": headers,
                }),
            )
        }
    }
}

async fn serve(port: u16, id: Arc<Identity>) {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))
        .await
        .unwrap_or_else(|e| {
            eprintln!("wharf-standin: cannot listen on port {port}: {e}");
            std::process::exit(1)
        });
    eprintln!("wharf-standin {} listening on :{port}", id.service);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let id = id.clone();
                let conn = http1::Builder::new().serve_connection(
                    TokioIo::new(stream),
                    service_fn(move |req| {
                        let resp = answer(&id, req);
                        async move { Ok::<_, Infallible>(resp) }
                    }),
                );
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _closed = conn.await;
                });
            }
            _ = term.recv() => break,
        }
    }
    id.draining.store(true, Ordering::SeqCst);
    drop(listener);
    eprintln!("wharf-standin {}: SIGTERM, draining", id.service);
    let _drained = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

fn main() {
    // Installed as /bin/sh too: Docker runs a shell-form healthcheck as `/bin/sh -c "<cmd>"`.
    let args = wharf_testkit::probe::arguments();
    if args.first().map(String::as_str) == Some("probe") {
        std::process::exit(wharf_testkit::probe::http_probe(
            args.get(1)
                .map_or("http://127.0.0.1:80/health/ready", String::as_str),
        ));
    }
    let port: u16 = args.first().and_then(|p| p.parse().ok()).unwrap_or(80);
    let hostname = std::fs::read_to_string("/etc/hostname")
        .map_or_else(|_| "standin".into(), |h| h.trim().to_string());
    let token = std::env::var("STANDIN_TOKEN_FILE").ok().map(|path| {
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| {
                eprintln!("wharf-standin: cannot read the token file {path}: {e}");
                std::process::exit(1)
            })
            .trim()
            .to_string()
    });
    let id = Arc::new(Identity {
        service: std::env::var("STANDIN_NAME").unwrap_or_else(|_| hostname.clone()),
        hostname,
        token,
        draining: AtomicBool::new(false),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(serve(port, id));
}
