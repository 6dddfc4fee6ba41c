//! One service's servers and a lock-free weighted round robin over them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::Target;

use wharf_model::{QualifiedName, ServerSpec, ServiceSpec, UpstreamScheme};

/// One upstream server, resolved as far as it can be ahead of time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub url: String,
    pub scheme: UpstreamScheme,
    pub host: String,
    pub port: u16,
    /// Where to connect (an IP literal, or the host name's cached addresses).
    pub target: Target,
    /// `host:port` as sent in `Host` when passHostHeader is false.
    pub authority: String,
}

impl Server {
    fn from_spec(s: &ServerSpec) -> Self {
        let authority = if s.host.contains(':') {
            format!("[{}]:{}", s.host, s.port)
        } else {
            format!("{}:{}", s.host, s.port)
        };
        Server {
            url: s.url.clone(),
            scheme: s.scheme,
            host: s.host.clone(),
            port: s.port,
            target: Target::new(&s.host, s.port),
            authority,
        }
    }
}

/// The servers of one service. Selection never locks.
#[derive(Debug)]
pub struct ServicePool {
    /// Unique per pool instance: upstream connections are pooled per instance, so a service
    /// whose servers changed (a container replaced by one that took over its IP) never
    /// reuses a connection made to the old one.
    pub instance: u64,
    pub name: QualifiedName,
    pub servers: Vec<Server>,
    pub pass_host_header: bool,
    /// Server indices in weighted round-robin order, one full cycle.
    schedule: Vec<u32>,
    next: AtomicUsize,
    spec_servers: Vec<ServerSpec>,
}

impl ServicePool {
    pub fn new(spec: &ServiceSpec) -> Self {
        let servers: Vec<Server> = spec.servers.iter().map(Server::from_spec).collect();
        let weights: Vec<u32> = spec.servers.iter().map(|s| s.weight).collect();
        static INSTANCES: AtomicU64 = AtomicU64::new(1);
        ServicePool {
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            name: spec.name.clone(),
            servers,
            pass_host_header: spec.pass_host_header,
            schedule: weighted_schedule(&weights),
            next: AtomicUsize::new(0),
            spec_servers: spec.servers.clone(),
        }
    }

    /// Whether this pool already serves `spec` exactly (so it can be kept across a swap).
    pub fn serves(&self, spec: &ServiceSpec) -> bool {
        self.spec_servers == spec.servers && self.pass_host_header == spec.pass_host_header
    }

    /// The next server in weighted round-robin order, with its index, or None if the service
    /// has no server.
    pub fn select(&self) -> Option<(usize, &Server)> {
        self.select_avoiding(0)
    }

    /// The next server in turn that is not in `avoid` (a bit per server index, the first 64),
    /// or the next in turn if every server is to be avoided. For a retry: another server
    /// than the ones that just failed, whatever other requests did to the rotation.
    pub fn select_avoiding(&self, avoid: u64) -> Option<(usize, &Server)> {
        let len = self.schedule.len();
        if len == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let pick = (0..len)
            .map(|k| self.schedule[start.wrapping_add(k) % len] as usize)
            .find(|&idx| idx >= 64 || avoid & (1u64 << idx) == 0)
            .unwrap_or(self.schedule[start % len] as usize);
        self.servers.get(pick).map(|s| (pick, s))
    }
}

/// Earliest-deadline-first order over one cycle (sum of weights, capped), like Traefik's wrr:
/// equal weights alternate strictly, 3:1 interleaves.
fn weighted_schedule(weights: &[u32]) -> Vec<u32> {
    let active: Vec<(usize, f64)> = weights
        .iter()
        .enumerate()
        .filter(|(_, w)| **w > 0)
        .map(|(i, w)| (i, f64::from(*w)))
        .collect();
    if active.is_empty() {
        return Vec::new();
    }
    let total: u64 = active.iter().map(|(_, w)| *w as u64).sum();
    let len = total.min(4096) as usize;
    let mut deadlines: Vec<f64> = active.iter().map(|(_, w)| 1.0 / w).collect();
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        let (pos, _) = deadlines
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(&b.0)))
            .expect("non-empty");
        out.push(active[pos].0 as u32);
        deadlines[pos] += 1.0 / active[pos].1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_avoids_the_servers_it_tried() {
        let spec = |n: usize| ServerSpec {
            url: format!("http://10.0.0.{n}:80"),
            scheme: UpstreamScheme::Http,
            host: format!("10.0.0.{n}"),
            port: 80,
            weight: 1,
        };
        let pool = ServicePool::new(&ServiceSpec {
            name: QualifiedName::new("s", &wharf_model::ProviderName::new("file")),
            servers: vec![spec(1), spec(2), spec(3)],
            pass_host_header: true,
            origin: wharf_model::Origin::Default,
        });
        for _ in 0..10 {
            assert_eq!(pool.select_avoiding(0b011).map(|(i, _)| i), Some(2));
        }
        assert!(
            pool.select_avoiding(0b111).is_some(),
            "all tried: the next in turn"
        );
    }

    #[test]
    fn equal_weights_alternate_and_weights_interleave() {
        assert_eq!(weighted_schedule(&[1, 1]), vec![0, 1]);
        let s = weighted_schedule(&[3, 1]);
        assert_eq!(s.iter().filter(|i| **i == 0).count(), 3);
        assert_eq!(s.len(), 4);
        assert_eq!(weighted_schedule(&[0, 2]), vec![1, 1]);
        assert!(weighted_schedule(&[]).is_empty());
    }
}
