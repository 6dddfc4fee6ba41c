//! A scrape: the live series turned into Prometheus families (Traefik 3.7's names, help
//! texts and label names), plus the process collector, in the text format.

use std::sync::atomic::Ordering;

use prometheus::core::Collector;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use prometheus::Encoder;

use crate::labels::{RequestKey, TlsKey};
use crate::metrics::Metrics;
use crate::series::RequestSeries;

/// Families in the making, by name.
struct Families(Vec<MetricFamily>);

impl Families {
    fn family(&mut self, name: &str, help: &str, kind: MetricType) -> &mut MetricFamily {
        if let Some(i) = self.0.iter().position(|f| f.name() == name) {
            return &mut self.0[i];
        }
        let mut f = MetricFamily::default();
        f.set_name(name.to_string());
        f.set_help(help.to_string());
        f.set_field_type(kind);
        self.0.push(f);
        self.0.last_mut().expect("just pushed")
    }

    fn add(&mut self, name: &str, help: &str, kind: MetricType, mut metric: Metric) {
        let mut labels = metric.take_label();
        // Go's client sorts a series' labels by name.
        labels.sort_by(|a, b| a.name().cmp(b.name()));
        metric.set_label(labels);
        self.family(name, help, kind).mut_metric().push(metric);
    }

    fn counter(&mut self, name: &str, help: &str, labels: Vec<LabelPair>, value: f64) {
        let mut c = Counter::default();
        c.set_value(value);
        let mut m = Metric::from_label(labels);
        m.set_counter(c);
        self.add(name, help, MetricType::COUNTER, m);
    }

    fn gauge(&mut self, name: &str, help: &str, labels: Vec<LabelPair>, value: f64) {
        let mut g = Gauge::default();
        g.set_value(value);
        let mut m = Metric::from_label(labels);
        m.set_gauge(g);
        self.add(name, help, MetricType::GAUGE, m);
    }
}

fn label(name: &str, value: &str) -> LabelPair {
    let mut l = LabelPair::default();
    l.set_name(name.to_string());
    l.set_value(value.to_string());
    l
}

/// The help texts of one request family set (entrypoint, router or service).
struct Helps {
    prefix: &'static str,
    requests: &'static str,
    tls: &'static str,
    duration: &'static str,
    request_bytes: &'static str,
    response_bytes: &'static str,
}

const ENTRY_POINT: Helps = Helps {
    prefix: "traefik_entrypoint_",
    requests: "How many HTTP requests processed on an entrypoint, partitioned by status code, protocol, and method.",
    tls: "How many HTTP requests with TLS processed on an entrypoint, partitioned by TLS Version and TLS cipher Used.",
    duration: "How long it took to process the request on an entrypoint, partitioned by status code, protocol, and method.",
    request_bytes: "The total size of requests in bytes handled by an entrypoint, partitioned by status code, protocol, and method.",
    response_bytes: "The total size of responses in bytes handled by an entrypoint, partitioned by status code, protocol, and method.",
};

const ROUTER: Helps = Helps {
    prefix: "traefik_router_",
    requests: "How many HTTP requests are processed on a router, partitioned by service, status code, protocol, and method.",
    tls: "How many HTTP requests with TLS are processed on a router, partitioned by service, TLS Version, and TLS cipher Used.",
    duration: "How long it took to process the request on a router, partitioned by service, status code, protocol, and method.",
    request_bytes: "The total size of requests in bytes handled by a router, partitioned by service, status code, protocol, and method.",
    response_bytes: "The total size of responses in bytes handled by a router, partitioned by service, status code, protocol, and method.",
};

const SERVICE: Helps = Helps {
    prefix: "traefik_service_",
    requests: "How many HTTP requests processed on a service, partitioned by status code, protocol, and method.",
    tls: "How many HTTP requests with TLS processed on a service, partitioned by TLS version and TLS cipher.",
    duration: "How long it took to process the request on a service, partitioned by status code, protocol, and method.",
    request_bytes: "The total size of requests in bytes received by a service, partitioned by status code, protocol, and method.",
    response_bytes: "The total size of responses in bytes returned by a service, partitioned by status code, protocol, and method.",
};

