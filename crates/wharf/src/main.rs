//! `wharf`: a drop-in replacement for Traefik v3 at the edge of Docker Compose stacks.
//!
//! Started like Traefik (`--configFile`, dotted CLI flags, `TRAEFIK_*` variables), it loads the
//! static configuration, starts the providers and the reconciler on a control-plane runtime,
//! publishes the first routing generation, and then hands the process to pingora, one proxy
//! service per entrypoint.

mod check;
mod healthcheck;
mod logging;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("version") | Some("--version") => {
            println!(
                "wharf {} (Traefik v3 compatible)",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        Some("check") => match check::check(args[1..].to_vec()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wharf: {e:#}");
                ExitCode::from(1)
            }
        },
        Some("healthcheck") => match healthcheck::healthcheck(args[1..].to_vec()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wharf: {e:#}");
                ExitCode::from(1)
            }
        },
        _ => match run::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wharf: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}
