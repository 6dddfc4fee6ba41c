//! A servers transport, built once per pool: the CA list and client certificate loaded, the
//! options applied to each `HttpPeer` (TLS verification and SNI, mutual TLS, HTTP/2, timeouts,
//! pooling). TLS goes through pingora's connector, or through wharf's own
//! [`TlsClient`](crate::tls_client::TlsClient) when the transport sets versions, suites or a
//! SAN URI, which pingora's cannot.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pingora::protocols::tls::CaType;
use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::CertKey;
use wharf_model::{ConfigIssue, PemSource, ServersTransportSpec, UpstreamScheme};

use crate::backend_connect::BackendConnect;
use crate::h2_keepalive::KeepaliveTimes;
use crate::server::ServerState;
use crate::tls_client::{ClientIdentity, Handshake, TlsClient};

/// HTTP/2 streams one backend connection carries (pingora's default is 1).
const H2_STREAMS: usize = 100;

#[derive(Clone, Default)]
pub struct Transport {
    ca: Option<Arc<CaType>>,
    client_cert: Option<Arc<CertKey>>,
    server_name: Option<String>,
    insecure: bool,
    disable_http2: bool,
    /// `maxIdleConnsPerHost`: negative, no pooling; otherwise the most idle connections kept
    /// per server.
    max_idle: i64,
    /// wharf's own TLS client (None: pingora's connector does TLS); Err: the transport's TLS
    /// settings could not be built, and its https servers are refused rather than reached
    /// without them.
    tls: Option<Result<Arc<TlsClient>, Arc<str>>>,
    /// Go's PING health check on h2 connections when `pingTimeout` is not the wait pingora
    /// has built in: wharf's own connection then connects h2c and https servers.
    keepalive: Option<KeepaliveTimes>,
    /// `readIdleTimeout` for pingora's own pinger (when `pingTimeout` is its wait).
    h2_ping_interval: Option<Duration>,
    dial: Option<Duration>,
    response_header: Option<Duration>,
    idle: Option<Duration>,
    /// The transport's settings, hashed: part of each server's pool key, so a connection made
    /// under other settings (another CA, TLS version, ...) is not reused after a change.
    key: u64,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("server_name", &self.server_name)
            .field("insecure", &self.insecure)
            .field("custom_ca", &self.ca.is_some())
            .field("client_cert", &self.client_cert.is_some())
            .field("own_tls", &self.tls.is_some())
            .finish()
    }
}

fn read(source: &PemSource) -> Result<String, String> {
    match source {
        PemSource::Inline(pem) => Ok(pem.clone()),
        PemSource::File(path) => std::fs::read_to_string(path).map_err(|e| e.to_string()),
    }
}

fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

impl Transport {
    /// Builds `spec`; what cannot be read is reported with the transport's origin and left
    /// out (a backend that needs it then fails its handshakes, visibly, with 502).
    pub fn build(spec: &ServersTransportSpec) -> (Transport, Vec<ConfigIssue>) {
        let mut issues = Vec::new();
        let mut problem = |what: String, hint: &str| {
            issues.push(
                ConfigIssue::error(
                    spec.origin.clone(),
                    format!("servers transport `{}`: {what}", spec.name),
                )
                .with_hint(hint.to_string()),
            );
        };
        let mut pem = String::new();
        for ca in &spec.root_cas {
            match read(ca) {
                Ok(text) => {
                    if ca_list(&text).is_ok() {
                        pem.push_str(&text);
                        pem.push('\n');
                    } else {
                        problem(
                            format!(
                                "root CA {} is not a PEM certificate list; it is left out",
                                ca.describe()
                            ),
                            "give a PEM file of CA certificates",
                        );
                    }
                }
                Err(e) => problem(
                    format!("cannot read root CA {}: {e}; it is left out", ca.describe()),
                    "check the path and permissions",
                ),
            }
        }
        let ca = if pem.is_empty() {
            None
        } else {
            ca_list(&pem).ok()
        };
        let identity = spec.certificates.first().and_then(|c| {
            let loaded = read(&c.cert).and_then(|cert| Ok((cert, read(&c.key)?)));
            match loaded.and_then(|(cert, key)| client_identity(&cert, &key)) {
                Ok(k) => Some(k),
                Err(e) => {
                    problem(
                        format!(
                            "client certificate {}: {e}; none is presented",
                            c.cert.describe()
                        ),
                        "give a PEM certificate and its key",
                    );
                    None
                }
            }
        });
        let client_cert = identity.as_ref().map(|(chain, key)| cert_key(chain, key));
        let read_idle = nonzero(spec.timeouts.read_idle);
        let pingoras_wait = spec.timeouts.ping == wharf_model::PINGORA_PING_WAIT;
        let keepalive = read_idle
            .filter(|_| !pingoras_wait)
            .map(|read_idle| KeepaliveTimes {
                read_idle,
                ping_timeout: spec.timeouts.ping,
            });
        let tls = if spec.custom_tls() || keepalive.is_some() {
            let roots = der_certificates(&pem)
                .unwrap_or_default()
                .into_iter()
                .map(rustls_pki_types::CertificateDer::from)
                .collect();
            Some(match TlsClient::build(spec, roots, identity) {
                Ok(client) => Ok(Arc::new(client)),
                Err(e) => {
                    let why = format!(
                        "its TLS settings cannot be used: {e}; its https servers are not reached"
                    );
                    problem(
                        why.clone(),
                        "check minVersion, maxVersion, cipherSuites and the certificates",
                    );
                    Err(Arc::from(why))
                }
            })
        } else {
            None
        };
        let t = &spec.timeouts;
        let transport = Transport {
            ca,
            client_cert,
            max_idle: spec.max_idle_conns_per_host,
            tls,
            keepalive,
            h2_ping_interval: read_idle.filter(|_| pingoras_wait),
            server_name: spec.server_name.clone(),
            insecure: spec.insecure_skip_verify,
            disable_http2: spec.disable_http2,
            dial: nonzero(t.dial),
            response_header: nonzero(t.response_header),
            idle: nonzero(t.idle_conn),
            key: {
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                spec.hash(&mut hasher);
                hasher.finish()
            },
        };
        (transport, issues)
    }

