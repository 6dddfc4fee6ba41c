//! Builders shared by the benches: routing generations of any size, built through the real
//! decode -> validate -> compile pipeline.

pub mod http1;

use std::sync::Arc;

use wharf_config::{decode_dynamic, validate, yaml, ProviderConfig};
use wharf_model::{ProviderName, StaticConfig};
use wharf_router::{compile, Generation, InternalRoutes};
use wharf_upstream::PoolRegistry;

/// A static config with one entrypoint, `web`.
pub fn statics() -> StaticConfig {
    let root =
        yaml::parse("entryPoints:\n  web:\n    address: \":80\"\n", "bench.yml").expect("yaml");
    let (config, issues) = wharf_config::decode_static(&root);
    assert!(issues.is_empty(), "{issues:?}");
    config
}

/// A file provider's YAML with `n` routers
/// `Host(`svc<i>.example.com`) && PathPrefix(`/api`)` plus one catch-all, all on one service
/// whose server listens on `port`.
pub fn routers_yaml(n: usize, port: u16) -> String {
    let mut doc = String::from("http:\n  routers:\n");
    for i in 0..n {
        doc.push_str(&format!(
            "    r{i}:\n      rule: \"Host(`svc{i}.example.com`) && PathPrefix(`/api`)\"\n      service: s\n"
        ));
    }
    doc.push_str(
        "    fallback:\n      rule: \"PathPrefix(`/`)\"\n      priority: 1\n      service: s\n",
    );
    doc.push_str(&format!("  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: \"http://127.0.0.1:{port}\"\n"));
    doc
}

/// The generation of [`routers_yaml`]`(n, 9)`.
pub fn generation(n: usize) -> Arc<Generation> {
    let doc = routers_yaml(n, 9);
    let root = yaml::parse(&doc, "bench.yml").expect("yaml");
    let (raw, issues) = decode_dynamic(&root);
    assert!(issues.is_empty(), "{issues:?}");
    let statics = statics();
    let (config, issues) = validate(
        &[ProviderConfig {
            provider: ProviderName::new("file"),
            raw,
        }],
        &statics,
    );
    assert!(issues.is_empty(), "{issues:?}");
    let mut pools = PoolRegistry::default();
    pools.sync(&config);
    compile(
        1,
        &statics,
        &InternalRoutes::default(),
        &config,
        wharf_router::Built {
            pools: &pools,
            middlewares: &mut Default::default(),
            api: Default::default(),
            tls: &wharf_tls::TlsRegistry::new().expect("tls").empty_snapshot(),
            router_metrics: &mut |_, _| None,
        },
    )
}
