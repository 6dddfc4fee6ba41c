//! One service's servers, their shared state, and what the proxy reports back after an
//! attempt (which feeds passive health and the least-time strategy).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use wharf_model::{QualifiedName, ServiceSpec};

use crate::schedule::Schedule;
use crate::server::{Server, ServerState};

/// How long a server whose connection failed is avoided when no health check watches it.
pub const CONNECT_FAILURE_BACKOFF: Duration = Duration::from_secs(3);

/// The servers of one service. Selection never locks.
#[derive(Debug)]
pub struct ServicePool {
    pub name: QualifiedName,
    pub servers: Vec<Server>,
    /// Per server (same index), shared with the pools this service had before.
    pub states: Vec<Arc<ServerState>>,
    /// Per server (same index): its connection when wharf's TLS client is not needed.
    connects: Vec<crate::transport::Connector>,
    /// How the servers are reached.
    pub transport: crate::Transport,
    /// What building the transport reported (kept while the pool lives).
    pub issues: Vec<wharf_model::ConfigIssue>,
    /// Told when a server goes down or comes back outside the health-check tasks (the API's
    /// serverStatus follows).
    pub(crate) changes: Option<std::sync::Arc<tokio::sync::Notify>>,
    pub(crate) schedule: Schedule,
    pub(crate) next: AtomicU64,
    /// What it was built from (its options are read from here).
    pub spec: ServiceSpec,
    /// `traefik_service_*`: set by the control plane (kept by service name, so it outlives
    /// the pool when the service changes).
    pub metrics: std::sync::OnceLock<Arc<wharf_observe::RequestSeries>>,
}

/// How an attempt on a server ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No connection (refused, unreachable, timed out): nothing reached the server.
    ConnectFailed,
    /// The connection was lost before an answer.
    NoAnswer,
    /// An answer with this status, `ttfb` after the attempt began.
    Answered { status: u16, ttfb: Duration },
}

impl ServicePool {
    /// A pool for `spec`; `state` gives each server's state (kept from earlier pools).
    pub fn new(spec: &ServiceSpec, mut state: impl FnMut(&str) -> Arc<ServerState>) -> Self {
        let servers: Vec<Server> = spec.servers.iter().map(Server::from_spec).collect();
        let states: Vec<Arc<ServerState>> = spec.servers.iter().map(|s| state(&s.url)).collect();
        let weights: Vec<u32> = spec.servers.iter().map(|s| s.weight).collect();
        let (transport, issues) = crate::Transport::build(&spec.transport);
        ServicePool {
            connects: states.iter().map(|s| transport.plain_connect(s)).collect(),
            transport,
            issues,
            changes: None,
            name: spec.name.clone(),
            servers,
            states,
            schedule: Schedule::new(&weights),
            next: AtomicU64::new(0),
            spec: spec.clone(),
            metrics: std::sync::OnceLock::new(),
        }
    }

    /// A pool with fresh state for every server (tests, one-off services).
    pub fn standalone(spec: &ServiceSpec) -> Self {
        ServicePool::new(spec, |_| Arc::new(ServerState::new()))
    }

    /// Whether this pool already serves `spec` exactly (so it is kept across a swap).
    pub fn serves(&self, spec: &ServiceSpec) -> bool {
        self.spec == *spec
    }

    /// An active health check watches the servers (it alone brings a server back).
    pub fn health_checked(&self) -> bool {
        self.spec.health_check.is_some()
    }

    fn changed(&self) {
        if let Some(changes) = &self.changes {
            changes.notify_one();
        }
    }

    /// The peer for server `index` at `addr` (its address now).
    pub fn peer(
        &self,
        index: usize,
        addr: std::net::SocketAddr,
    ) -> pingora::upstreams::peer::HttpPeer {
        let server = &self.servers[index];
        self.transport.server_peer(
            addr,
            server.scheme,
            &server.host,
            &self.states[index],
            false,
            self.connects.get(index),
        )
    }

