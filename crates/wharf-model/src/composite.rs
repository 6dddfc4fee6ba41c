//! Services made of services: `weighted`, `mirroring`, `failover`, `highestRandomWeight`.

use crate::ids::QualifiedName;
use crate::origin::Origin;
use crate::service::StickyCookieSpec;

/// A child service and its weight (or a mirror and its percent).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WeightedChild {
    pub service: QualifiedName,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CompositeKind {
    Weighted {
        children: Vec<WeightedChild>,
        sticky: Option<StickyCookieSpec>,
    },
    HighestRandomWeight {
        children: Vec<WeightedChild>,
    },
    Failover {
        main: QualifiedName,
        fallback: QualifiedName,
        /// 3.6+ `errors.status`: the main's answers with these statuses go to the fallback.
        error_status: Vec<(u16, u16)>,
        /// `errors.maxRequestBodyBytes` (-1: no limit): bodies kept to resend.
        max_request_body: i64,
    },
    Mirroring {
        main: QualifiedName,
        /// Each mirror with its percent of requests.
        mirrors: Vec<WeightedChild>,
        mirror_body: bool,
        /// -1: no limit; a bigger body is not mirrored.
        max_body_size: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompositeSpec {
    pub name: QualifiedName,
    pub kind: CompositeKind,
    /// `healthCheck: {}`: the children's health decides which are picked.
    pub health_check: bool,
    pub origin: Origin,
}

impl CompositeSpec {
    /// The services it refers to.
    pub fn children(&self) -> Vec<&QualifiedName> {
        match &self.kind {
            CompositeKind::Weighted { children, .. }
            | CompositeKind::HighestRandomWeight { children } => {
                children.iter().map(|c| &c.service).collect()
            }
            CompositeKind::Failover { main, fallback, .. } => vec![main, fallback],
            CompositeKind::Mirroring { main, mirrors, .. } => std::iter::once(main)
                .chain(mirrors.iter().map(|m| &m.service))
                .collect(),
        }
    }
}
