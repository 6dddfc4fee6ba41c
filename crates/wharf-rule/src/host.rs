//! Which hosts a rule can match, for indexing route tables; and request-host normalization.

use std::borrow::Cow;

use crate::ast::{Expr, Matcher};
use crate::compile::normalize_rule_host;

/// The hosts a rule can possibly match. A superset is fine: the full rule is still evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostConstraint {
    /// The rule may match any host.
    Any,
    /// Only these hosts: exact names, and one-label wildcards stored as their suffix (`.d.com`).
    Hosts {
        exact: Vec<String>,
        one_label: Vec<String>,
    },
}

impl HostConstraint {
    fn union(self, other: HostConstraint) -> HostConstraint {
        match (self, other) {
            (
                HostConstraint::Hosts {
                    mut exact,
                    mut one_label,
                },
                HostConstraint::Hosts {
                    exact: e2,
                    one_label: w2,
                },
            ) => {
                exact.extend(e2);
                one_label.extend(w2);
                HostConstraint::Hosts { exact, one_label }
            }
            _ => HostConstraint::Any,
        }
    }
}

impl Expr {
    /// The hosts this rule is limited to, if it is limited by `Host` matchers at all.
    pub fn host_constraint(&self) -> HostConstraint {
        match self {
            Expr::Leaf(Matcher::Host(h)) => {
                let h = normalize_rule_host(h);
                if h == "*" {
                    HostConstraint::Any
                } else if let Some(suffix) = h.strip_prefix('*') {
                    HostConstraint::Hosts {
                        exact: vec![],
                        one_label: vec![suffix.to_string()],
                    }
                } else {
                    HostConstraint::Hosts {
                        exact: vec![h],
                        one_label: vec![],
                    }
                }
            }
            Expr::Leaf(_) | Expr::Not(_) => HostConstraint::Any,
            Expr::And(a, b) => match a.host_constraint() {
                HostConstraint::Any => b.host_constraint(),
                limited => limited,
            },
            Expr::Or(a, b) => a.host_constraint().union(b.host_constraint()),
        }
    }
}

/// The request host as the matchers see it: port removed, trimmed, trailing dot removed,
/// lower-cased. Borrowed when already in that form.
pub fn normalize_request_host(raw: &str) -> Cow<'_, str> {
    let raw = raw.trim();
    let without_port = if let Some(rest) = raw.strip_prefix('[') {
        // [v6]:port -> v6
        rest.split(']').next().unwrap_or(rest)
    } else {
        match raw.rsplit_once(':') {
            Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => raw,
        }
    };
    let trimmed = without_port.strip_suffix('.').unwrap_or(without_port);
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    }
}
