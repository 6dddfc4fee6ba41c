//! The Docker provider: lists and inspects containers, follows the engine's event stream, and
//! sends the configuration their labels describe.
//!
//! Only read-only endpoints are used: `/version` (API negotiation), `/containers/json`,
//! `/containers/{id}/json` and `/events`. If the engine or the stream goes away, the last
//! configuration stays live (nothing is sent), and the provider reconnects with backoff and
//! resynchronizes everything.

mod inspect;
mod watch;

pub use inspect::container_from_inspect;
pub use watch::DockerProvider;
