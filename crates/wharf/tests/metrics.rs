//! Prometheus metrics: the same configuration and traffic through wharf and the real Traefik
//! 3.7.15, each scraped; families, label sets and counts must agree and be the expected ones
//! (traefik-compat.md §1.5, §7.2). Then a real Prometheus scrapes wharf: request rates per
//! service, and `traefik_service_server_up` falling when a backend fails its health check.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use common::{file_proxy, start_ready, switch_health, traefik_bin, wharf_bin};
use wharf_testkit::{free_port, raw, wait_until, EchoServer, WharfProcess};

/// One sample: family name and sorted labels -> value.
type Samples = BTreeMap<String, f64>;

/// Parses the text exposition (only what the tests need: names, labels, values).
fn parse(text: &str) -> Samples {
    let mut out = Samples::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut pairs: Vec<String> = Vec::new();
        let mut rest = labels;
        while let Some((key, after)) = rest.split_once("=\"") {
            let end = after.find('"').expect("closing quote");
            pairs.push(format!("{}={}", key.trim_start_matches(','), &after[..end]));
            rest = &after[end + 1..];
        }
        pairs.sort();
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().expect("sample value"),
        };
        out.insert(format!("{name}{{{}}}", pairs.join(",")), value);
    }
    out
}

/// Counters and histograms as `after - before`; gauges as they are in `after`.
fn delta(after: &Samples, before: &Samples) -> Samples {
    after
        .iter()
        .map(|(k, v)| {
            let gauge = k.starts_with("traefik_service_server_up")
                || k.starts_with("traefik_open_connections")
                || k.starts_with("traefik_config_")
                || k.starts_with("wharf_")
                || k.starts_with("process_");
            let base = if gauge {
                0.0
            } else {
                before.get(k).copied().unwrap_or(0.0)
            };
            (k.clone(), v - base, gauge)
        })
        .filter(|(_, v, gauge)| *gauge || *v != 0.0)
        .map(|(k, v, _)| (k, v))
        .collect()
}

/// The sum of a family's samples (every label set); `family` ends with `{`.
fn sum(samples: &Samples, family: &str) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with(family))
        .map(|(_, v)| *v)
        .sum()
}

/// Scrapes until the entrypoint has counted `n` requests more than in `before`: a proxy
/// records a request just after it has answered it, so the client may be faster.
fn settled(admin: SocketAddr, before: &Samples, n: f64) -> Samples {
    let family = "traefik_entrypoint_requests_total{";
    let target = sum(before, family) + n;
    let mut last = Samples::new();
    let done = wait_until(Duration::from_secs(10), || {
        last = scrape(admin, "localhost").1;
        sum(&last, family) >= target
    });
    assert!(done, "{target} requests never counted: {last:#?}");
    quiet(admin)
}

/// A scrape once the entrypoint's count has stopped moving (two scrapes in a row agree), so
/// requests answered before it (readiness probes) are in it.
fn quiet(admin: SocketAddr) -> Samples {
    let family = "traefik_entrypoint_requests_total{";
    let mut last = scrape(admin, "localhost").1;
    let settled = wait_until(Duration::from_secs(10), || {
        let now = scrape(admin, "localhost").1;
        let same = sum(&now, family) == sum(&last, family);
        last = now;
        same
    });
    assert!(settled, "the request count never settled");
    last
}

fn scrape(addr: SocketAddr, host: &str) -> (raw::Response, Samples) {
    let r = raw::get(addr, host, "/metrics", &[]).expect("scrape");
    let samples = parse(&r.body_text());
    (r, samples)
}

/// What is compared: Traefik's families (not the Go runtime's nor wharf's own), backend
/// addresses replaced by their role, values only where they do not depend on timing or on
/// the backends' answers.
fn comparable(samples: &Samples, backends: &[(&str, &EchoServer)]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, value) in samples {
        if !key.starts_with("traefik_") {
            continue;
        }
        let mut key = key.clone();
        for (role, b) in backends {
            key = key.replace(&b.url(), role);
        }
        let timing = key.contains("_duration_seconds_sum")
            || key.contains("_duration_seconds_bucket")
            || key.starts_with("traefik_config_")
            || key.starts_with("traefik_open_connections")
            || key.contains("responses_bytes_total");
        let shown = if timing {
            "*".to_string()
        } else {
            value.to_string()
        };
        out.insert(key, shown);
    }
    out
}