    /// Whether any server may get a request now.
    pub fn any_available(&self) -> bool {
        self.servers
            .iter()
            .zip(&self.states)
            .any(|(s, st)| s.weight > 0 && st.available())
    }

    /// Feeds an attempt's outcome to the server's state: passive health, the least-time
    /// average, and the connect-failure backoff.
    pub fn report(&self, index: usize, outcome: Outcome) {
        let Some(state) = self.states.get(index) else {
            return;
        };
        if state.has_left() {
            // Gone from the configuration: nothing to learn (nor to warn about).
            return;
        }
        let failed = match outcome {
            Outcome::ConnectFailed => {
                if self.health_checked() {
                    // Out until its next good check.
                    if state.set_active(false) {
                        self.changed();
                        tracing::warn!(service = %self.name, server = %self.servers[index].url, "connection failed: the server is out until its health check passes");
                    }
                } else {
                    state.back_off(CONNECT_FAILURE_BACKOFF);
                    tracing::warn!(service = %self.name, server = %self.servers[index].url, "connection failed: the server is avoided for {CONNECT_FAILURE_BACKOFF:?}");
                }
                true
            }
            Outcome::NoAnswer => true,
            Outcome::Answered { status, ttfb } => {
                state.record_ttfb(ttfb);
                status >= 500
            }
        };
        let Some(passive) = self.spec.passive_health_check else {
            return;
        };
        if !failed {
            state.passive_success();
        } else if state.passive_failure(passive.failure_window, passive.max_failed_attempts) {
            tracing::warn!(service = %self.name, server = %self.servers[index].url, "passive health check: the server is out for {:?}", passive.failure_window);
            if self.health_checked() {
                // As Traefik: with an active check, only a good check brings it back.
                state.set_active(false);
            } else if let (Some(changes), Ok(runtime)) =
                (&self.changes, tokio::runtime::Handle::try_current())
            {
                // It comes back by itself at the window's end: say so then.
                let changes = changes.clone();
                let window = passive.failure_window;
                runtime.spawn(async move {
                    tokio::time::sleep(window).await;
                    changes.notify_one();
                });
            }
            self.changed();
        }
    }
}

/// A service named `name`, one server per weight (`http://10.0.0.<n>:80`), for unit tests.
#[cfg(test)]
pub(crate) fn test_service(name: &str, weights: &[u32]) -> ServiceSpec {
    use wharf_model::{ServerSpec, UpstreamScheme};
    let servers = weights
        .iter()
        .enumerate()
        .map(|(n, w)| ServerSpec {
            url: format!("http://10.0.0.{n}:80"),
            scheme: UpstreamScheme::Http,
            host: format!("10.0.0.{n}"),
            port: 80,
            weight: *w,
            path_prefix: String::new(),
        })
        .collect();
    ServiceSpec::new(
        QualifiedName::new(name, &wharf_model::ProviderName::new("file")),
        servers,
        wharf_model::Origin::Default,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(weights: &[u32]) -> ServiceSpec {
        test_service("s", weights)
    }

    #[test]
    fn a_connection_failure_takes_the_server_out() {
        let pool = ServicePool::standalone(&spec(&[1, 1]));
        pool.report(0, Outcome::ConnectFailed);
        assert!(!pool.states[0].preferred() && pool.states[0].available());
        assert!(pool.states[1].preferred());
        let mut checked = spec(&[1, 1]);
        checked.health_check = None;
        checked.passive_health_check = Some(wharf_model::PassiveHealthCheckSpec {
            failure_window: Duration::from_secs(60),
            max_failed_attempts: 2,
        });
        let pool = ServicePool::standalone(&checked);
        pool.report(
            1,
            Outcome::Answered {
                status: 502,
                ttfb: Duration::ZERO,
            },
        );
        assert!(pool.states[1].available());
        pool.report(
            1,
            Outcome::Answered {
                status: 500,
                ttfb: Duration::ZERO,
            },
        );
        assert!(!pool.states[1].available());
        assert!(pool.any_available());
    }
}
