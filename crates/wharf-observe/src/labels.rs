//! The bounded label values of a request: method, protocol, status code, TLS version and
//! cipher, packed into one table key so the request path never builds a string.

use http::HeaderMap;

/// Traefik's `method` label values: the standard methods as sent; anything else is
/// `EXTENSION_METHOD`, so a client cannot grow the label set.
const METHODS: [&str; 11] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "PATCH",
    "PRI",
    "EXTENSION_METHOD",
];

/// A request's `method` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method(u8);

impl Method {
    pub fn of(method: &http::Method) -> Method {
        let name = method.as_str();
        let i = METHODS[..METHODS.len() - 1]
            .iter()
            .position(|m| *m == name)
            .unwrap_or(METHODS.len() - 1);
        Method(i as u8)
    }

    pub fn name(self) -> &'static str {
        METHODS.get(usize::from(self.0)).copied().unwrap_or("")
    }
}

/// A request's `protocol` label, decided from its headers as Traefik does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http = 0,
    Websocket = 1,
    Sse = 2,
    GrpcWeb = 3,
    Grpc = 4,
}

impl Protocol {
    pub fn of(headers: &HeaderMap) -> Protocol {
        use http::header::{ACCEPT, CONNECTION, CONTENT_TYPE, UPGRADE};
        // One pass over the fields (a request has few) rather than a lookup per name; each
        // name's first value, as Go's `Header.Get`.
        let [mut connection, mut upgrade, mut accept, mut content_type] = [None::<&[u8]>; 4];
        for (name, value) in headers {
            let first = if name == CONNECTION {
                &mut connection
            } else if name == UPGRADE {
                &mut upgrade
            } else if name == ACCEPT {
                &mut accept
            } else if name == CONTENT_TYPE {
                &mut content_type
            } else {
                continue;
            };
            first.get_or_insert(value.as_bytes());
        }
        if has_token(connection, "upgrade") && has_token(upgrade, "websocket") {
            return Protocol::Websocket;
        }
        if has_token(accept, "text/event-stream") {
            return Protocol::Sse;
        }
        let content_type = content_type.unwrap_or_default();
        if content_type.starts_with(b"application/grpc-web") {
            Protocol::GrpcWeb
        } else if content_type.starts_with(b"application/grpc") {
            Protocol::Grpc
        } else {
            Protocol::Http
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Websocket => "websocket",
            Protocol::Sse => "sse",
            Protocol::GrpcWeb => "grpc-web",
            Protocol::Grpc => "grpc",
        }
    }

    /// gRPC's `code` label is the call's `grpc-status`, not the HTTP status.
    pub fn is_grpc(self) -> bool {
        matches!(self, Protocol::Grpc | Protocol::GrpcWeb)
    }

    fn from_index(i: u32) -> Protocol {
        match i {
            1 => Protocol::Websocket,
            2 => Protocol::Sse,
            3 => Protocol::GrpcWeb,
            4 => Protocol::Grpc,
            _ => Protocol::Http,
        }
    }
}

/// Go's `strings.Split(h.Get(name), ",")` then a case-insensitive token match, on the first
/// field of that name.
fn has_token(value: Option<&[u8]>, token: &str) -> bool {
    value.is_some_and(|v| {
        v.split(|b| *b == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// The `code`, `method` and `protocol` labels of one request, as a non-zero table key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestKey(pub(crate) u32);

impl RequestKey {
    /// `code` above 999 (never sent) is kept as 999.
    pub fn new(code: u16, method: Method, protocol: Protocol) -> Self {
        let code = u32::from(code.min(999));
        RequestKey(1 << 20 | (protocol as u32) << 14 | u32::from(method.0) << 10 | code)
    }

    pub(crate) fn code(self) -> u32 {
        self.0 & 0x3ff
    }
    pub(crate) fn method(self) -> Method {
        Method(((self.0 >> 10) & 0xf) as u8)
    }
    pub(crate) fn protocol(self) -> Protocol {
        Protocol::from_index((self.0 >> 14) & 0x7)
    }
}

/// Go's names of the suites rustls offers (`tls.CipherSuiteName`), by IANA code.
const CIPHERS: [(u16, &str); 9] = [
    (0x1301, "TLS_AES_128_GCM_SHA256"),
    (0x1302, "TLS_AES_256_GCM_SHA384"),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
    (0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    (0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    (0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
];

/// The `tls_version` and `tls_cipher` labels of a TLS request, as a non-zero table key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsKey(pub(crate) u32);

impl TlsKey {
    /// `version`: the protocol version's wire code (0x0303 is TLS 1.2, 0x0304 TLS 1.3);
    /// `suite`: the cipher suite's IANA code.
    pub fn new(version: u16, suite: u16) -> Self {
        TlsKey(u32::from(version) << 16 | u32::from(suite))
    }

    pub(crate) fn version(self) -> String {
        let v = self.0 >> 16;
        if v >> 8 == 3 && (v & 0xff) >= 1 {
            format!("1.{}", (v & 0xff) - 1)
        } else {
            format!("0x{v:04x}")
        }
    }

    pub(crate) fn cipher(self) -> String {
        let code = (self.0 & 0xffff) as u16;
        CIPHERS
            .iter()
            .find(|(c, _)| *c == code)
            .map_or_else(|| format!("0x{code:04X}"), |(_, n)| (*n).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        assert_eq!(Method::of(&http::Method::GET).name(), "GET");
        assert_eq!(Method::of(&http::Method::PATCH).name(), "PATCH");
        let custom = http::Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(Method::of(&custom).name(), "EXTENSION_METHOD");
    }

    #[test]
    fn protocol_follows_traefiks_order() {
        let mut h = HeaderMap::new();
        assert_eq!(Protocol::of(&h), Protocol::Http);
        h.insert("connection", "keep-alive, Upgrade".parse().unwrap());
        h.insert("upgrade", "WebSocket".parse().unwrap());
        assert_eq!(Protocol::of(&h), Protocol::Websocket);
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            "application/grpc-web+proto".parse().unwrap(),
        );
        assert_eq!(Protocol::of(&h), Protocol::GrpcWeb);
        h.insert("content-type", "application/grpc".parse().unwrap());
        assert_eq!(Protocol::of(&h), Protocol::Grpc);
        h.insert("accept", "text/html, text/event-stream".parse().unwrap());
        assert_eq!(Protocol::of(&h), Protocol::Sse);
        // Only a name's first field counts, as Go's Header.Get.
        let mut h = HeaderMap::new();
        h.append("connection", "keep-alive".parse().unwrap());
        h.append("connection", "upgrade".parse().unwrap());
        h.insert("upgrade", "websocket".parse().unwrap());
        h.append("content-type", "text/plain".parse().unwrap());
        h.append("content-type", "application/grpc".parse().unwrap());
        assert_eq!(Protocol::of(&h), Protocol::Http);
    }

    #[test]
    fn keys_round_trip() {
        let k = RequestKey::new(404, Method::of(&http::Method::DELETE), Protocol::Grpc);
        assert_eq!(
            (k.code(), k.method().name(), k.protocol()),
            (404, "DELETE", Protocol::Grpc)
        );
        assert_ne!(RequestKey::new(0, Method(0), Protocol::Http).0, 0);
        let t = TlsKey::new(0x0304, 0x1301);
        assert_eq!(
            (t.version(), t.cipher()),
            ("1.3".into(), "TLS_AES_128_GCM_SHA256".into())
        );
        assert_eq!(TlsKey::new(0x0303, 0xcca8).version(), "1.2");
    }
}