fn yaml(b1: &EchoServer, b2: &EchoServer) -> String {
    format!(
        r#"
http:
  routers:
    ready: {{rule: "Host(`ready.test`)", service: single}}
    hc: {{rule: "Host(`hc.test`)", service: checked}}
    gone: {{rule: "Host(`gone.test`)", service: empty}}
    metrics: {{rule: "Host(`metrics.test`)", service: prometheus@internal}}
  services:
    single: {{loadBalancer: {{servers: [{{url: "{b1}"}}]}}}}
    checked:
      loadBalancer:
        servers: [{{url: "{b1}"}}, {{url: "{b2}"}}]
        healthCheck: {{path: /health, interval: 200ms, timeout: 1s}}
    empty: {{loadBalancer: {{servers: []}}}}
"#,
        b1 = b1.url(),
        b2 = b2.url()
    )
}

/// The traffic both proxies get, in order.
fn traffic(web: SocketAddr) {
    for _ in 0..3 {
        assert_eq!(raw::get(web, "ready.test", "/", &[]).unwrap().status, 200);
    }
    let post = b"POST /upload HTTP/1.1\r\nHost: ready.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    assert_eq!(raw::send(web, post).unwrap().status, 200);
    let r = raw::request(web, "PROPFIND", "ready.test", "/", &[]).unwrap();
    assert_eq!(r.status, 200);
    for _ in 0..2 {
        assert_eq!(raw::get(web, "nowhere.test", "/", &[]).unwrap().status, 404);
    }
    assert_eq!(raw::get(web, "gone.test", "/", &[]).unwrap().status, 503);
    for _ in 0..2 {
        assert_eq!(raw::get(web, "hc.test", "/", &[]).unwrap().status, 200);
    }
    let r = raw::get(web, "ready.test", "/", &[("Accept", "text/event-stream")]).unwrap();
    assert_eq!(r.status, 200);
}

struct Run {
    samples: Samples,
    comparable: BTreeMap<String, String>,
    routed_scrape: raw::Response,
    admin_scrape_on_web: u16,
}

/// A proxy (`binary`) with two backends, the `web` and `traefik` entrypoints and `flags`.
struct Proxy {
    b1: EchoServer,
    b2: EchoServer,
    web: SocketAddr,
    admin: SocketAddr,
    proc: WharfProcess,
}

fn start(binary: &std::path::Path, flags: &[&str]) -> Proxy {
    let b1 = EchoServer::start("b1");
    let b2 = EchoServer::start("b2");
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (dir, mut args, web) = file_proxy(&yaml(&b1, &b2), flags);
    args.push(format!("--entryPoints.traefik.address={admin}"));
    let proc = start_ready(dir, binary, &args, &[web, admin], web);
    Proxy {
        b1,
        b2,
        web,
        admin,
        proc,
    }
}

fn run(binary: &std::path::Path) -> Run {
    let Proxy {
        b1,
        b2,
        web,
        admin,
        proc,
    } = start(
        binary,
        &[
            "--metrics.prometheus=true",
            "--metrics.prometheus.addRoutersLabels=true",
        ],
    );
    // Health checks have passed for both servers before the traffic.
    let up = |samples: &Samples| {
        samples
            .iter()
            .filter(|(k, v)| k.starts_with("traefik_service_server_up") && **v == 1.0)
            .count()
    };
    assert!(
        wait_until(
            Duration::from_secs(10),
            || up(&scrape(admin, "localhost").1) == 2
        ),
        "both servers up:\n{}",
        proc.log()
    );
    // Counters are compared as what the traffic added (readiness probes came before).
    let before = quiet(admin);
    traffic(web);
    // b2 fails its health check: its gauge falls to 0.
    switch_health(&b2, false);
    let down = format!(
        "traefik_service_server_up{{service=checked@file,url={}}}",
        b2.url()
    );
    assert!(
        wait_until(Duration::from_secs(10), || scrape(admin, "localhost")
            .1
            .get(&down)
            == Some(&0.0)),
        "b2 down in the metrics:\n{}",
        proc.log()
    );
    // The 11 requests of `traffic`, all counted.
    let samples = delta(&settled(admin, &before, 11.0), &before);
    let routed_scrape = raw::get(web, "metrics.test", "/metrics", &[]).unwrap();
    let admin_scrape_on_web = raw::get(web, "ready.test", "/metrics", &[]).unwrap().status;
    let comparable = comparable(&samples, &[("B1", &b1), ("B2", &b2)]);
    drop(proc);
    Run {
        samples,
        comparable,
        routed_scrape,
        admin_scrape_on_web,
    }
}

