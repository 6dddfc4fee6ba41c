//! Active health checks: one task per server of a checked pool, on its own schedule (never per
//! request), stopped when the pool is replaced or removed. A verdict that changes a server's
//! state is logged and announced (the API's serverStatus follows it).

use std::sync::Arc;

use bytes::Bytes;
use pingora::http::RequestHeader;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use wharf_model::{HealthCheckMode, HealthCheckSpec, UpstreamScheme};

use crate::exchange::{connect_addr, Client};
use crate::pool::ServicePool;
use crate::server::{authority, Server, ServerState};
use crate::Target;

/// Go's client follows at most 10 redirects.
const MAX_REDIRECTS: usize = 10;

/// Starts checking every server of `pool`; the checks stop when the token is cancelled.
pub(crate) fn spawn(
    pool: &ServicePool,
    spec: &HealthCheckSpec,
    client: &Arc<Client>,
    changes: &Arc<Notify>,
    runtime: &tokio::runtime::Handle,
) -> CancellationToken {
    let token = CancellationToken::new();
    for (server, state) in pool.servers.iter().zip(&pool.states) {
        let check = Check {
            service: pool.name.as_str().to_string(),
            server: server.clone(),
            state: state.clone(),
            spec: spec.clone(),
            client: client.clone(),
            changes: changes.clone(),
            transport: pool.transport.clone(),
        };
        let token = token.clone();
        runtime.spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = check.run() => {}
            }
        });
    }
    token
}

struct Check {
    service: String,
    server: Server,
    state: Arc<ServerState>,
    spec: HealthCheckSpec,
    client: Arc<Client>,
    changes: Arc<Notify>,
    transport: crate::Transport,
}

