//! [`TlsSnapshot`]: the certificates and options sets of one configuration, and
//! [`SniOptions`]: which options set a connection gets, per entrypoint, from its SNI (and, for
//! the domain-fronting guard, which one a request's Host maps to).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use wharf_model::DEFAULT_TLS_OPTIONS;

use crate::options::OptionSet;
use crate::store::CertStore;

#[derive(Debug)]
pub struct TlsSnapshot {
    pub store: Arc<CertStore>,
    /// By name; an options set that could not be built maps to `None` (its hosts are refused
    /// rather than served with weaker options).
    pub(crate) options: HashMap<String, Option<Arc<OptionSet>>>,
    pub(crate) default: Arc<OptionSet>,
}

/// What a handshake is served.
#[derive(Debug, Clone)]
pub enum Selected<'a> {
    Options(&'a Arc<OptionSet>),
    /// Its options set is broken (see the configuration errors): refuse the handshake.
    Refused,
}

/// Per entrypoint: SNI (lower case) -> options set.
#[derive(Debug, Clone)]
pub struct SniOptions {
    by_host: HashMap<String, Option<Arc<OptionSet>>>,
    default: Arc<OptionSet>,
}

impl TlsSnapshot {
    /// The options map of one entrypoint, from its TLS routers' hosts: `(host, options name,
    /// router)`. A host whose routers ask for different options gets `default`, with a
    /// warning, as in Traefik; a host whose options do not exist is refused.
    pub fn sni_options<'a>(
        &self,
        hosts: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> (SniOptions, Vec<String>) {
        let mut wanted: BTreeMap<String, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
        for (host, options, router) in hosts {
            wanted
                .entry(host.to_ascii_lowercase())
                .or_default()
                .entry(options)
                .or_default()
                .insert(router);
        }
        let mut warnings = Vec::new();
        let mut by_host = HashMap::new();
        for (host, options) in wanted {
            let name = if options.len() == 1 {
                options
                    .keys()
                    .next()
                    .copied()
                    .unwrap_or(DEFAULT_TLS_OPTIONS)
            } else {
                let routers: Vec<&str> = options.values().flatten().copied().collect();
                warnings.push(format!(
                    "routers {} on host `{host}` ask for different TLS options; the `default` options are used for that host (as in Traefik)",
                    routers.join(", ")
                ));
                DEFAULT_TLS_OPTIONS
            };
            // Options that do not exist (their router is dropped) refuse the handshake, as
            // Traefik does.
            let set = self.options.get(name).cloned().flatten();
            by_host.insert(host, set);
        }
        (
            SniOptions {
                by_host,
                default: self.default.clone(),
            },
            warnings,
        )
    }

    /// An entrypoint with no TLS routers: everything gets `default`.
    pub fn default_sni_options(&self) -> SniOptions {
        SniOptions {
            by_host: HashMap::new(),
            default: self.default.clone(),
        }
    }
}

impl SniOptions {
    /// A name's entry (lower case, as rustls gives an SNI and the proxy normalises a Host; a
    /// trailing dot ignored).
    fn lookup(&self, name: &str) -> Option<&Option<Arc<OptionSet>>> {
        self.by_host.get(name.strip_suffix('.').unwrap_or(name))
    }

    /// The options set for a handshake's SNI.
    pub fn for_sni(&self, sni: Option<&str>) -> Selected<'_> {
        match sni.and_then(|s| self.lookup(s)) {
            Some(Some(set)) => Selected::Options(set),
            Some(None) => Selected::Refused,
            None => Selected::Options(&self.default),
        }
    }

    /// The name of the options a request's Host (normalised: lower case, no port) maps to,
    /// for Traefik's domain-fronting guard.
    pub fn name_for_host(&self, host: &str) -> &str {
        match self.lookup(host) {
            Some(Some(set)) => &set.name,
            Some(None) => "",
            None => &self.default.name,
        }
    }
}
