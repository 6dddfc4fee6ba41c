//! Picking a server: the sticky cookie first, then the pool's strategy, over the servers that
//! are available (positive weight, healthy, not taken out) and not yet tried by this request.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use wharf_model::Strategy;

use crate::pool::ServicePool;
use crate::sticky;

/// What the request brings to the choice.
#[derive(Debug, Clone, Copy, Default)]
pub struct Choice<'a> {
    /// Servers this request already tried (a bit per index, the first 64).
    pub avoid: u64,
    /// The client's address (hrw).
    pub client_ip: Option<IpAddr>,
    /// The sticky cookie's value, when the pool has a sticky cookie and the request sent it.
    pub cookie: Option<&'a str>,
}

/// The server picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    pub index: usize,
    /// The response must pin the client to this server (`Set-Cookie`).
    pub set_cookie: bool,
}

/// How many cycle positions a wrr pick looks at before rotating over the servers directly.
const MAX_SCAN: usize = 64;

fn avoided(avoid: u64, index: usize) -> bool {
    u32::try_from(index)
        .ok()
        .and_then(|i| 1u64.checked_shl(i))
        .is_some_and(|bit| avoid & bit != 0)
}

impl ServicePool {
    fn usable(&self, index: usize, preferred: bool) -> bool {
        let state = &self.states[index];
        self.servers[index].weight > 0
            && if preferred {
                state.preferred()
            } else {
                state.available()
            }
    }

    /// The server for one attempt, or None when no server is available (503).
    pub fn select(&self, choice: &Choice<'_>) -> Option<Pick> {
        let sticky = self.spec.sticky.is_some();
        if let Some(value) = choice.cookie.filter(|_| sticky) {
            if let Some((index, rewrite)) = sticky::find(&self.servers, value) {
                if self.states[index].available() && !avoided(choice.avoid, index) {
                    return Some(Pick {
                        index,
                        set_cookie: rewrite,
                    });
                }
            }
        }
        // Servers not yet tried and not backing off first; then those backing off; a retry
        // with all of them tried goes to any.
        let tiers = [
            (choice.avoid, true),
            (choice.avoid, false),
            (0, true),
            (0, false),
        ];
        let used = if choice.avoid == 0 { 2 } else { 4 };
        let index = tiers[..used]
            .iter()
            .find_map(|(avoid, preferred)| self.pick(choice, *avoid, *preferred))?;
        Some(Pick {
            index,
            set_cookie: sticky,
        })
    }

    fn pick(&self, choice: &Choice<'_>, avoid: u64, preferred: bool) -> Option<usize> {
        let ok = |i: usize| self.usable(i, preferred) && !avoided(avoid, i);
        match self.spec.strategy {
            Strategy::Wrr => self.wrr(ok),
            Strategy::P2c => self.p2c(ok),
            Strategy::Hrw => self.hrw(ok, choice.client_ip),
            Strategy::LeastTime => self.least_time(ok),
        }
    }

    /// The next server in the weighted cycle that `ok` accepts. Positions of servers it
    /// refuses are consumed (as Traefik pops a down server and goes on), so the others keep
    /// their shares.
    fn wrr(&self, ok: impl Fn(usize) -> bool) -> Option<usize> {
        if self.schedule.is_empty() {
            return None;
        }
        let mut n = 0;
        for _ in 0..MAX_SCAN {
            n = self.next.fetch_add(1, Ordering::Relaxed);
            let index = self.schedule.pick(n)?;
            if ok(index) {
                return Some(index);
            }
        }
        // Most of the cycle is refused (a heavy server is down): rotate over the rest.
        let len = self.servers.len();
        let start = usize::try_from(n % len as u64).unwrap_or(0);
        (0..len).map(|k| (start + k) % len).find(|i| ok(*i))
    }

    /// Power of two random choices: the one with fewer requests in flight.
    fn p2c(&self, ok: impl Fn(usize) -> bool) -> Option<usize> {
        let count = (0..self.servers.len()).filter(|i| ok(*i)).count();
        let nth = |k: usize| (0..self.servers.len()).filter(|i| ok(*i)).nth(k);
        match count {
            0 => None,
            1 => nth(0),
            _ => {
                let first = fastrand::usize(..count);
                let mut second = fastrand::usize(..count);
                if second == first {
                    second = (second + 1) % count;
                }
                let (a, b) = (nth(first)?, nth(second)?);
                if self.states[b].in_flight() < self.states[a].in_flight() {
                    Some(b)
                } else {
                    Some(a)
                }
            }
        }
    }

    /// Highest random weight of (client IP, server URL), Traefik's scoring, so a client
    /// lands where Traefik sent it.
    fn hrw(&self, ok: impl Fn(usize) -> bool, ip: Option<IpAddr>) -> Option<usize> {
        let candidates = (0..self.servers.len())
            .filter(|i| ok(*i))
            .map(|i| (i, &*self.servers[i].url, self.servers[i].weight));
        hrw_pick(ip, candidates)
    }

    /// The lowest average time to first byte scaled by the requests in flight and divided by
    /// the weight (Traefik's score); ties go to the weighted cycle.
    fn least_time(&self, ok: impl Fn(usize) -> bool) -> Option<usize> {
        let score = |i: usize| {
            let st = &self.states[i];
            st.ttfb_us() as f64 * (1.0 + f64::from(st.in_flight()))
                / f64::from(self.servers[i].weight.max(1))
        };
        let min = (0..self.servers.len())
            .filter(|i| ok(*i))
            .map(score)
            .min_by(f64::total_cmp)?;
        self.wrr(|i| ok(i) && score(i) <= min)
    }
}

