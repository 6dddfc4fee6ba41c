//! [`AccessEntry`]: what the request path hands over about one finished request. Nothing is
//! formatted here: the writer thread turns it into Traefik's fields.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// The server a request reached (Traefik's `Service*` and `Origin*` fields).
#[derive(Debug, Clone)]
pub struct OriginFields {
    pub service: Arc<str>,
    /// `ServiceURL`.
    pub url: Arc<str>,
    /// `ServiceAddr`: the URL's host and port.
    pub addr: Arc<str>,
    /// 0: no answer.
    pub status: u16,
    pub size: u64,
    pub duration: Duration,
    pub headers: Option<HeaderMap>,
}

/// One finished request.
#[derive(Debug, Clone)]
pub struct AccessEntry {
    pub start: SystemTime,
    pub duration: Duration,
    pub client: Option<SocketAddr>,
    pub username: Option<String>,
    pub request_count: u64,
    /// The Host as received (`RequestAddr`).
    pub host: Option<String>,
    pub method: http::Method,
    /// The target as received (the query is removed by the writer if configured so).
    pub target: String,
    /// `HTTP/1.1`, `HTTP/2.0`...
    pub protocol: &'static str,
    /// TLS version (`1.3`), cipher name and the client certificate's subject.
    pub tls: Option<(&'static str, &'static str, Option<String>)>,
    pub entry_point: Arc<str>,
    pub router: Option<Arc<str>>,
    /// A server was reached.
    pub origin: Option<OriginFields>,
    pub status: u16,
    pub size: u64,
    pub request_size: u64,
    pub retry_attempts: u32,
    /// Request headers as sent on (None when the configuration logs no header).
    pub request_headers: Option<HeaderMap>,
    pub downstream_headers: Option<HeaderMap>,
}
