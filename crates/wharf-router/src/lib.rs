//! The compiled routing state the request path reads: a [`Generation`] per configuration,
//! published through one `ArcSwap` ([`GenerationWriter`] / [`GenerationReader`]).
//!
//! A generation holds, per entrypoint, a [`RouteTable`] ordered by priority whose routes are
//! indexed by host (exact names, one-label wildcards, and the rest), so a lookup among
//! thousands of Host routes only evaluates the few that can match.

mod api_view;
mod compile;
mod generation;
mod publish;
mod status;
mod table;

pub use api_view::{ApiAnswer, ApiItem, ApiList, ApiView, DocumentsRenderer, ItemJson};
pub use compile::{compile, Built, InternalRoutes, MiddlewareCache};
pub use generation::{EntryPointRoutes, Generation};
pub use publish::{GenerationReader, GenerationWriter};
pub use status::{ControlStatus, ProviderSlot};
pub use table::{Route, RouteAction, RouteTable};
