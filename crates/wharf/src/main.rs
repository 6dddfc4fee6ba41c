//! `wharf`: a drop-in replacement for Traefik v3 at the edge of Docker Compose stacks.
//!
//! Started like Traefik (`--configFile`, dotted CLI flags, `TRAEFIK_*` variables), it loads the
//! static configuration, starts the providers and the reconciler on a control-plane runtime,
//! publishes the first routing generation, and then hands the process to pingora, one proxy
//! service per entrypoint.

mod check;
mod explain;
mod healthcheck;
mod logging;
mod routes;
mod run;

use std::process::ExitCode;

/// jemalloc instead of glibc's malloc: per idle connection it holds less (no per-chunk
/// headers, size-class slabs), and its background thread returns the pages of closed
/// connections to the system, which glibc's arenas keep (benches/RESULTS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = || args[1..].to_vec();
    let outcome = match args.first().map(String::as_str) {
        Some("version") | Some("--version") => {
            println!(
                "wharf {} (Traefik v3 compatible)",
                env!("CARGO_PKG_VERSION")
            );
            Ok(())
        }
        Some("check") => check::check(rest()),
        Some("routes") => routes::routes(rest()),
        Some("explain") => explain::explain(rest()),
        Some("healthcheck") => healthcheck::healthcheck(rest()),
        _ => run::run(args.clone()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wharf: {e:#}");
            ExitCode::from(1)
        }
    }
}
