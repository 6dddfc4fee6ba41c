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
    /// The Host as received (`RequestAddr`) and the target (the query is removed by the
    /// writer if configured so).
    pub request: RequestText,
    pub method: http::Method,
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

/// A request's Host as received and its target, kept in one string: one allocation per logged
/// request instead of two.
#[derive(Debug, Clone, Default)]
pub struct RequestText {
    text: String,
    /// Where the Host ends (None: no Host).
    host_end: Option<usize>,
}

impl RequestText {
    /// From the bytes on the wire: almost always UTF-8 already (checked faster than replaced).
    pub fn new(host: Option<&[u8]>, target: &[u8]) -> RequestText {
        fn push(text: &mut String, bytes: &[u8]) {
            match std::str::from_utf8(bytes) {
                Ok(s) => text.push_str(s),
                Err(_) => text.push_str(&String::from_utf8_lossy(bytes)),
            }
        }
        let host_len = host.map_or(0, <[u8]>::len);
        let mut text = String::with_capacity(host_len.saturating_add(target.len()));
        let host_end = host.map(|h| {
            push(&mut text, h);
            text.len()
        });
        push(&mut text, target);
        RequestText { text, host_end }
    }

    pub fn host(&self) -> Option<&str> {
        self.text.get(..self.host_end?)
    }

    pub fn target(&self) -> &str {
        self.text
            .get(self.host_end.unwrap_or(0)..)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::RequestText;

    #[test]
    fn host_and_target_come_back_apart() {
        let r = RequestText::new(Some(b"a.test:8080"), b"/p?q=1");
        assert_eq!((r.host(), r.target()), (Some("a.test:8080"), "/p?q=1"));
        let r = RequestText::new(None, b"/");
        assert_eq!((r.host(), r.target()), (None, "/"));
        let r = RequestText::new(Some(b""), b"");
        assert_eq!((r.host(), r.target()), (Some(""), ""));
        let r = RequestText::new(Some(b"h\xff"), b"/\xfe");
        assert_eq!((r.host(), r.target()), (Some("h\u{fffd}"), "/\u{fffd}"));
    }
}
