//! Golden fixtures: real `docker inspect` output in, the decoded configuration and issues out.
//! `WHARF_BLESS=1 cargo test -p wharf-discovery --test golden` rewrites the expectations.

use std::fmt::Write;
use std::path::Path;

use bollard::models::ContainerInspectResponse;
use wharf_config::docker::containers_to_config;
use wharf_config::{RawDynamicConfig, RawService};
use wharf_discovery::docker::container_from_inspect;
use wharf_model::{ConfigIssue, DockerProviderConfig};

fn render(raw: &RawDynamicConfig, issues: &[ConfigIssue]) -> String {
    let mut out = String::from("routers:\n");
    for (name, r) in &raw.routers {
        let list = |v: &[wharf_config::Sourced<String>]| {
            v.iter()
                .map(|s| s.value.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let _w = writeln!(
            out,
            "  {name}: rule={:?} entrypoints=[{}] middlewares=[{}] service={:?} priority={:?} tls={}\n    at {}",
            r.rule.as_ref().map(|s| &s.value),
            r.entry_points.as_deref().map(list).unwrap_or_default(),
            list(&r.middlewares),
            r.service.as_ref().map(|s| &s.value),
            r.priority.as_ref().map(|p| p.value),
            r.tls.is_some(),
            r.origin
        );
    }
    out.push_str("services:\n");
    for (name, s) in &raw.services {
        match s {
            RawService::LoadBalancer(lb) => {
                let (origin, pass_host_header) = (&lb.origin, lb.pass_host_header);
                let urls: Vec<String> = lb
                    .servers
                    .iter()
                    .map(|s| format!("{} ({})", s.url.value, s.url.origin))
                    .collect();
                let _w = writeln!(
                    out,
                    "  {name}: passHostHeader={pass_host_header} at {origin}"
                );
                for u in urls {
                    let _w = writeln!(out, "    server {u}");
                }
            }
            RawService::Composite(c) => {
                let _w = writeln!(out, "  {name}: composite at {}", c.origin);
            }
        }
    }
    out.push_str("middlewares:\n");
    for (name, m) in &raw.middlewares {
        let _w = writeln!(out, "  {name}: {} at {}", m.kind, m.origin);
    }
    out.push_str("issues:\n");
    for i in issues {
        let _w = writeln!(out, "  {i}");
    }
    out
}

#[test]
fn docker_inspect_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docker");
    let bless = std::env::var_os("WHARF_BLESS").is_some();
    let config = DockerProviderConfig::default();
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let case = entry.unwrap().path();
        let inspect: Vec<ContainerInspectResponse> =
            serde_json::from_slice(&std::fs::read(case.join("inspect.json")).unwrap()).unwrap();
        let containers: Vec<_> = inspect.iter().filter_map(container_from_inspect).collect();
        assert_eq!(containers.len(), inspect.len());
        let (raw, issues) = containers_to_config(&containers, &config);
        let got = render(&raw, &issues);
        let expected_path = case.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!(
                "{}: no expected.txt (run with WHARF_BLESS=1)",
                case.display()
            )
        });
        assert_eq!(got, expected, "{}", case.display());
        cases += 1;
    }
    assert!(cases >= 3);
}