impl Check {
    async fn run(self) {
        loop {
            let verdict = match tokio::time::timeout(self.spec.timeout, self.once()).await {
                Ok(v) => v,
                Err(_) => Err(format!("no answer within {:?}", self.spec.timeout)),
            };
            let up = verdict.is_ok();
            if self.state.set_active(up) {
                match &verdict {
                    Ok(()) => {
                        tracing::info!(service = %self.service, server = %self.server.url, "health check passed: the server is back in rotation")
                    }
                    Err(why) => {
                        tracing::warn!(service = %self.service, server = %self.server.url, "health check failed: {why}; the server is out of rotation")
                    }
                }
                self.changes.notify_one();
            }
            let wait = if up {
                self.spec.interval
            } else {
                self.spec.unhealthy_interval
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn once(&self) -> Result<(), String> {
        match self.spec.mode {
            HealthCheckMode::Http => self.http().await,
            HealthCheckMode::Grpc => self.grpc().await,
        }
    }

    fn where_to(&self) -> (UpstreamScheme, Target, String) {
        let scheme = self.spec.scheme.unwrap_or(self.server.scheme);
        match self.spec.port.filter(|p| *p != self.server.port) {
            Some(port) => (
                scheme,
                Target::new(&self.server.host, port),
                authority(&self.server.host, port),
            ),
            None => (
                scheme,
                self.server.target.clone(),
                self.server.authority.to_string(),
            ),
        }
    }

    async fn http(&self) -> Result<(), String> {
        let (mut scheme, mut target, mut host) = self.where_to();
        let mut sni = self.server.host.clone();
        let mut path = self.spec.path.clone();
        let mut method = self.spec.method.clone();
        for _ in 0..=MAX_REDIRECTS {
            let addr = connect_addr(&target).await.map_err(|e| e.to_string())?;
            let peer = || {
                self.transport
                    .server_peer(addr, scheme, &sni, &self.state, false, None)
            };
            let mut req = RequestHeader::build(method.as_str(), path.as_bytes(), None)
                .map_err(|e| e.to_string())?;
            let host_header = self.spec.hostname.as_deref().unwrap_or(&host).to_string();
            let headers = [
                ("Host", host_header.as_str()),
                ("User-Agent", "Go-http-client/1.1"),
                ("Accept-Encoding", "gzip"),
            ];
            for (name, value) in headers.into_iter().chain(
                self.spec
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str())),
            ) {
                req.insert_header(name.to_string(), value)
                    .map_err(|e| e.to_string())?;
            }
            let (head, _) = self
                .client
                .send_to(peer, req, None)
                .await
                .map_err(|e| format!("request failed: {e}"))?;
            let status = head.status.as_u16();
            let location = head
                .headers
                .get(http::header::LOCATION)
                .and_then(|l| l.to_str().ok());
            match (self.spec.follow_redirects, status, location) {
                (true, 301 | 302 | 303 | 307 | 308, Some(location)) => {
                    if matches!(status, 301..=303) && method != "HEAD" {
                        method = "GET".to_string();
                    }
                    let next = redirect(location, scheme)?;
                    if let Some((s, h, port)) = next.authority {
                        scheme = s;
                        target = Target::new(&h, port);
                        sni.clone_from(&h);
                        host = authority(&h, port);
                    }
                    path = next.path;
                }
                _ => return judge(status, self.spec.status),
            }
        }
        Err(format!("stopped after {MAX_REDIRECTS} redirects"))
    }

    /// grpc.health.v1 `Health/Check` with an empty service name, over HTTP/2.
    async fn grpc(&self) -> Result<(), String> {
        let (scheme, target, host) = self.where_to();
        let scheme = match scheme {
            UpstreamScheme::Https => UpstreamScheme::Https,
            _ => UpstreamScheme::H2c,
        };
        let addr = connect_addr(&target).await.map_err(|e| e.to_string())?;
        let peer = || {
            self.transport
                .server_peer(addr, scheme, &self.server.host, &self.state, true, None)
        };
        let mut req = RequestHeader::build("POST", b"/grpc.health.v1.Health/Check", None)
            .map_err(|e| e.to_string())?;
        for (name, value) in [
            ("Host", host.as_str()),
            ("Content-Type", "application/grpc"),
            ("TE", "trailers"),
        ] {
            req.insert_header(name, value).map_err(|e| e.to_string())?;
        }
        // An empty HealthCheckRequest: not compressed, length 0.
        let body = Bytes::from_static(&[0, 0, 0, 0, 0]);
        let (head, body) = self
            .client
            .send_to(peer, req, Some(body))
            .await
            .map_err(|e| format!("gRPC request failed: {e}"))?;
        match serving_status(&body) {
            Some(1) => Ok(()),
            Some(other) => Err(format!("gRPC health status {other} (not SERVING)")),
            None => {
                let status = head
                    .headers
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none");
                Err(format!(
                    "no gRPC health answer (HTTP {}, grpc-status {status})",
                    head.status.as_u16()
                ))
            }
        }
    }
}

/// Traefik's verdict: any 2xx or 3xx, or exactly the configured status.
fn judge(status: u16, expected: Option<u16>) -> Result<(), String> {
    match expected {
        None if (200..400).contains(&status) => Ok(()),
        None => Err(format!("status {status}")),
        Some(e) if e == status => Ok(()),
        Some(e) => Err(format!("status {status}, expected {e}")),
    }
}

struct Redirect {
    /// A new server (scheme, host, port), for an absolute location.
    authority: Option<(UpstreamScheme, String, u16)>,
    path: String,
}

fn redirect(location: &str, current: UpstreamScheme) -> Result<Redirect, String> {
    if location.starts_with('/') && !location.starts_with("//") {
        return Ok(Redirect {
            authority: None,
            path: location.to_string(),
        });
    }
    let uri: http::Uri = location
        .parse()
        .map_err(|_| format!("redirect to an unusable location `{location}`"))?;
    let scheme = match uri.scheme_str() {
        None => current,
        Some(name) => UpstreamScheme::from_name(name)
            .filter(|s| *s != UpstreamScheme::H2c)
            .ok_or_else(|| format!("redirect to a `{name}` URL"))?,
    };
    let (host, port) = wharf_model::uri_host_port(&uri, scheme)
        .ok_or_else(|| format!("redirect to an unusable location `{location}`"))?;
    let path = uri
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
    Ok(Redirect {
        authority: Some((scheme, host, port)),
        path,
    })
}

/// The `status` field (1) of a HealthCheckResponse in one gRPC message.
pub(crate) fn serving_status(body: &[u8]) -> Option<u64> {
    let (header, rest) = body.split_at_checked(5)?;
    if header[0] != 0 {
        return None; // compressed: not asked for
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let mut msg = rest.get(..len)?;
    // An empty message is the default: UNKNOWN (0).
    let mut status = 0;
    while let Some((&tag, rest)) = msg.split_first() {
        let (value, rest) = varint(rest)?;
        match tag {
            0x08 => status = value,
            // Only varint fields are expected in this message.
            _ => return None,
        }
        msg = rest;
    }
    Some(status)
}

fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_traefiks() {
        assert!(judge(200, None).is_ok() && judge(302, None).is_ok());
        assert!(judge(404, None).is_err() && judge(199, None).is_err());
        assert!(judge(204, Some(204)).is_ok() && judge(200, Some(204)).is_err());
    }

    #[test]
    fn grpc_answers_are_read() {
        assert_eq!(serving_status(&[0, 0, 0, 0, 2, 0x08, 1]), Some(1));
        assert_eq!(serving_status(&[0, 0, 0, 0, 2, 0x08, 2]), Some(2));
        assert_eq!(serving_status(&[0, 0, 0, 0, 0]), Some(0));
        assert_eq!(serving_status(&[0, 0, 0]), None);
        assert_eq!(serving_status(&[0, 0, 0, 0, 9, 0x08]), None);
        assert_eq!(serving_status(&[0, 0, 0, 0, 2, 0x08, 0xff]), None);
    }

    #[test]
    fn redirects_resolve() {
        let r = redirect("/next?x=1", UpstreamScheme::Http).unwrap();
        assert_eq!((r.authority, r.path.as_str()), (None, "/next?x=1"));
        let r = redirect("https://other:8443/h", UpstreamScheme::Http).unwrap();
        assert_eq!(
            r.authority,
            Some((UpstreamScheme::Https, "other".to_string(), 8443))
        );
        assert!(redirect("ftp://x/y", UpstreamScheme::Http).is_err());
    }
}
