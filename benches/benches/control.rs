//! The control plane at 10, 1,000 and 10,000 Host routers: a file provider's update applied by
//! the real `Controller` (validate, compile, publish through the `ArcSwap` store), and the YAML
//! decode that precedes it. Two updates that differ in their service's port alternate, so each
//! apply builds and swaps a new generation.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use wharf_config::{decode_dynamic, yaml};
use wharf_control::{Controller, ProviderEvent};
use wharf_discovery::ProviderUpdate;
use wharf_model::ProviderName;
use wharf_router::{ControlStatus, Generation, GenerationWriter, ProviderSlot};

/// The wharf binary's allocator: the control plane allocates a lot, and glibc's malloc would
/// misstate its cost.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn update(n: usize, port: u16) -> ProviderUpdate {
    let doc = wharf_benches::routers_yaml(n, port);
    let (raw, issues) = decode_dynamic(&yaml::parse(&doc, "bench.yml").expect("yaml"));
    assert!(issues.is_empty(), "{issues:?}");
    ProviderUpdate {
        provider: ProviderName::new("file"),
        raw,
        issues,
    }
}

fn controller() -> (Controller, wharf_router::GenerationReader) {
    let tls = wharf_tls::TlsRegistry::new().expect("tls");
    let empty = Generation::empty(&["web".to_string()], &tls.empty_snapshot());
    let (writer, reader) = GenerationWriter::new(empty);
    let status = Arc::new(ControlStatus::new(&[ProviderSlot::File]));
    let statics = Arc::new(wharf_benches::statics());
    (Controller::new(statics, writer, status, tls), reader)
}

fn apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("config_apply");
    group.sample_size(10);
    for n in [10usize, 1_000, 10_000] {
        let updates = [update(n, 9), update(n, 10)];
        let (mut controller, reader) = controller();
        let mut next = 0;
        group.bench_with_input(BenchmarkId::new("validate_compile_swap", n), &n, |b, _| {
            b.iter_batched(
                || {
                    next += 1;
                    updates[next % 2].clone()
                },
                |update| {
                    let event: ProviderEvent = Ok(update);
                    let report = controller.apply(event);
                    assert!(report.published && report.issues.is_empty());
                    std::hint::black_box(reader.load().id)
                },
                criterion::BatchSize::LargeInput,
            )
        });
        let doc = wharf_benches::routers_yaml(n, 9);
        group.bench_with_input(BenchmarkId::new("yaml_decode", n), &n, |b, _| {
            b.iter(|| {
                let root = yaml::parse(&doc, "bench.yml").expect("yaml");
                std::hint::black_box(decode_dynamic(&root).0)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, apply);
criterion_main!(benches);
