//! Test helpers shared by wharf's integration tests (never shipped):
//! - [`EchoServer`]: a real HTTP/1.1 + h2c backend on an ephemeral loopback port that answers
//!   with what it received, as JSON, and records every request;
//! - [`WharfProcess`]: the real `wharf` binary started on a config, waited on, and stopped;
//! - [`raw`]: a byte-exact HTTP/1.x client for requests ordinary clients refuse to send;
//! - [`RecordingBackend`]: a raw backend that keeps every byte it receives;
//! - [`docker`]: the echo image built locally, test networks and labelled containers;
//! - [`socket_proxy`]: a recording, cuttable proxy in front of the Docker socket;
//! - [`pebble`]: Let's Encrypt's test ACME server on loopback;
//! - [`redis_server`]: a real Redis on loopback that can be killed and restarted;
//! - [`tcp_relay`]: a TCP relay whose connections can be frozen open;
//! - [`tls_client`]: a TLS client that reports what a handshake was served;
//! - [`wait_until`]: waits on a condition, never on a fixed sleep;
//! - [`replay_corpus`]: the fuzz corpus replayed by ordinary tests.

mod bodies;
mod corpus;
pub mod docker;
mod echo;
pub mod pebble;
pub mod pki;
pub mod probe;
mod process;
pub mod raw;
mod recording;
pub mod redis_server;
pub mod socket_proxy;
pub mod tcp_relay;
pub mod tls_client;
pub mod toml_twin;
mod wait;

pub use corpus::replay_corpus;
pub use echo::{EchoServer, Received};
pub use process::{free_port, WharfProcess};
pub use recording::RecordingBackend;
pub use wait::wait_until;
