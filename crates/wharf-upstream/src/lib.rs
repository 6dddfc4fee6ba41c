//! Service pools: the servers of one service and the state that must outlive a routing
//! generation (the round-robin position now; health and connection state later).
//!
//! The control plane owns the [`PoolRegistry`] (single writer, no locks needed); each
//! generation holds `Arc<ServicePool>`s taken from it, so a config swap that leaves a service
//! unchanged keeps its pool, and its state, as it was.

mod dns;
mod pool;
mod registry;

pub use dns::{CachedName, Target};
pub use pool::{Server, ServicePool};
pub use registry::PoolRegistry;
