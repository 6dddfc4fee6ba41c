//! TLS termination material, built by the control plane and read by the edge at each
//! handshake: certificates loaded from PEM and checked ([`certificate`]), Traefik's generated
//! default certificate, the per-SNI [`CertStore`], `tls.options` as rustls `ServerConfig`s
//! ([`OptionSet`]), and per entrypoint the options set an SNI (or a Host) maps to
//! ([`SniOptions`]). [`TlsRegistry`] keeps what must outlive one configuration: the
//! generated certificate, resumption keys, and each certificate's last good version.
//! [`AcmeChallenges`] holds the answers to ACME challenges in flight.

mod certificate;
mod challenges;
mod client_auth;
mod generated;
mod options;
mod registry;
mod snapshot;
mod store;

pub use certificate::{load, CertError, CertificateInfo, LoadedCertificate};
pub use challenges::{AcmeChallenges, ACME_TLS_ALPN};
pub use generated::traefik_default_certificate;
pub use options::{build_options, crypto_policy, OptionSet, SessionState};
pub use registry::TlsRegistry;
pub use snapshot::{Selected, SniOptions, TlsSnapshot};
pub use store::CertStore;
