//! Rule matching through the host-indexed route table at 10, 1,000 and 10,000 routers, and the
//! rule parser. The request path's cost must not grow with the number of Host routes.

use std::collections::HashMap;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use wharf_rule::{HeaderLookup, RequestView};

struct NoHeaders(HashMap<String, String>);

impl HeaderLookup for NoHeaders {
    fn any_value(&self, name: &str, pred: &mut dyn FnMut(&str) -> bool) -> bool {
        self.0.get(name).is_some_and(|v| pred(v))
    }
}

fn match_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_find");
    let headers = NoHeaders(HashMap::new());
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    for n in [10usize, 1_000, 10_000] {
        let generation = wharf_benches::generation(n);
        let host = format!("svc{}.example.com", n / 2);
        group.bench_with_input(BenchmarkId::new("host_hit", n), &n, |b, _| {
            b.iter(|| {
                let view = RequestView {
                    host: &host,
                    path: "/api/users",
                    method: "GET",
                    query: None,
                    headers: &headers,
                    client_ip: Some(ip),
                };
                let route = generation.find(0, false, &view).expect("match");
                std::hint::black_box(route.priority)
            })
        });
        group.bench_with_input(BenchmarkId::new("fallback_miss", n), &n, |b, _| {
            b.iter(|| {
                let view = RequestView {
                    host: "unknown.example.com",
                    path: "/",
                    method: "GET",
                    query: None,
                    headers: &headers,
                    client_ip: Some(ip),
                };
                let route = generation.find(0, false, &view).expect("fallback");
                std::hint::black_box(route.priority)
            })
        });
    }
    group.finish();
}

fn parse_rules(c: &mut Criterion) {
    let rule = "Host(`admin.motovaultpro.com`) && (PathPrefix(`/api`) || PathRegexp(`^/v[0-9]+/`)) && !Method(`DELETE`)";
    c.bench_function("rule_parse_compile", |b| {
        b.iter(|| std::hint::black_box(wharf_rule::parse(rule).unwrap().compile()))
    });
}

criterion_group!(benches, match_request, parse_rules);
criterion_main!(benches);