#[test]
fn metrics_agree_with_traefik() {
    let wharf = run(&wharf_bin());
    let traefik = run(&traefik_bin());

    // The same families with the same label sets and counts.
    if let Some(diff) = common::differences(&wharf.comparable, &traefik.comparable) {
        panic!("metrics differ from Traefik's:\n{diff}");
    }

    // And they are the expected ones (agreement alone could hide both being wrong).
    let s = &wharf.samples;
    let get = |k: &str| {
        s.get(k)
            .copied()
            .unwrap_or_else(|| panic!("no sample {k}\nhave: {:#?}", s.keys().collect::<Vec<_>>()))
    };
    let ep = |code: &str, method: &str| {
        get(&format!(
            "traefik_entrypoint_requests_total{{code={code},entrypoint=web,method={method},protocol=http}}"
        ))
    };
    assert_eq!(ep("200", "GET"), 5.0, "ready x3 + hc x2");
    assert_eq!(
        get("traefik_entrypoint_requests_total{code=200,entrypoint=web,method=GET,protocol=sse}"),
        1.0
    );
    assert_eq!(
        ep("404", "GET"),
        2.0,
        "an unmatched host counts on the entrypoint"
    );
    assert_eq!(ep("503", "GET"), 1.0);
    assert_eq!(
        ep("200", "EXTENSION_METHOD"),
        1.0,
        "PROPFIND is not a label of its own"
    );
    assert_eq!(
        get("traefik_router_requests_total{code=200,method=GET,protocol=http,router=ready@file,service=single@file}"),
        3.0
    );
    assert_eq!(
        get("traefik_router_requests_total{code=503,method=GET,protocol=http,router=gone@file,service=empty@file}"),
        1.0,
        "a router sees its 503 no available server"
    );
    assert!(
        !s.keys()
            .any(|k| k.starts_with("traefik_service_requests_total") && k.contains("empty@file")),
        "a service never sees a request no server took"
    );
    assert_eq!(
        get("traefik_service_requests_bytes_total{code=200,method=POST,protocol=http,service=single@file}"),
        5.0
    );
    assert_eq!(
        get("traefik_service_requests_total{code=200,method=GET,protocol=http,service=checked@file}"),
        2.0
    );
    assert_eq!(
        get("traefik_service_request_duration_seconds_bucket{code=200,le=+Inf,method=GET,protocol=http,service=checked@file}"),
        2.0
    );
    assert!(s.contains_key("traefik_entrypoint_request_duration_seconds_bucket{code=200,entrypoint=web,le=0.1,method=GET,protocol=http}"));
    assert!(s.contains_key("traefik_entrypoint_request_duration_seconds_bucket{code=200,entrypoint=web,le=5,method=GET,protocol=http}"));
    assert!(s.contains_key("traefik_open_connections{entrypoint=web,protocol=TCP}"));
    assert!(get("traefik_config_reloads_total{}") >= 1.0);
    // wharf's own families.
    assert_eq!(get("wharf_config_issues{severity=error}"), 0.0);
    assert_eq!(get("wharf_control_plane_ready{}"), 1.0);
    assert!(get("wharf_config_generation{}") >= 1.0);

    // A router to prometheus@internal serves the scrape; the metrics are not on `web`
    // otherwise.
    for run in [&wharf, &traefik] {
        assert_eq!(run.routed_scrape.status, 200);
        assert!(run
            .routed_scrape
            .body_text()
            .contains("traefik_entrypoint_requests_total"));
        assert_eq!(
            run.admin_scrape_on_web, 200,
            "ready.test/metrics goes to the backend"
        );
    }
    assert_eq!(
        wharf.routed_scrape.header("content-type"),
        traefik.routed_scrape.header("content-type")
    );
}

/// `manualRouting`: no `/metrics` on the `traefik` entrypoint, only where a router sends it.
#[test]
fn manual_routing_serves_metrics_only_through_a_router() {
    // Kept whole: the process and backends live until the test ends.
    let proxy = start(
        &wharf_bin(),
        &[
            "--metrics.prometheus=true",
            "--metrics.prometheus.manualRouting=true",
            "--ping=true",
        ],
    );
    assert_eq!(
        raw::get(proxy.admin, "localhost", "/metrics", &[])
            .unwrap()
            .status,
        404
    );
    let routed = raw::get(proxy.web, "metrics.test", "/metrics", &[]).unwrap();
    assert_eq!(routed.status, 200);
    assert!(routed.body_text().contains("traefik_config_reloads_total"));
}

