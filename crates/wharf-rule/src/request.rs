//! What a matcher sees of a request, and how Traefik derives the routing path from the URL.

use std::borrow::Cow;
use std::net::IpAddr;

use percent_encoding::percent_decode_str;

/// Header access without tying this crate to an HTTP library.
pub trait HeaderLookup {
    /// Whether any value of header `name` (lower-case) satisfies `pred`.
    fn any_value(&self, name: &str, pred: &mut dyn FnMut(&str) -> bool) -> bool;
}

/// The request, as seen by rules. Build it once per request.
pub struct RequestView<'a> {
    /// Normalized host (see [`crate::normalize_request_host`]); empty if the request had none.
    pub host: &'a str,
    /// The routing path (see [`routing_path`]).
    pub path: &'a str,
    pub method: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    pub headers: &'a dyn HeaderLookup,
    /// The TCP peer; never taken from X-Forwarded-For.
    pub client_ip: Option<IpAddr>,
}

/// A path that cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("invalid percent-encoding in the request path")]
    BadEscape,
}

/// Cleans `//`, `/./` and `/../` like Go's `path.Clean`, keeping a trailing slash.
/// Borrowed when there is nothing to clean.
pub fn sanitize_path(path: &str) -> Cow<'_, str> {
    if !needs_cleaning(path) {
        return Cow::Borrowed(path);
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if out.is_empty() || trailing {
        out.push('/');
    }
    Cow::Owned(out)
}

fn needs_cleaning(path: &str) -> bool {
    !path.starts_with('/')
        || path.contains("//")
        || path.contains("/./")
        || path.contains("/../")
        || path.ends_with("/.")
        || path.ends_with("/..")
}

fn is_reserved(b: u8) -> bool {
    matches!(
        b,
        b':' | b'/'
            | b'?'
            | b'#'
            | b'['
            | b']'
            | b'@'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
            | b'%'
    )
}

/// Decodes every `%XX` except reserved characters, which stay encoded as written (so `%2F` is
/// not a slash). A malformed escape is an error (Traefik answers 400).
pub fn routing_path(path: &str) -> Result<Cow<'_, str>, PathError> {
    rewrite_escapes(path, |b| !is_reserved(b), false)
}

/// The path as Traefik forwards it: escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`)
/// decoded, every other escape kept with upper-case hex (Go's URL re-encoding).
pub fn normalize_escapes(path: &str) -> Result<Cow<'_, str>, PathError> {
    rewrite_escapes(
        path,
        |b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'),
        true,
    )
}

/// Rewrites each `%XX` of `path`: the byte itself where `decode` says so, otherwise the escape
/// (as written, or with upper-case hex). Borrowed when the path has no escape.
fn rewrite_escapes(
    path: &str,
    decode: impl Fn(u8) -> bool,
    upper_hex: bool,
) -> Result<Cow<'_, str>, PathError> {
    if !path.contains('%') {
        return Ok(Cow::Borrowed(path));
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadEscape)?;
        let value = std::str::from_utf8(hex)
            .ok()
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or(PathError::BadEscape)?;
        if decode(value) {
            out.push(value);
        } else if upper_hex {
            out.extend_from_slice(format!("%{value:02X}").as_bytes());
        } else {
            out.extend_from_slice(&bytes[i..i + 3]);
        }
        i += 3;
    }
    Ok(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

fn decode_component(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let plus = s.replace('+', " ");
    Cow::Owned(percent_decode_str(&plus).decode_utf8_lossy().into_owned())
}

/// Calls `pred` on every value of `key` in the query; true as soon as one satisfies it.
pub(crate) fn query_values(
    query: Option<&str>,
    key: &str,
    pred: &mut dyn FnMut(&str) -> bool,
) -> bool {
    let Some(query) = query else {
        return false;
    };
    for pair in query.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue; // Go's url.ParseQuery skips pairs containing `;`
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if decode_component(k) == key && pred(&decode_component(v)) {
            return true;
        }
    }
    false
}