/// The candidate (index, name, weight) with the highest random weight for the client `ip`;
/// the first of equal scores, as Traefik keeps it.
pub(crate) fn hrw_pick<'a>(
    ip: Option<IpAddr>,
    candidates: impl Iterator<Item = (usize, &'a str, u32)>,
) -> Option<usize> {
    let source = ip.map(|ip| ip.to_string()).unwrap_or_default();
    let mut best: Option<(usize, f64)> = None;
    for (i, name, weight) in candidates {
        let score = hrw_score(&source, name, weight);
        if best.is_none_or(|(_, b)| score > b) {
            best = Some((i, score));
        }
    }
    best.map(|(i, _)| i)
}

/// Go's `fnv.New64a` over source + name, mapped to (0, 1), then -weight / ln(score) as
/// Traefik's `1 / -ln(score) * weight`.
fn hrw_score(source: &str, name: &str, weight: u32) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in source.bytes().chain(name.bytes()) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let score = hash as f64 / 2f64.powi(64);
    (1.0 / -score.ln()) * f64::from(weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::{Outcome, ServicePool};
    use std::time::Duration;
    use wharf_model::ServiceSpec;

    fn spec(weights: &[u32]) -> ServiceSpec {
        crate::pool::test_service("s", weights)
    }

    fn picks(pool: &ServicePool, n: usize) -> Vec<usize> {
        (0..n)
            .map(|_| pool.select(&Choice::default()).unwrap().index)
            .collect()
    }

    #[test]
    fn a_retry_avoids_the_servers_it_tried() {
        let pool = ServicePool::standalone(&spec(&[1, 1, 1]));
        for _ in 0..10 {
            let c = Choice {
                avoid: 0b011,
                ..Choice::default()
            };
            assert_eq!(pool.select(&c).map(|p| p.index), Some(2));
        }
        let all = Choice {
            avoid: 0b111,
            ..Choice::default()
        };
        assert!(pool.select(&all).is_some(), "all tried: any");
    }

    #[test]
    fn a_down_server_keeps_the_others_shares() {
        let pool = ServicePool::standalone(&spec(&[1, 1, 1]));
        pool.states[0].set_active(false);
        let p = picks(&pool, 6);
        assert_eq!(p.iter().filter(|i| **i == 1).count(), 3, "{p:?}");
        assert_eq!(p.iter().filter(|i| **i == 2).count(), 3, "{p:?}");
        // The heavy server of an extreme ratio down: the light one takes everything.
        let pool = ServicePool::standalone(&spec(&[5000, 1]));
        pool.states[0].set_active(false);
        assert_eq!(picks(&pool, 5), vec![1; 5]);
        pool.states[1].set_active(false);
        assert_eq!(pool.select(&Choice::default()), None);
    }

    #[test]
    fn sticky_cookies_pin_and_repin() {
        let mut s = spec(&[1, 1]);
        s.sticky = Some(wharf_model::StickyCookieSpec {
            name: "c".into(),
            secure: false,
            http_only: false,
            same_site: None,
            max_age: 0,
            path: "/".into(),
            domain: None,
        });
        let pool = ServicePool::standalone(&s);
        let value = pool.servers[1].sticky_value.clone();
        let c = Choice {
            cookie: Some(&value),
            ..Choice::default()
        };
        for _ in 0..4 {
            assert_eq!(
                pool.select(&c),
                Some(Pick {
                    index: 1,
                    set_cookie: false
                })
            );
        }
        pool.states[1].set_active(false);
        assert_eq!(
            pool.select(&c),
            Some(Pick {
                index: 0,
                set_cookie: true
            })
        );
        let bogus = Choice {
            cookie: Some("nope"),
            ..Choice::default()
        };
        assert!(pool.select(&bogus).unwrap().set_cookie);
    }

    #[test]
    fn p2c_prefers_fewer_in_flight_and_least_time_the_fastest() {
        let mut s = spec(&[1, 1]);
        s.strategy = Strategy::P2c;
        let pool = ServicePool::standalone(&s);
        let _busy: Vec<_> = (0..5).map(|_| pool.states[0].begin()).collect();
        assert_eq!(picks(&pool, 20), vec![1; 20]);

        s.strategy = Strategy::LeastTime;
        let pool = ServicePool::standalone(&s);
        assert_eq!(picks(&pool, 4), vec![0, 1, 0, 1], "no samples: the cycle");
        pool.report(
            0,
            Outcome::Answered {
                status: 200,
                ttfb: Duration::from_millis(50),
            },
        );
        pool.report(
            1,
            Outcome::Answered {
                status: 200,
                ttfb: Duration::from_millis(5),
            },
        );
        assert_eq!(picks(&pool, 10), vec![1; 10]);
    }

    #[test]
    fn hrw_keeps_a_client_on_one_server() {
        let mut s = spec(&[1, 1, 1, 1]);
        s.strategy = Strategy::Hrw;
        let pool = ServicePool::standalone(&s);
        let mut seen = std::collections::HashSet::new();
        for last in 1..=40u8 {
            let ip: IpAddr = format!("192.0.2.{last}").parse().unwrap();
            let c = Choice {
                client_ip: Some(ip),
                ..Choice::default()
            };
            let first = pool.select(&c).unwrap().index;
            assert!((0..5).all(|_| pool.select(&c).unwrap().index == first));
            seen.insert(first);
        }
        assert!(seen.len() > 1, "clients spread over servers");
    }
}
