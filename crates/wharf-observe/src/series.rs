//! [`RequestSeries`]: the request counters of one entrypoint, router or service, updated
//! lock-free by the proxy and read by a scrape.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderMap;

use crate::labels::{RequestKey, TlsKey};
use crate::table::{Cell, Table};

/// The counters of one (code, method, protocol) series.
pub(crate) struct RequestCell {
    pub(crate) requests: AtomicU64,
    pub(crate) request_bytes: AtomicU64,
    pub(crate) response_bytes: AtomicU64,
    /// The durations' sum, in nanoseconds (exact; seconds only at a scrape).
    pub(crate) duration_nanos: AtomicU64,
    /// Per bucket, the observations that fell in it and no lower one (cumulated at a scrape).
    pub(crate) buckets: Box<[AtomicU64]>,
}

impl Cell for RequestCell {
    fn new(width: usize) -> Self {
        RequestCell {
            requests: AtomicU64::new(0),
            request_bytes: AtomicU64::new(0),
            response_bytes: AtomicU64::new(0),
            duration_nanos: AtomicU64::new(0),
            buckets: (0..width).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

pub(crate) struct Count(pub(crate) AtomicU64);

impl Cell for Count {
    fn new(_: usize) -> Self {
        Count(AtomicU64::new(0))
    }
}

/// How many distinct `headerLabels` value sets one series keeps; later new ones are counted
/// under the value `other` (a client must not be able to grow the scrape without bound).
pub const MAX_HEADER_LABEL_SETS: usize = 1000;

/// `headerLabels`: label name -> request header, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderLabels(pub Vec<(String, http::HeaderName)>);

/// `*_requests_total` by (code, method, protocol) and the `headerLabels` values.
pub(crate) type ByHeader = HashMap<(RequestKey, Box<[String]>), u64>;

/// One finished request, as the metrics see it.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    pub key: RequestKey,
    pub duration: Duration,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub tls: Option<TlsKey>,
}

/// The series of one entrypoint, router or service. Kept by name across configuration
/// changes (counters only grow); dropped, and so removed from the scrape, with its router or
/// service.
pub struct RequestSeries {
    pub(crate) requests: Table<RequestCell>,
    pub(crate) tls: Table<Count>,
    /// Services: `traefik_service_retries_total`.
    pub(crate) retries: AtomicU64,
    bounds: Arc<[f64]>,
    header_labels: Arc<HeaderLabels>,
    /// With `headerLabels`, `*_requests_total` is counted here instead (the values are the
    /// client's, so this path allocates and locks; without them it does neither).
    pub(crate) by_header: Option<Mutex<ByHeader>>,
}

impl std::fmt::Debug for RequestSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSeries").finish_non_exhaustive()
    }
}

impl RequestSeries {
    pub(crate) fn new(bounds: Arc<[f64]>, header_labels: Arc<HeaderLabels>) -> Self {
        RequestSeries {
            requests: Table::new(bounds.len()),
            tls: Table::new(0),
            retries: AtomicU64::new(0),
            by_header: (!header_labels.0.is_empty()).then(|| Mutex::new(HashMap::new())),
            bounds,
            header_labels,
        }
    }

    /// Counts one finished request; `headers` are the request's (for `headerLabels`).
    pub fn record(&self, o: &Observation, headers: &HeaderMap) {
        let cell = self.requests.cell(o.key.0);
        cell.requests.fetch_add(1, Ordering::Relaxed);
        cell.request_bytes
            .fetch_add(o.request_bytes, Ordering::Relaxed);
        cell.response_bytes
            .fetch_add(o.response_bytes, Ordering::Relaxed);
        let nanos = u64::try_from(o.duration.as_nanos()).unwrap_or(u64::MAX);
        cell.duration_nanos.fetch_add(nanos, Ordering::Relaxed);
        let seconds = o.duration.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|b| seconds <= *b) {
            if let Some(bucket) = cell.buckets.get(i) {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(tls) = o.tls {
            self.tls.cell(tls.0).0.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(by_header) = &self.by_header {
            self.count_by_header(by_header, o.key, headers);
        }
    }

    fn count_by_header(&self, by_header: &Mutex<ByHeader>, key: RequestKey, headers: &HeaderMap) {
        let values: Box<[String]> = self
            .header_labels
            .0
            .iter()
            .map(|(_, h)| {
                headers
                    .get(h)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default()
            })
            .collect();
        let Ok(mut map) = by_header.lock() else {
            return;
        };
        let full = map.len() >= MAX_HEADER_LABEL_SETS;
        let entry = if full && !map.contains_key(&(key, values.clone())) {
            let other = vec!["other".to_string(); values.len()].into_boxed_slice();
            map.entry((key, other))
        } else {
            map.entry((key, values))
        };
        *entry.or_insert(0) += 1;
    }

    /// One retry of a request to this service.
    pub fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    pub(crate) fn header_label_names(&self) -> impl Iterator<Item = &str> {
        self.header_labels.0.iter().map(|(n, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{Method, Protocol};

    #[test]
    fn a_duration_falls_in_the_first_bucket_that_holds_it() {
        let s = RequestSeries::new(Arc::from(vec![0.1, 0.3]), Arc::default());
        let key = RequestKey::new(200, Method::of(&http::Method::GET), Protocol::Http);
        for ms in [50, 100, 200, 5000] {
            s.record(
                &Observation {
                    key,
                    duration: Duration::from_millis(ms),
                    request_bytes: 1,
                    response_bytes: 10,
                    tls: None,
                },
                &HeaderMap::new(),
            );
        }
        let cell = s.requests.cell(key.0);
        let b: Vec<u64> = cell
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        assert_eq!(b, vec![2, 1]);
        assert_eq!(cell.requests.load(Ordering::Relaxed), 4);
        assert_eq!(cell.response_bytes.load(Ordering::Relaxed), 40);
        assert_eq!(cell.duration_nanos.load(Ordering::Relaxed), 5_350_000_000);
    }

    #[test]
    fn header_label_sets_are_bounded() {
        let labels = HeaderLabels(vec![(
            "tenant".into(),
            http::HeaderName::from_static("x-tenant"),
        )]);
        let s = RequestSeries::new(Arc::from(vec![1.0]), Arc::new(labels));
        let key = RequestKey::new(200, Method::of(&http::Method::GET), Protocol::Http);
        for i in 0..MAX_HEADER_LABEL_SETS + 10 {
            let mut h = HeaderMap::new();
            h.insert("x-tenant", i.to_string().parse().unwrap());
            s.record(
                &Observation {
                    key,
                    duration: Duration::ZERO,
                    request_bytes: 0,
                    response_bytes: 0,
                    tls: None,
                },
                &h,
            );
        }
        let map = s.by_header.as_ref().unwrap().lock().unwrap();
        assert_eq!(map.len(), MAX_HEADER_LABEL_SETS + 1);
        assert_eq!(
            map[&(key, vec!["other".to_string()].into_boxed_slice())],
            10
        );
    }
}
