//! Configuration in all its raw forms, decoded and validated into `wharf-model` types.
//!
//! Every source lowers into one [`Node`] tree whose keys and values keep their [`Origin`]
//! (file:line:column, flag, environment variable, container label):
//! - static configuration: [`load_static`] picks the file, the flags or the environment, as
//!   Traefik does, and decodes them into a `StaticConfig`;
//! - dynamic configuration: [`decode_dynamic`] turns one provider's tree into a
//!   [`RawDynamicConfig`], and [`validate`] merges every provider's raw config into a
//!   `DynamicConfig`, dropping invalid items one at a time, each with a located issue.
//!
//! YAML is read in exactly one module, [`yaml`], TOML in [`toml`]; [`parse_document`] picks by
//! the file's extension.
//!
//! [`Origin`]: wharf_model::Origin

pub mod compose;
mod composite;
mod decode;
pub mod docker;
mod document;
mod dynamic;
#[doc(hidden)]
mod fuzz_anchors;
pub mod fuzz_logic;
mod health_check;
pub mod kv;
pub mod lint;
mod middlewares;
mod node;
pub mod reference;
mod services;
mod sources;
mod static_decode;
mod tls;
pub mod toml;
mod transport;
mod validate;
mod validate_composite;
mod validate_services;
pub mod yaml;

pub use composite::{RawChild, RawComposite, RawCompositeKind};
pub use decode::nearest;
pub use document::parse_document;
pub use dynamic::{
    decode_dynamic, RawDynamicConfig, RawLoadBalancer, RawMiddleware, RawRouter, RawServer,
    RawService, RawStickyCookie, Sourced,
};
pub use node::{Key, Node, NodeValue};
pub use sources::{
    env_to_node, flags_to_node, load_static, LoadedStatic, StaticError, StaticInputs, StaticSource,
};
pub use static_decode::decode_static;
pub use tls::{RawRouterTls, RawTls};
pub use validate::{default_entry_points, validate, ProviderConfig};
