//! Service pools: the servers of one service, how one is picked, and the state that must
//! outlive a routing generation (health, failures, load, the round-robin position).
//!
//! The control plane owns the [`PoolRegistry`] (single writer, no locks needed); each
//! generation holds `Arc<ServicePool>`s taken from it, so a config swap that leaves a service
//! unchanged keeps its pool as it was, and a changed service keeps what is known of the
//! servers it still has ([`ServerState`], keyed by service and server URL). Active health
//! checks run as tasks per server, started and stopped with their pool; the request path only
//! reads atomics.

mod backend_connect;
mod balance;
mod composite;
mod dns;
mod exchange;
pub mod fuzz_logic;
mod h2_keepalive;
mod health;
mod peer;
mod pool;
mod registry;
mod schedule;
mod server;
mod sticky;
mod tls_client;
mod transport;

pub use backend_connect::{protocol_learned, PROTOCOL_LEARNED};
pub use balance::{Choice, Pick};
pub use composite::{CompositeNode, Fallback, Mirror, Resolved, Routing, ServiceNode};
pub use dns::{CachedName, Target};
pub use exchange::{connect_addr, Client, IDLE};
pub use h2_keepalive::lost_to_unanswered_ping;
pub use peer::http_peer;
pub use pool::{Outcome, ServicePool, CONNECT_FAILURE_BACKOFF};
pub use registry::PoolRegistry;
pub use schedule::{Schedule, MAX_CYCLE};
pub use server::{authority, InFlightGuard, Server, ServerState};
pub use sticky::{request_cookie, set_cookie};
pub use tls_client::TlsClient;
pub use transport::{ca_list, client_cert, Transport};