fn request_labels(key: RequestKey, base: &[LabelPair]) -> Vec<LabelPair> {
    let mut labels = base.to_vec();
    labels.push(label("code", &key.code().to_string()));
    labels.push(label("method", key.method().name()));
    labels.push(label("protocol", key.protocol().name()));
    labels
}

fn request_families(out: &mut Families, helps: &Helps, base: &[LabelPair], s: &RequestSeries) {
    let name = |suffix: &str| format!("{}{suffix}", helps.prefix);
    s.requests.for_each(|key, cell| {
        let key = RequestKey(key);
        let labels = request_labels(key, base);
        let requests = cell.requests.load(Ordering::Relaxed);
        if s.by_header.is_none() {
            out.counter(
                &name("requests_total"),
                helps.requests,
                labels.clone(),
                requests as f64,
            );
        }
        let mut h = Histogram::default();
        h.set_sample_count(requests);
        h.set_sample_sum(cell.duration_nanos.load(Ordering::Relaxed) as f64 / 1e9);
        let mut cumulative = 0;
        let buckets = s
            .bounds()
            .iter()
            .zip(cell.buckets.iter())
            .map(|(bound, count)| {
                cumulative += count.load(Ordering::Relaxed);
                let mut b = Bucket::default();
                b.set_upper_bound(*bound);
                b.set_cumulative_count(cumulative);
                b
            })
            .collect();
        h.set_bucket(buckets);
        let mut m = Metric::from_label(labels.clone());
        m.set_histogram(h);
        out.add(
            &name("request_duration_seconds"),
            helps.duration,
            MetricType::HISTOGRAM,
            m,
        );
        out.counter(
            &name("requests_bytes_total"),
            helps.request_bytes,
            labels.clone(),
            cell.request_bytes.load(Ordering::Relaxed) as f64,
        );
        out.counter(
            &name("responses_bytes_total"),
            helps.response_bytes,
            labels,
            cell.response_bytes.load(Ordering::Relaxed) as f64,
        );
    });
    if let Some(by_header) = &s.by_header {
        let names: Vec<&str> = s.header_label_names().collect();
        if let Ok(map) = by_header.lock() {
            for ((key, values), count) in map.iter() {
                let mut labels = request_labels(*key, base);
                labels.extend(names.iter().zip(values.iter()).map(|(n, v)| label(n, v)));
                out.counter(
                    &name("requests_total"),
                    helps.requests,
                    labels,
                    *count as f64,
                );
            }
        }
    }
    s.tls.for_each(|key, count| {
        let key = TlsKey(key);
        let mut labels = base.to_vec();
        labels.push(label("tls_version", &key.version()));
        labels.push(label("tls_cipher", &key.cipher()));
        out.counter(
            &name("requests_tls_total"),
            helps.tls,
            labels,
            count.0.load(Ordering::Relaxed) as f64,
        );
    });
}

