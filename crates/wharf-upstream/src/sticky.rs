//! Sticky sessions with Traefik's cookie: a browser pinned by Traefik stays pinned by wharf.
//!
//! The value naming a server is the first 16 hex digits of sha256(server URL); the raw URL and
//! the FNV-64 forms of older Traefik versions are still accepted (and answered with a new
//! cookie).

use sha2::{Digest, Sha256};
use wharf_model::{SameSite, StickyCookieSpec};

use crate::server::Server;

/// Traefik's cookie value for a server URL.
pub fn server_value(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    hex(&digest[..8])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Go's `hash/fnv` New64 (FNV-1), formatted as Traefik's `strconv.FormatUint(_, 16)`.
fn fnv1_64(input: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in input.as_bytes() {
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        hash ^= u64::from(*b);
    }
    format!("{hash:x}")
}

/// The server a cookie value names, and whether the cookie must be rewritten (an older form).
pub fn find(servers: &[Server], value: &str) -> Option<(usize, bool)> {
    if let Some(i) = servers.iter().position(|s| s.sticky_value == value) {
        return Some((i, false));
    }
    servers
        .iter()
        .position(|s| {
            if &*s.url == value {
                return true;
            }
            let once = fnv1_64(&s.url);
            once == value || fnv1_64(&once) == value
        })
        .map(|i| (i, true))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn request_cookie<'a>(
    headers: impl IntoIterator<Item = &'a http::HeaderValue>,
    name: &str,
) -> Option<&'a str> {
    headers
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The `Set-Cookie` value pinning a client to `server`, attributes in Go's order.
pub fn set_cookie(spec: &StickyCookieSpec, server: &Server) -> String {
    cookie(spec, &server.sticky_value)
}

/// The `Set-Cookie` value for cookie `spec` with `value`, attributes in Go's order.
pub fn cookie(spec: &StickyCookieSpec, value: &str) -> String {
    let mut out = format!("{}={value}", spec.name);
    if !spec.path.is_empty() {
        out.push_str("; Path=");
        out.push_str(&spec.path);
    }
    if let Some(domain) = &spec.domain {
        out.push_str("; Domain=");
        out.push_str(domain.trim_start_matches('.'));
    }
    match spec.max_age {
        0 => {}
        age if age < 0 => out.push_str("; Max-Age=0"),
        age => out.push_str(&format!("; Max-Age={age}")),
    }
    if spec.http_only {
        out.push_str("; HttpOnly");
    }
    if spec.secure {
        out.push_str("; Secure");
    }
    match spec.same_site {
        Some(SameSite::None) => out.push_str("; SameSite=None"),
        Some(SameSite::Lax) => out.push_str("; SameSite=Lax"),
        Some(SameSite::Strict) => out.push_str("; SameSite=Strict"),
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_model::{ServerSpec, UpstreamScheme};

    fn server(url: &str) -> Server {
        Server::from_spec(&ServerSpec {
            url: url.to_string(),
            scheme: UpstreamScheme::Http,
            host: "127.0.0.1".into(),
            port: 19001,
            weight: 1,
            path_prefix: String::new(),
        })
    }

    #[test]
    fn values_are_traefiks() {
        // Observed with Traefik 3.7.15 (traefik-compat.md §5.3).
        assert_eq!(server_value("http://127.0.0.1:19001"), "6cb9cb177dc2d936");
        let servers = [
            server("http://127.0.0.1:19002"),
            server("http://127.0.0.1:19001"),
        ];
        assert_eq!(find(&servers, "6cb9cb177dc2d936"), Some((1, false)));
        assert_eq!(find(&servers, "http://127.0.0.1:19001"), Some((1, true)));
        let fnv = fnv1_64("http://127.0.0.1:19001");
        assert_eq!(find(&servers, &fnv), Some((1, true)));
        assert_eq!(find(&servers, &fnv1_64(&fnv)), Some((1, true)));
        assert_eq!(find(&servers, "bogus"), None);
        // Go's FNV-1 of the empty string is the offset basis.
        assert_eq!(fnv1_64(""), "cbf29ce484222325");
    }

    #[test]
    fn set_cookie_attributes_in_gos_order() {
        let spec = StickyCookieSpec {
            name: "mycookie".into(),
            secure: true,
            http_only: true,
            same_site: Some(SameSite::Strict),
            max_age: 60,
            path: "/".into(),
            domain: None,
        };
        let s = server("http://127.0.0.1:19001");
        assert_eq!(
            set_cookie(&spec, &s),
            "mycookie=6cb9cb177dc2d936; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Strict"
        );
        let h = [http::HeaderValue::from_static("a=1; mycookie=xyz; b=2")];
        assert_eq!(request_cookie(&h, "mycookie"), Some("xyz"));
        assert_eq!(request_cookie(&h, "c"), None);
    }
}
