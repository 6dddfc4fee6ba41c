//! The dashboard (`dashboard@internal`): a page, a script and a style sheet compiled into the
//! binary (no build step, no npm), which read the API. As in Traefik, `/` redirects to
//! `/dashboard/` and the `/dashboard` prefix is stripped before a file is looked up.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use wharf_middleware::Reply;

const INDEX: &str = include_str!("../assets/dashboard/index.html");
const SCRIPT: &str = include_str!("../assets/dashboard/app.js");
const STYLE: &str = include_str!("../assets/dashboard/style.css");

/// Only the dashboard's own files and the API may load (labels are text, never markup).
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn header(name: &'static str, value: &str) -> Option<(HeaderName, HeaderValue)> {
    HeaderValue::from_str(value)
        .ok()
        .map(|v| (HeaderName::from_static(name), v))
}

/// The dashboard's answer to `path` on `host` (`GET` is the one method Traefik's serves; the
/// redirect is 308 for the others).
pub(crate) fn answer(method: &http::Method, host: &str, path: &str, tls: bool) -> Reply {
    if path == "/" {
        let scheme = if tls { "https" } else { "http" };
        let status = if method == http::Method::GET {
            301
        } else {
            308
        };
        return Reply {
            status,
            headers: header("location", &format!("{scheme}://{host}/dashboard/"))
                .into_iter()
                .collect(),
            body: Bytes::new(),
        };
    }
    let file = path
        .strip_prefix("/dashboard/")
        .or_else(|| path.strip_prefix("/dashboard"))
        .unwrap_or(path)
        .trim_start_matches('/');
    let (body, content_type) = match file {
        "" | "index.html" => (INDEX, "text/html; charset=utf-8"),
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return crate::internal::not_found(),
    };
    let headers = [
        header("content-type", content_type),
        header("content-security-policy", POLICY),
        header("x-content-type-options", "nosniff"),
        header("cache-control", "no-cache"),
    ]
    .into_iter()
    .flatten()
    .collect();
    Reply {
        status: 200,
        headers,
        body: Bytes::from_static(body.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_traefik_serves_them() {
        let get = http::Method::GET;
        let root = answer(&get, "localhost:8080", "/", false);
        assert_eq!(root.status, 301);
        assert_eq!(root.headers[0].1, "http://localhost:8080/dashboard/");
        for p in ["/dashboard/", "/dashboard", "/dashboard/index.html"] {
            assert_eq!(answer(&get, "h", p, false).status, 200, "{p}");
        }
        assert_eq!(answer(&get, "h", "/dashboard/app.js", false).status, 200);
        assert_eq!(answer(&get, "h", "/dashboard/nope.js", false).status, 404);
        assert_eq!(answer(&http::Method::POST, "h", "/", true).status, 308);
    }
}