    /// A peer for one server at `addr`, connections pooled under `group`.
    pub fn peer(
        &self,
        addr: SocketAddr,
        scheme: UpstreamScheme,
        host: &str,
        group: u64,
    ) -> HttpPeer {
        let sni = self.server_name.as_deref().unwrap_or(host);
        let mut peer = HttpPeer::new(addr, scheme == UpstreamScheme::Https, sni.to_string());
        let o = &mut peer.options;
        o.connection_timeout = self.dial;
        // Every wait for the backend (Traefik bounds only the wait for the response head).
        o.read_timeout = self.response_header;
        o.idle_timeout = if self.max_idle >= 0 {
            self.idle
        } else {
            Some(Duration::ZERO)
        };
        o.h2_ping_interval = self.h2_ping_interval;
        o.verify_cert = !self.insecure;
        o.verify_hostname = !self.insecure;
        o.ca.clone_from(&self.ca);
        peer.client_cert_key.clone_from(&self.client_cert);
        peer.group_key = group;
        match scheme {
            UpstreamScheme::H2c => {
                peer.options.set_http_version(2, 2);
                peer.options.max_h2_streams = H2_STREAMS;
            }
            UpstreamScheme::Https if !self.disable_http2 => {
                peer.options.set_http_version(2, 1);
                peer.options.max_h2_streams = H2_STREAMS;
            }
            _ => {}
        }
        peer
    }
}

/// How pingora reaches a server: wharf's own connection ([`BackendConnect`]).
pub(crate) type Connector = Arc<dyn pingora::connectors::L4Connect + Send + Sync>;

impl Transport {
    /// wharf's connection to the server of `state`, given up when it leaves its service.
    fn connect(
        &self,
        state: &ServerState,
        tls: Option<Result<Handshake, Arc<str>>>,
        expect_h2: bool,
        learn: Option<Arc<ServerState>>,
    ) -> Connector {
        Arc::new(BackendConnect {
            dial: self.dial,
            tls,
            expect_h2,
            learn,
            keepalive: self.keepalive,
            left: state.left().clone(),
        })
    }

    /// The connection to a server that pingora's connector would make itself (plain TCP,
    /// pingora's TLS over it), given up when the server leaves its service. A pool makes one
    /// per server, so a request does not allocate one.
    pub(crate) fn plain_connect(&self, state: &ServerState) -> Connector {
        self.connect(state, None, false, None)
    }

