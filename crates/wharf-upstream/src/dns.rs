//! [`CachedName`]: a server's host name, resolved off the request path. The first request
//! to a name waits for its answer; after that, requests use the cached addresses, and an
//! answer past its time is refreshed in the background while the old one keeps serving
//! (stale-while-revalidate). Resolution uses hickory, which reads `/etc/resolv.conf` and
//! `/etc/hosts` itself, so it works in a static binary in a `FROM scratch` image (Docker's
//! embedded DNS included).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use hickory_resolver::TokioResolver;

/// An answer is used at most this long before it is refreshed (Docker's DNS says 600 s;
/// containers come and go faster).
const MAX_TTL: Duration = Duration::from_secs(30);
const MIN_TTL: Duration = Duration::from_secs(1);
/// A failed lookup is retried after this long, not on every request.
const NEGATIVE_TTL: Duration = Duration::from_secs(2);

#[derive(Debug)]
struct Answer {
    addrs: Result<Vec<SocketAddr>, String>,
    fresh_until: Instant,
}

#[derive(Debug)]
pub struct CachedName {
    host: String,
    port: u16,
    answer: ArcSwapOption<Answer>,
    refreshing: AtomicBool,
}

impl PartialEq for CachedName {
    fn eq(&self, other: &Self) -> bool {
        self.host == other.host && self.port == other.port
    }
}

impl Eq for CachedName {}

fn resolver() -> &'static TokioResolver {
    static RESOLVER: OnceLock<TokioResolver> = OnceLock::new();
    RESOLVER.get_or_init(|| match TokioResolver::builder_tokio() {
        Ok(builder) => builder.build(),
        Err(e) => {
            tracing::warn!(error = %e, "no usable /etc/resolv.conf; resolving with defaults");
            TokioResolver::builder_with_config(
                hickory_resolver::config::ResolverConfig::default(),
                hickory_resolver::name_server::TokioConnectionProvider::default(),
            )
            .build()
        }
    })
}

impl CachedName {
    pub fn new(host: &str, port: u16) -> Arc<Self> {
        Arc::new(CachedName {
            host: host.to_string(),
            port,
            answer: ArcSwapOption::empty(),
            refreshing: AtomicBool::new(false),
        })
    }

    /// The address to connect to: the cached one, or (first use, or the last lookup
    /// failed) a fresh lookup.
    pub async fn addr(self: &Arc<Self>) -> Result<SocketAddr, String> {
        if let Some(answer) = self.answer.load_full() {
            let fresh = answer.fresh_until > Instant::now();
            match (&answer.addrs, fresh) {
                (Ok(addrs), true) => return first(addrs, &self.host),
                (Err(e), true) => return Err(e.clone()),
                (Ok(addrs), false) => {
                    if !self.refreshing.swap(true, Ordering::AcqRel) {
                        let name = self.clone();
                        tokio::spawn(async move { name.refresh().await });
                    }
                    return first(addrs, &self.host);
                }
                (Err(_), false) => {}
            }
        }
        self.refresh().await;
        match self.answer.load().as_deref() {
            Some(Answer {
                addrs: Ok(addrs), ..
            }) => first(addrs, &self.host),
            Some(Answer { addrs: Err(e), .. }) => Err(e.clone()),
            None => Err(format!("cannot resolve {}", self.host)),
        }
    }

    async fn refresh(&self) {
        let now = Instant::now();
        let answer = match resolver().lookup_ip(self.host.as_str()).await {
            Ok(lookup) => {
                let ttl = lookup
                    .valid_until()
                    .saturating_duration_since(now)
                    .clamp(MIN_TTL, MAX_TTL);
                Answer {
                    addrs: Ok(lookup
                        .iter()
                        .map(|ip| SocketAddr::new(ip, self.port))
                        .collect()),
                    fresh_until: now + ttl,
                }
            }
            Err(e) => {
                let message = format!("cannot resolve {}: {e}", self.host);
                tracing::warn!("{message}");
                Answer {
                    addrs: Err(message),
                    fresh_until: now + NEGATIVE_TTL,
                }
            }
        };
        self.answer.store(Some(Arc::new(answer)));
        self.refreshing.store(false, Ordering::Release);
    }
}

/// Where to connect: an IP literal as it is, a host name through its cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Ip(SocketAddr),
    Name(Arc<CachedName>),
}

impl Target {
    pub fn new(host: &str, port: u16) -> Self {
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        match literal.parse::<std::net::IpAddr>() {
            Ok(ip) => Target::Ip(SocketAddr::new(ip, port)),
            Err(_) => Target::Name(CachedName::new(host, port)),
        }
    }

    /// The address to connect to now (the first of a name's, as Go's dialer does).
    pub async fn addr(&self) -> Result<SocketAddr, String> {
        match self {
            Target::Ip(addr) => Ok(*addr),
            Target::Name(name) => name.addr().await,
        }
    }
}

fn first(addrs: &[SocketAddr], host: &str) -> Result<SocketAddr, String> {
    addrs
        .first()
        .copied()
        .ok_or_else(|| format!("cannot resolve {host}: no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_are_resolved_once_then_served_from_the_cache() {
        let name = CachedName::new("localhost", 8080);
        let addr = name.addr().await.expect("localhost resolves");
        assert!(addr.ip().is_loopback());
        assert_eq!(addr.port(), 8080);
        let cached = name.answer.load_full().expect("cached");
        assert_eq!(name.addr().await, Ok(addr));
        assert!(
            Arc::ptr_eq(&cached, &name.answer.load_full().unwrap()),
            "a fresh answer is not looked up again"
        );
    }

    #[tokio::test]
    async fn a_failed_lookup_is_an_error_and_cached_briefly() {
        let name = CachedName::new("no-such-host.invalid", 80);
        let err = name.addr().await.unwrap_err();
        assert!(err.contains("no-such-host.invalid"), "{err}");
        assert!(name.answer.load().as_ref().unwrap().addrs.is_err());
    }
}
