//! `digestAuth` (RFC 2617, MD5, qop=auth), with stateless nonces: a nonce carries its issue
//! time and a keyed tag, so any instance can check it without a nonce table. Nonces expire
//! after five minutes (a stale one gets a fresh challenge); unlike Traefik, nonce counts are
//! not tracked, so a captured request can be replayed within that window.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue};
use md5::{Digest, Md5};
use pingora::http::RequestHeader;

use crate::access::{authenticated, unauthorized};
use crate::{header_name, BuildError, Flow, Middleware, Reply, RequestContext};

const NONCE_LIFETIME: Duration = Duration::from_secs(300);

pub(crate) struct DigestAuth {
    /// (user, realm, ha1)
    users: Vec<(String, String, String)>,
    realm: String,
    key: RandomState,
    opaque: String,
    remove_header: bool,
    header_field: Option<HeaderName>,
}

impl std::fmt::Debug for DigestAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestAuth")
            .field("realm", &self.realm)
            .finish()
    }
}

fn md5_hex(input: &str) -> String {
    format!("{:x}", Md5::digest(input.as_bytes()))
}

/// `key="value", key=value, ...` of an Authorization header (values may contain commas).
fn params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            let v = quoted[..end].to_string();
            rest = quoted.get(end + 1..).unwrap_or("");
            v
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let v = rest[..end].trim().to_string();
            rest = &rest[end..];
            v
        };
        out.push((key, value));
        rest = rest.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

impl DigestAuth {
    pub(crate) fn new(
        users: &[String],
        realm: &str,
        remove_header: bool,
        header_field: Option<&str>,
    ) -> Result<Self, BuildError> {
        let users = users
            .iter()
            .filter_map(|line| {
                let mut parts = line.splitn(3, ':');
                Some((
                    parts.next()?.to_string(),
                    parts.next()?.to_string(),
                    parts.next()?.to_string(),
                ))
            })
            .collect();
        let key = RandomState::new();
        let mut h = key.build_hasher();
        h.write(b"opaque");
        Ok(DigestAuth {
            users,
            realm: realm.to_string(),
            opaque: format!("{:016x}", h.finish()),
            key,
            remove_header,
            header_field: header_field.map(header_name).transpose()?,
        })
    }

    fn tag(&self, issued: u64) -> u64 {
        let mut h = self.key.build_hasher();
        h.write_u64(issued);
        h.finish()
    }

    fn nonce(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        format!("{now:016x}{:016x}", self.tag(now))
    }

    fn nonce_valid(&self, nonce: &str) -> bool {
        let (Some(issued), Some(tag)) = (
            nonce
                .get(..16)
                .and_then(|h| u64::from_str_radix(h, 16).ok()),
            nonce
                .get(16..32)
                .and_then(|h| u64::from_str_radix(h, 16).ok()),
        ) else {
            return false;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        nonce.len() == 32
            && tag == self.tag(issued)
            && now.saturating_sub(issued) <= NONCE_LIFETIME.as_secs()
    }

    fn challenge(&self) -> Reply {
        let value = format!(
            "Digest realm=\"{}\", nonce=\"{}\", opaque=\"{}\", algorithm=\"MD5\", qop=\"auth\"",
            self.realm,
            self.nonce(),
            self.opaque
        );
        unauthorized(
            HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Digest")),
        )
    }

    /// The authenticated user, if the Authorization header proves the password.
    fn user(&self, req: &RequestHeader) -> Option<String> {
        let value = req.headers.get("authorization")?.to_str().ok()?;
        let (scheme, rest) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("digest") {
            return None;
        }
        let p = params(rest);
        let get = |k: &str| p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let (user, nonce, uri, response) = (
            get("username")?,
            get("nonce")?,
            get("uri")?,
            get("response")?,
        );
        if !self.nonce_valid(nonce) || get("opaque").is_some_and(|o| o != self.opaque) {
            return None;
        }
        let target = req
            .uri
            .path_and_query()
            .map_or_else(|| req.uri.path().to_string(), |p| p.to_string());
        if uri != target {
            return None;
        }
        let (_, _, ha1) = self
            .users
            .iter()
            .find(|(u, r, _)| u == user && r == &self.realm)?;
        let ha2 = md5_hex(&format!("{}:{uri}", req.method.as_str()));
        let expected = match get("qop") {
            Some(qop) => md5_hex(&format!(
                "{ha1}:{nonce}:{}:{}:{qop}:{ha2}",
                get("nc")?,
                get("cnonce")?
            )),
            None => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
        };
        (expected == response).then(|| user.to_string())
    }
}

impl Middleware for DigestAuth {
    fn request(&self, req: &mut RequestHeader, _cx: &RequestContext) -> Flow {
        self.request_recording(req, &mut RequestContext::default())
    }

    fn request_recording(&self, req: &mut RequestHeader, cx: &mut RequestContext) -> Flow {
        let Some(user) = self.user(req) else {
            return Flow::Respond(self.challenge());
        };
        authenticated(req, &user, self.remove_header, self.header_field.as_ref());
        cx.username = Some(user);
        Flow::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correct_response_authenticates_and_a_wrong_one_does_not() {
        let ha1 = md5_hex("test:traefik:secret");
        let auth = DigestAuth::new(
            &[format!("test:traefik:{ha1}")],
            "traefik",
            true,
            Some("X-User"),
        )
        .unwrap();
        let nonce = auth.nonce();
        let ha2 = md5_hex("GET:/dir/index.html");
        let response = md5_hex(&format!("{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}"));
        let header = format!(
            "Digest username=\"test\", realm=\"traefik\", nonce=\"{nonce}\", uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"{response}\", opaque=\"{}\"",
            auth.opaque
        );
        let mut req = RequestHeader::build("GET", b"/dir/index.html", None).unwrap();
        req.insert_header("authorization", header.as_str()).unwrap();
        assert!(matches!(
            auth.request(&mut req, &RequestContext::default()),
            Flow::Continue
        ));
        assert_eq!(req.headers.get("x-user").unwrap(), "test");
        assert!(req.headers.get("authorization").is_none());

        let mut bad = RequestHeader::build("GET", b"/dir/index.html", None).unwrap();
        bad.insert_header("authorization", header.replace(&response, "0000").as_str())
            .unwrap();
        assert!(
            matches!(auth.request(&mut bad, &RequestContext::default()), Flow::Respond(r) if r.status == 401)
        );
        assert!(!auth.nonce_valid("00000000000000000000000000000000"));
    }
}