    /// A peer for a server of a pool (requests and health checks), whose learnt state decides
    /// the protocol when wharf's own TLS client connects. `h2_only`: a gRPC health check.
    /// `plain`: the server's [`Transport::plain_connect`] when the caller keeps one.
    pub fn server_peer(
        &self,
        addr: SocketAddr,
        scheme: UpstreamScheme,
        host: &str,
        state: &Arc<ServerState>,
        h2_only: bool,
        plain: Option<&Connector>,
    ) -> HttpPeer {
        let own = |tls, expect_h2, learn| Some(self.connect(state, tls, expect_h2, learn));
        // The server's connections, under these settings.
        let group = state.id ^ self.key;
        let mut peer = match (scheme, &self.tls) {
            (UpstreamScheme::Https, Some(tls)) => {
                // pingora speaks plain HTTP over the socket wharf's connection hands it.
                let mut peer = self.peer(addr, UpstreamScheme::Http, host, group);
                let offer_h2 = h2_only || !self.disable_http2;
                let expect_h2 = h2_only || (offer_h2 && state.speaks_h2());
                let learn = (!h2_only).then(|| state.clone());
                let handshake = match tls {
                    Ok(tls) => Ok(tls.handshake(host, offer_h2, h2_only)),
                    Err(why) => Err(why.clone()),
                };
                peer.options.custom_l4 = own(Some(handshake), expect_h2, learn);
                if expect_h2 {
                    peer.options.set_http_version(2, 2);
                    peer.options.max_h2_streams = H2_STREAMS;
                }
                peer
            }
            (UpstreamScheme::H2c, _) if self.keepalive.is_some() => {
                let mut peer = self.peer(addr, scheme, host, group);
                peer.options.custom_l4 = own(None, true, None);
                peer
            }
            _ => {
                let mut peer = self.peer(addr, scheme, host, group);
                peer.options.custom_l4 = Some(match plain {
                    Some(plain) => plain.clone(),
                    None => self.plain_connect(state),
                });
                peer
            }
        };
        if h2_only {
            peer.options.set_http_version(2, 2);
        }
        // maxIdleConnsPerHost: a connection that would be one idle too many once this request
        // ends is closed then instead of pooled (Go's 0 means its default, 2).
        let max_idle = match self.max_idle {
            0 => 2,
            n => n,
        };
        if max_idle > 0 && i64::from(state.in_flight()) > max_idle {
            peer.options.idle_timeout = Some(Duration::ZERO);
        }
        peer
    }
}

/// PEM certificates as pingora's CA list (checked at load; a bad one is a build error).
pub fn ca_list(pem: &str) -> Result<Arc<CaType>, String> {
    use pingora::utils::tls::{parse_x509, WrappedX509};
    Ok(der_certificates(pem)?
        .into_iter()
        .map(|der| WrappedX509::new(der, parse_x509))
        .collect::<Vec<_>>()
        .into())
}

/// A PEM certificate chain and key as pingora's client certificate.
pub fn client_cert(cert: &str, key: &str) -> Result<Arc<CertKey>, String> {
    let (chain, key) = client_identity(cert, key)?;
    Ok(cert_key(&chain, &key))
}

fn cert_key(
    chain: &[rustls_pki_types::CertificateDer<'static>],
    key: &rustls_pki_types::PrivateKeyDer<'static>,
) -> Arc<CertKey> {
    Arc::new(CertKey::new(
        chain.iter().map(|c| c.to_vec()).collect(),
        key.secret_der().to_vec(),
    ))
}

/// A PEM certificate chain and key, checked, as rustls's types.
fn client_identity(cert: &str, key: &str) -> Result<ClientIdentity, String> {
    use rustls_pki_types::pem::PemObject;
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|e| format!("client key: {e}"))?;
    let chain = der_certificates(cert)?
        .into_iter()
        .map(rustls_pki_types::CertificateDer::from)
        .collect();
    Ok((chain, key))
}

fn der_certificates(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<Vec<u8>> = rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificates: {e}"))?;
    // pingora parses each certificate and panics on a bad one: checked here first.
    if certs.is_empty()
        || certs
            .iter()
            .any(|c| x509_parser::parse_x509_certificate(c).is_err())
    {
        return Err("not a valid PEM certificate list".into());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_model::{Origin, ProviderName, QualifiedName, TlsVersion};

    fn spec() -> ServersTransportSpec {
        let name = QualifiedName::new("t", &ProviderName::new("file"));
        ServersTransportSpec::new(name, Origin::Default)
    }

    fn group(spec: &ServersTransportSpec, state: &Arc<ServerState>) -> u64 {
        let addr: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        Transport::build(spec)
            .0
            .server_peer(addr, UpstreamScheme::Https, "b.test", state, false, None)
            .group_key
    }

    #[test]
    fn a_servers_connections_are_pooled_apart_under_other_settings() {
        let state = Arc::new(ServerState::new());
        let before = spec();
        let mut tls13 = spec();
        tls13.min_version = TlsVersion::Tls13;
        assert_eq!(
            group(&before, &state),
            group(&spec(), &state),
            "same settings"
        );
        assert_ne!(
            group(&tls13, &state),
            group(&before, &state),
            "TLS 1.3 only"
        );
        let other = Arc::new(ServerState::new());
        assert_ne!(
            group(&before, &state),
            group(&before, &other),
            "another server"
        );
    }
}