pub(crate) fn render(m: &Metrics) -> Vec<u8> {
    let mut out = Families(Vec::new());
    let live = m.live.load();
    out.counter(
        "traefik_config_reloads_total",
        "Config reloads",
        Vec::new(),
        m.reloads.load(Ordering::Relaxed) as f64,
    );
    out.gauge(
        "traefik_config_last_reload_success",
        "Last config reload success",
        Vec::new(),
        f64::from_bits(m.last_reload.load(Ordering::Relaxed)).trunc(),
    );
    for ep in &m.entry_points {
        out.gauge(
            "traefik_open_connections",
            "How many open connections exist, by entryPoint and protocol",
            vec![label("entrypoint", &ep.name), label("protocol", "TCP")],
            ep.open_connections.load(Ordering::Relaxed) as f64,
        );
    }
    for cert in &live.certs {
        out.gauge(
            "traefik_tls_certs_not_after",
            "Certificate expiration timestamp",
            vec![
                label("cn", &cert.cn),
                label("serial", &cert.serial),
                label("sans", &cert.sans),
            ],
            cert.not_after,
        );
    }
    for ep in &m.entry_points {
        if let Some(series) = &ep.series {
            request_families(
                &mut out,
                &ENTRY_POINT,
                &[label("entrypoint", &ep.name)],
                series,
            );
        }
    }
    for r in &live.routers {
        let base = [label("router", &r.router), label("service", &r.service)];
        request_families(&mut out, &ROUTER, &base, &r.series);
    }
    for s in &live.services {
        let base = [label("service", &s.name)];
        request_families(&mut out, &SERVICE, &base, &s.series);
        let retries = s.series.retries.load(Ordering::Relaxed);
        if retries > 0 {
            out.counter(
                "traefik_service_retries_total",
                "How many request retries happened on a service.",
                base.to_vec(),
                retries as f64,
            );
        }
        for (url, up) in &s.servers {
            out.gauge(
                "traefik_service_server_up",
                "service server is up, described by gauge value of 0 or 1.",
                vec![label("service", &s.name), label("url", url)],
                if up() { 1.0 } else { 0.0 },
            );
        }
    }
    wharf_families(m, &live, &mut out);
    let mut families = out.0;
    if let Some(process) = &m.process {
        families.extend(process.collect());
    }
    families.sort_by(|a, b| a.name().cmp(b.name()));
    let mut buf = Vec::new();
    if let Err(e) = prometheus::TextEncoder::new().encode(&families, &mut buf) {
        tracing::error!(error = %e, "metrics: cannot encode the scrape");
    }
    buf
}

/// wharf's own families: what Traefik's metrics cannot tell about the configuration.
fn wharf_families(m: &Metrics, live: &crate::metrics::LiveSet, out: &mut Families) {
    out.gauge(
        "wharf_config_generation",
        "The number of the configuration generation being served.",
        Vec::new(),
        live.generation as f64,
    );
    for (severity, n) in [
        ("error", live.issues_error),
        ("warning", live.issues_warning),
    ] {
        out.gauge(
            "wharf_config_issues",
            "Problems found in the current configuration (the API and `wharf check` show each one with its origin), by severity.",
            vec![label("severity", severity)],
            n as f64,
        );
    }
    out.gauge(
        "wharf_config_last_reload_success_timestamp_seconds",
        "When the last configuration was applied (Unix seconds, with fractions).",
        Vec::new(),
        f64::from_bits(m.last_reload.load(Ordering::Relaxed)),
    );
    if let Ok(providers) = m.providers.lock() {
        for (name, state) in providers.iter() {
            let l = || vec![label("provider", name)];
            out.gauge(
                "wharf_provider_connected",
                "Whether the provider is connected to its source (1) or retrying (0).",
                l(),
                if state.connected.load(Ordering::Relaxed) {
                    1.0
                } else {
                    0.0
                },
            );
            out.counter(
                "wharf_provider_errors_total",
                "Connections to the provider's source lost or refused.",
                l(),
                state.errors.load(Ordering::Relaxed) as f64,
            );
            out.gauge(
                "wharf_provider_last_sync_timestamp_seconds",
                "When the provider last read its whole source (Unix seconds).",
                l(),
                state.last_sync.load(Ordering::Relaxed) as f64,
            );
        }
    }
    let control = m.control.lock().ok().and_then(|c| c.clone());
    if let Some(control) = control {
        out.gauge(
            "wharf_control_plane_ready",
            "Whether the control plane is ready (every provider delivered, no update stuck): what /health/ready says.",
            Vec::new(),
            if control.ready() { 1.0 } else { 0.0 },
        );
        out.counter(
            "wharf_control_plane_internal_errors_total",
            "Updates the control plane rejected because of an internal error (a bug).",
            Vec::new(),
            control.internal_errors() as f64,
        );
        for (middleware, count) in control.rate_limit_fallbacks() {
            out.counter(
                "wharf_ratelimit_redis_fallbacks_total",
                "Requests a rateLimit middleware with redis limited with this instance's own bucket, because Redis was unreachable.",
                vec![label("middleware", &middleware)],
                count as f64,
            );
        }
    }
}
