//! The reconciler, the single writer of routing state: provider updates -> merge -> validate
//! -> compile -> swap. It keeps each provider's last good configuration, so a provider that
//! sends something unusable (a file that does not parse) changes nothing.

pub mod api;
mod controller;
mod metrics;

pub use controller::{ApplyReport, Controller, ProviderEvent};
