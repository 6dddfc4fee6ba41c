//! The data plane: a pingora `ProxyHttp` per entrypoint, reading the current routing
//! [`Generation`](wharf_router::Generation) once per request.
//!
//! Phases used:
//! - `request_filter`: load the generation, build a `RequestView`, match a route; answer
//!   Traefik's own responses here (404, 503, redirections, `/ping`, malformed requests);
//! - `upstream_peer`: pick the next server of the route's service pool;
//! - `upstream_request_filter`: Traefik's forwarded headers, Host, the sanitized path;
//! - `fail_to_proxy`: Traefik's 502/504 bodies.
//!
//! This crate never sees configuration types: only the compiled generation.

mod access;
mod attempt;
mod ctx;
mod dashboard;
pub mod edge;
mod forwarded;
mod headers;
mod internal;
mod mirror;
mod observe;
mod responses;
mod retry;
mod routed;
mod service;
mod shutdown;

pub use service::{EntryPointProxy, EntryPointSettings};
pub use shutdown::Lifecycle;