/// A real Prometheus scrapes wharf: the rate of requests per service, and a server's health.
#[test]
fn prometheus_scrapes_wharf() {
    let Proxy {
        b1,
        b2,
        web,
        admin,
        proc: wharf,
    } = start(&wharf_bin(), &["--metrics.prometheus=true"]);

    let prom_dir = tempfile::tempdir().unwrap();
    let config = prom_dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             scrape_configs:\n  - job_name: wharf\n    static_configs: [{{targets: ['{admin}']}}]\n"
        ),
    )
    .unwrap();
    let prom_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let prom_args = vec![
        format!("--config.file={}", config.display()),
        format!(
            "--storage.tsdb.path={}",
            prom_dir.path().join("data").display()
        ),
        format!("--web.listen-address={prom_addr}"),
    ];
    let prometheus = WharfProcess::start_in(
        prom_dir,
        std::path::Path::new(&prometheus_bin()),
        &prom_args,
        &[],
        &[prom_addr],
    );
    let query = |q: &str| -> Vec<(BTreeMap<String, String>, f64)> {
        let path = format!(
            "/api/v1/query?query={}",
            percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC)
        );
        let Ok(r) = raw::get(prom_addr, "localhost", &path, &[]) else {
            return Vec::new();
        };
        let v = r.json();
        v["data"]["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let labels = s["metric"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                let value = s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN);
                (labels, value)
            })
            .collect()
    };
    // Traffic until Prometheus has seen requests on the service grow between two scrapes.
    let rate = "sum by (service) (rate(traefik_service_requests_total[10s]))";
    let seen_rate = wait_until(Duration::from_secs(60), || {
        for _ in 0..5 {
            assert_eq!(raw::get(web, "hc.test", "/", &[]).unwrap().status, 200);
        }
        query(rate)
            .iter()
            .any(|(l, v)| l.get("service").map(String::as_str) == Some("checked@file") && *v > 0.0)
    });
    assert!(
        seen_rate,
        "Prometheus never saw a request rate:\n{}\n{}",
        wharf.log(),
        prometheus.log()
    );
    let up = |url: &str| {
        query(&format!(
            "traefik_service_server_up{{service=\"checked@file\",url=\"{url}\"}}"
        ))
        .first()
        .map(|(_, v)| *v)
    };
    assert_eq!(up(&b1.url()), Some(1.0));
    switch_health(&b2, false);
    assert!(
        wait_until(Duration::from_secs(30), || up(&b2.url()) == Some(0.0)),
        "Prometheus never saw b2 down:\n{}",
        prometheus.log()
    );
    assert_eq!(up(&b1.url()), Some(1.0));
    let families: BTreeSet<String> = query("count by (__name__) ({job=\"wharf\"})")
        .into_iter()
        .filter_map(|(l, _)| l.get("__name__").cloned())
        .collect();
    for f in [
        "traefik_entrypoint_requests_total",
        "traefik_service_request_duration_seconds_bucket",
        "traefik_open_connections",
        "wharf_config_generation",
    ] {
        assert!(families.contains(f), "{f} not in Prometheus: {families:?}");
    }
}

/// Debian's `prometheus` (scripts/test.sh installs it).
fn prometheus_bin() -> String {
    std::env::var("PROMETHEUS_BIN").unwrap_or_else(|_| "/usr/bin/prometheus".to_string())
}

