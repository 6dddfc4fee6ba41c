//! The Traefik v3 rule language, the constraints language of providers, and the
//! circuitBreaker expression language.
//!
//! A rule such as ``Host(`a.test`) && PathPrefix(`/api`)`` is [`parse`]d into an [`Expr`] (every
//! error carries the column it points at), then [`Expr::compile`]d into a [`CompiledRule`] whose
//! regexes are built once, off the request path. [`CompiledRule::matches`] evaluates it against a
//! [`RequestView`], which keeps this crate free of any HTTP library's types.
//!
//! [`Expr::host_constraint`] tells the router which hosts a rule can match, so that tables of
//! thousands of Host-based routes are indexed rather than scanned.

mod ast;
mod breaker;
mod compile;
mod constraints;
#[doc(hidden)]
pub mod fuzz_logic;
mod host;
mod lexer;
mod parser;
mod request;
mod v2;

pub use ast::{BoolExpr, Expr, Matcher};
pub use breaker::{parse_breaker_expression, BreakerExpr, Comparison, Condition, Metric};
pub use compile::CompiledRule;
pub use constraints::{parse_constraints, Constraint, ConstraintExpr};
pub use host::{normalize_request_host, HostConstraint};
pub use parser::{parse, RuleError};
pub use request::{
    normalize_escapes, routing_path, sanitize_path, HeaderLookup, PathError, RequestView,
};
pub use v2::v2_placeholders_as_regex;

/// Traefik's default priority for a rule: its length in bytes.
pub fn default_priority(rule: &str) -> i64 {
    rule.len() as i64
}
