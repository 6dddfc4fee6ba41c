//! ACME certificate resolvers (`certificatesResolvers.<name>.acme`), on instant-acme: the
//! storage file in Traefik's `acme.json` format ([`storage`]), one certificate order with
//! HTTP-01 or TLS-ALPN-01 answered through `wharf_tls::AcmeChallenges` ([`order`]), what
//! routers need ([`wanted`]), and the [`AcmeManager`] that obtains and renews, with
//! backoff, without ever blocking a request. A storage may instead be shared through Redis
//! by several instances ([`shared`], [`follow`]): one of them, holding a lease, orders; all
//! serve what it stores and answer its challenges.

mod follow;
mod http;
mod manager;
mod order;
mod shared;
pub mod storage;
mod wanted;

pub use manager::{AcmeLink, AcmeManager, Wanted};
pub use order::AcmeError;
pub use wanted::wanted;
