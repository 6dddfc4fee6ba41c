//! `wharf healthcheck [flags]`: Traefik's `healthcheck` command, for a Docker `HEALTHCHECK` in
//! an image with no shell or curl. It reads the same static configuration as the server and
//! asks the running instance's `/ping` (its entrypoint on loopback); with ping off, wharf's
//! `/health/ready` on the `traefik` entrypoint. Exit 0: healthy; 1: not.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context};
use pingora::http::RequestHeader;
use wharf_config::load_static;
use wharf_model::{StaticConfig, UpstreamScheme};

const TIMEOUT: Duration = Duration::from_secs(5);

pub fn healthcheck(args: Vec<String>) -> anyhow::Result<()> {
    let loaded = load_static(&crate::run::inputs(args)?)?;
    let (addr, path) = probe(&loaded.config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the probe")?;
    let status = runtime.block_on(async {
        let client = wharf_upstream::Client::new();
        let peer = wharf_upstream::http_peer(addr, UpstreamScheme::Http, "", 0);
        let mut req = RequestHeader::build("GET", path.as_bytes(), None)?;
        req.insert_header(
            "Host",
            wharf_upstream::authority(&addr.ip().to_string(), addr.port()),
        )?;
        let answer = tokio::time::timeout(TIMEOUT, client.send(&peer, req, None)).await;
        match answer {
            Ok(Ok((head, _))) => Ok(head.status.as_u16()),
            Ok(Err(e)) => Err(anyhow::anyhow!("{e}")),
            Err(_) => Err(anyhow::anyhow!("no answer within {TIMEOUT:?}")),
        }
    });
    let url = format!("http://{addr}{path}");
    match status {
        Ok(200) => {
            println!("OK: {url}");
            Ok(())
        }
        Ok(code) => bail!("bad healthcheck status: {code} from {url}"),
        Err(e) => bail!("error calling healthcheck {url}: {e}"),
    }
}

/// Where to ask: the ping entrypoint's `/ping`, else the `traefik` entrypoint's readiness.
fn probe(statics: &StaticConfig) -> anyhow::Result<(SocketAddr, &'static str)> {
    let (ep, path) = match &statics.ping {
        Some(ping) => (ping.entry_point.as_str(), "/ping"),
        None if statics.entry_points.contains_key("traefik") => ("traefik", "/health/ready"),
        None => bail!(
            "ping is not enabled and there is no `traefik` entrypoint to ask: enable ping (`--ping=true`)"
        ),
    };
    let Some(entry_point) = statics.entry_points.get(ep) else {
        bail!("the entrypoint `{ep}` that serves {path} is not defined");
    };
    Ok((loopback(entry_point.address), path))
}

/// A wildcard listen address is asked on loopback.
fn loopback(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}
