//! The Docker and Swarm providers: they list what the engine runs, follow its event stream,
//! and send the configuration the labels describe.
//!
//! Only read-only endpoints are used: `/version` (API negotiation), `/containers/json`,
//! `/containers/{id}/json`, `/services`, `/networks`, `/tasks` and `/events`. If the engine or
//! the stream goes away, the last configuration stays live (nothing is sent), and the provider
//! reconnects with backoff and resynchronizes everything.

mod engine;
mod inspect;
mod swarm;
mod tasks;
mod watch;

pub use engine::DockerError;
pub use inspect::container_from_inspect;
pub use swarm::SwarmProvider;
pub use watch::DockerProvider;