/// TLS requests: `*_requests_tls_total` by version and cipher, and the served certificate's
/// expiry (`traefik_tls_certs_not_after`), for the same certificate and handshakes.
#[test]
fn tls_metrics_agree_with_traefik() {
    use wharf_testkit::pki::{self_signed, KeyKind};
    use wharf_testkit::tls_client::TlsClient;
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(&["tls.test"], "tls.test", KeyKind::EcdsaP256);
    std::fs::write(certs.path().join("c.crt"), cert).unwrap();
    std::fs::write(certs.path().join("c.key"), key).unwrap();
    let run = |binary: &std::path::Path| -> BTreeMap<String, String> {
        let b = EchoServer::start("b");
        let yaml = format!(
            r#"
http:
  routers:
    ready: {{rule: "Host(`ready.test`)", service: s}}
    secure: {{rule: "Host(`tls.test`)", service: s, tls: {{}}}}
  services:
    s: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
tls:
  certificates:
    - {{certFile: "{dir}/c.crt", keyFile: "{dir}/c.key"}}
"#,
            b.url(),
            dir = certs.path().display()
        );
        let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let (dir, mut args, web) = file_proxy(
            &yaml,
            &[
                "--metrics.prometheus=true",
                "--metrics.prometheus.addRoutersLabels=true",
            ],
        );
        args.push(format!("--entryPoints.traefik.address={admin}"));
        let _proc = start_ready(dir, binary, &args, &[web, admin], web);
        for client in [
            TlsClient::new(Some("tls.test")).tls13_only(),
            TlsClient::new(Some("tls.test")).tls13_only(),
            TlsClient::new(Some("tls.test")).tls12_only(),
        ] {
            let (_, r) = client.get(web, "tls.test", "/", &[]).expect("TLS request");
            assert_eq!(r.status, 200);
        }
        // Recorded just after each answer: wait until the three are counted.
        let family = "traefik_entrypoint_requests_tls_total{";
        let mut last = Samples::new();
        assert!(wait_until(Duration::from_secs(10), || {
            last = scrape(admin, "localhost").1;
            sum(&last, family) >= 3.0
        }));
        last.into_iter()
            .filter(|(k, _)| k.contains("_tls_") || k.starts_with("traefik_tls_certs_not_after"))
            .map(|(k, v)| (k, v.to_string()))
            .collect()
    };
    let wharf = run(&wharf_bin());
    let traefik = run(&traefik_bin());
    if let Some(diff) = common::differences(&wharf, &traefik) {
        panic!("TLS metrics differ from Traefik's:\n{diff}");
    }
    let tls = |version: &str| -> f64 {
        wharf
            .iter()
            .filter(|(k, _)| {
                k.starts_with("traefik_entrypoint_requests_tls_total")
                    && k.contains(&format!("tls_version={version}"))
            })
            .map(|(_, v)| v.parse::<f64>().unwrap())
            .sum()
    };
    assert_eq!((tls("1.3"), tls("1.2")), (2.0, 1.0));
    assert!(wharf
        .keys()
        .any(|k| k.starts_with("traefik_router_requests_tls_total")
            && k.contains("router=secure@file")));
    assert!(wharf
        .keys()
        .any(|k| k.starts_with("traefik_tls_certs_not_after{cn=tls.test,sans=tls.test,serial=")));
}

/// `headerLabels`: a request header's value becomes a label of `*_requests_total` (and of
/// nothing else), as in Traefik; a request without the header gets an empty value.
#[test]
fn header_labels_agree_with_traefik() {
    let run = |binary: &std::path::Path| -> BTreeMap<String, String> {
        let proxy = start(
            binary,
            &[
                "--metrics.prometheus=true",
                "--metrics.prometheus.headerLabels.tenant=X-Tenant",
            ],
        );
        let before = quiet(proxy.admin);
        for tenant in ["acme", "acme", "globex"] {
            let extra = [("X-Tenant", tenant)];
            let r = raw::get(proxy.web, "ready.test", "/", &extra).unwrap();
            assert_eq!(r.status, 200);
        }
        // Without the header (on another service than the readiness probes').
        assert_eq!(
            raw::get(proxy.web, "hc.test", "/", &[]).unwrap().status,
            200
        );
        delta(&settled(proxy.admin, &before, 4.0), &before)
            .into_iter()
            .filter(|(k, _)| k.starts_with("traefik_service_requests_total"))
            // The readiness probes (no X-Tenant): the last may be counted after `before`.
            .filter(|(k, _)| !k.contains("service=single@file,tenant=}"))
            .map(|(k, v)| (k, v.to_string()))
            .collect()
    };
    let wharf = run(&wharf_bin());
    assert_eq!(
        wharf.get("traefik_service_requests_total{code=200,method=GET,protocol=http,service=single@file,tenant=acme}"),
        Some(&"2".to_string()),
        "{wharf:#?}"
    );
    assert_eq!(
        wharf.get("traefik_service_requests_total{code=200,method=GET,protocol=http,service=checked@file,tenant=}"),
        Some(&"1".to_string()),
        "{wharf:#?}"
    );
    let traefik = run(&traefik_bin());
    if let Some(diff) = common::differences(&wharf, &traefik) {
        panic!("headerLabels differ from Traefik's:\n{diff}");
    }
}
