//! The one place an upstream `HttpPeer` is set up (proxied requests and health checks alike).

use std::net::SocketAddr;
use std::time::Duration;

use pingora::upstreams::peer::HttpPeer;
use wharf_model::UpstreamScheme;

/// Traefik's `dialTimeout` default.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(30);
/// Traefik's `idleConnTimeout` default.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// A peer for `addr` speaking `scheme`, TLS checked against `sni`. Connections are pooled
/// under `group` (a server's state id): never shared with another server that took the same
/// address.
pub fn http_peer(addr: SocketAddr, scheme: UpstreamScheme, sni: &str, group: u64) -> HttpPeer {
    let mut peer = HttpPeer::new(addr, scheme == UpstreamScheme::Https, sni.to_string());
    peer.options.connection_timeout = Some(DIAL_TIMEOUT);
    peer.options.idle_timeout = Some(IDLE_TIMEOUT);
    peer.group_key = group;
    match scheme {
        UpstreamScheme::H2c => peer.options.set_http_version(2, 2),
        UpstreamScheme::Https => peer.options.set_http_version(2, 1),
        UpstreamScheme::Http => {}
    }
    peer
}
