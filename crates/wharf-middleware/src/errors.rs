//! `errors`: when a response's status is in the configured ranges, the client gets a page
//! from another service instead, with the original (or rewritten) status and the page's
//! headers and body. Used by the proxy for backend answers, wharf's own errors, and the
//! answers of middlewares the `errors` middleware wraps.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use pingora::http::RequestHeader;
use wharf_model::ErrorsSpec;
use wharf_upstream::ServicePool;

use crate::subrequest::{connect_addr, Client, HOP_BY_HOP};

/// The longest wait for an error page (the whole exchange).
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);
use crate::{header_name, request_host, BuildError, Middleware, Reply};

/// Go's `url.QueryEscape` leaves these unescaped.
const QUERY_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The compiled `errors` options and the page service's pool (of this generation).
pub struct ErrorPages {
    status: Vec<(u16, u16)>,
    rewrites: Vec<((u16, u16), u16)>,
    /// `/`-prefixed path and query template; empty: `/`.
    query: String,
    /// When not empty, the only request headers the page request copies.
    request_headers: Vec<HeaderName>,
    pool: Arc<ServicePool>,
    client: Client,
}

impl std::fmt::Debug for ErrorPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorPages")
            .field("service", &self.pool.name)
            .field("status", &self.status)
            .finish()
    }
}

impl ErrorPages {
    pub fn new(spec: &ErrorsSpec, pool: Arc<ServicePool>) -> Result<Self, BuildError> {
        let query = if spec.query.is_empty() {
            String::new()
        } else {
            format!("/{}", spec.query.trim_start_matches('/'))
        };
        Ok(ErrorPages {
            status: spec.status.clone(),
            rewrites: spec.status_rewrites.clone(),
            query,
            request_headers: spec
                .error_request_headers
                .iter()
                .map(|h| header_name(h))
                .collect::<Result<_, _>>()?,
            pool,
            client: Client::new(),
        })
    }

    /// Whether a response with this status gets the error page.
    pub fn catches(&self, status: u16) -> bool {
        self.status
            .iter()
            .any(|(from, to)| (*from..=*to).contains(&status))
    }

    /// The status the client gets for `status`.
    fn rewritten(&self, status: u16) -> u16 {
        self.rewrites
            .iter()
            .find(|((from, to), _)| (*from..=*to).contains(&status))
            .map_or(status, |(_, code)| *code)
    }

    /// The error page for a response of `status` to `req` (as this middleware saw it).
    pub async fn page(&self, req: &RequestHeader, status: u16, tls: bool) -> Reply {
        let code = self.rewritten(status);
        let picked = self.pool.select(&wharf_upstream::Choice::default());
        let Some((index, server)) = picked.map(|p| (p.index, &self.pool.servers[p.index])) else {
            return Reply {
                status: code,
                headers: vec![
                    (
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; charset=utf-8"),
                    ),
                    (
                        HeaderName::from_static("x-content-type-options"),
                        HeaderValue::from_static("nosniff"),
                    ),
                ],
                body: Bytes::from_static(b"no available server\n"),
            };
        };
        let host = request_host(req).to_string();
        let page_host = if self.pool.spec.pass_host_header {
            host.clone()
        } else {
            server.authority.to_string()
        };
        let fetched = async {
            let target = self.target(req, &host, status, code, tls);
            let page_req = self.page_request(req, &target, &page_host)?;
            let addr = connect_addr(&server.target).await?;
            let group = self.pool.states[index].id;
            let peer = wharf_upstream::http_peer(addr, server.scheme, &server.host, group);
            self.client.send(&peer, page_req, None).await
        };
        // A page service that accepts and never answers must not hold the client forever.
        let fetched = async {
            tokio::time::timeout(PAGE_TIMEOUT, fetched)
                .await
                .unwrap_or_else(|_| {
                    Err(pingora::Error::explain(
                        pingora::ErrorType::ReadTimedout,
                        format!("no page within {PAGE_TIMEOUT:?}"),
                    ))
                })
        };
        match fetched.await {
            Ok((head, body)) => Reply {
                status: code,
                headers: head
                    .headers
                    .iter()
                    .filter(|(k, _)| {
                        !HOP_BY_HOP.contains(&k.as_str()) && *k != http::header::CONTENT_LENGTH
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                body,
            },
            Err(e) => {
                tracing::warn!(service = %self.pool.name, error = %e, "errors: the error page could not be fetched");
                Reply {
                    status: code,
                    headers: Vec::new(),
                    body: Bytes::from_static(b"Bad Gateway"),
                }
            }
        }
    }

    /// The page's path and query: `{status}` is the status the client gets,
    /// `{originalStatus}` the one the response had, `{url}` the query-escaped request URL.
    fn target(&self, req: &RequestHeader, host: &str, status: u16, code: u16, tls: bool) -> String {
        if self.query.is_empty() {
            return "/".to_string();
        }
        let scheme = if tls { "https" } else { "http" };
        let path = req.uri.path_and_query().map_or("/", |p| p.as_str());
        let url = format!("{scheme}://{host}{path}");
        self.query
            .replace("{status}", &code.to_string())
            .replace("{originalStatus}", &status.to_string())
            .replace(
                "{url}",
                &utf8_percent_encode(&url, QUERY_ESCAPE).to_string(),
            )
    }

    fn page_request(
        &self,
        req: &RequestHeader,
        target: &str,
        host: &str,
    ) -> pingora::Result<RequestHeader> {
        let mut page = RequestHeader::build("GET", target.as_bytes(), None)?;
        for (name, value) in req.headers.iter() {
            let copied = if self.request_headers.is_empty() {
                !HOP_BY_HOP.contains(&name.as_str())
                    && *name != http::header::CONTENT_LENGTH
                    && *name != http::header::HOST
            } else {
                self.request_headers.contains(name)
            };
            if copied {
                page.append_header(name.clone(), value.clone())?;
            }
        }
        page.insert_header(http::header::HOST, host)?;
        Ok(page)
    }
}

/// The `errors` middleware in a chain; the proxy asks the chain for its pages.
#[derive(Debug)]
pub(crate) struct Errors(pub(crate) Arc<ErrorPages>);

impl Middleware for Errors {
    fn error_pages(&self) -> Option<Arc<ErrorPages>> {
        Some(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(query: &str) -> ErrorPages {
        let spec = ErrorsSpec {
            status: vec![(500, 599), (404, 404)],
            service: wharf_model::QualifiedName::new(
                "pages",
                &wharf_model::ProviderName::new("file"),
            ),
            query: query.into(),
            status_rewrites: vec![((502, 504), 500)],
            error_request_headers: Vec::new(),
        };
        let pool = ServicePool::standalone(&wharf_model::ServiceSpec::new(
            spec.service.clone(),
            Vec::new(),
            wharf_model::Origin::Internal,
        ));
        ErrorPages::new(&spec, Arc::new(pool)).unwrap()
    }

    #[test]
    fn ranges_rewrites_and_placeholders() {
        let p = pages("status/{status}?orig={originalStatus}&url={url}");
        assert!(p.catches(404) && p.catches(503) && !p.catches(403));
        let mut req = RequestHeader::build("GET", b"/a%20b/x?y=1&z", None).unwrap();
        req.insert_header("host", "errs.test").unwrap();
        assert_eq!(
            p.target(&req, "errs.test", 503, p.rewritten(503), false),
            "/status/500?orig=503&url=http%3A%2F%2Ferrs.test%2Fa%2520b%2Fx%3Fy%3D1%26z"
        );
        assert_eq!(pages("").target(&req, "errs.test", 404, 404, true), "/");
    }
}
