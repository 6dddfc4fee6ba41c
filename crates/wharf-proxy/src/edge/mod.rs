//! The edge: what stands between a client's bytes and pingora's HTTP/1 parser, which is lenient
//! where Traefik (Go) is strict. Request heads and body framing are checked by wharf-edge,
//! under `readTimeout` for the whole request; what is refused is answered here and never
//! reaches pingora nor a backend.
//!
//! - `stream`: [`EdgeStream`], the connection wrapper that applies the checks, holds
//!   pipelined requests until their turn and passes HTTP/2 and accepted upgrades through;
//! - `tls`: TLS sniffed on every entrypoint and handshaken with the options set the SNI maps
//!   to; [`TlsInfo`] carries the handshake to each request;
//! - `app`: [`EdgeApp`], the pingora application that wraps each accepted connection;
//! - `write_buffer`: a response's writes coalesced into one send, with no buffer kept while a
//!   connection is idle.

mod app;
mod stream;
mod tls;
mod write_buffer;

pub use app::EdgeApp;
pub use stream::{EdgeLimits, EdgeStream};
pub use tls::TlsInfo;
pub use wharf_edge::HeadLimits;
