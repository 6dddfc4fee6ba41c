//! A peer with Traefik's default transport (auth servers, error pages, health checks of
//! services without a transport of their own, the healthcheck command).

use std::net::SocketAddr;
use std::sync::OnceLock;

use pingora::upstreams::peer::HttpPeer;
use wharf_model::{ProviderName, QualifiedName, ServersTransportSpec, UpstreamScheme};

use crate::transport::Transport;

/// A peer for `addr` speaking `scheme` with Traefik's default transport options.
pub fn http_peer(addr: SocketAddr, scheme: UpstreamScheme, sni: &str, group: u64) -> HttpPeer {
    static DEFAULT: OnceLock<Transport> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            let name = QualifiedName::new("default", &ProviderName::new("internal"));
            Transport::build(&ServersTransportSpec::new(
                name,
                wharf_model::Origin::Default,
            ))
            .0
        })
        .peer(addr, scheme, sni, group)
}
