//! One immutable routing snapshot.

use std::sync::Arc;

use wharf_rule::RequestView;

use wharf_tls::{SniOptions, TlsSnapshot};

use crate::api_view::ApiView;
use crate::table::{Route, RouteTable};

/// The routes of one entrypoint: routers with `tls` only ever match TLS connections and the
/// others only plaintext ones, as in Traefik.
#[derive(Debug)]
pub struct EntryPointRoutes {
    pub name: String,
    pub plain: RouteTable,
    pub tls: RouteTable,
    /// The TLS options a handshake gets by SNI (and a request's Host maps to).
    pub sni: Arc<SniOptions>,
}

#[derive(Debug)]
pub struct Generation {
    /// Increases by one per published configuration.
    pub id: u64,
    /// Indexed like the static entrypoints (sorted by name); see [`Generation::entry_point_index`].
    pub entry_points: Vec<EntryPointRoutes>,
    pub api: Arc<ApiView>,
}

impl Generation {
    /// No routes; TLS with `tls` alone (the generated certificate and default options).
    pub fn empty(entry_point_names: &[String], tls: &TlsSnapshot) -> Arc<Generation> {
        let sni = Arc::new(tls.default_sni_options());
        Arc::new(Generation {
            id: 0,
            entry_points: entry_point_names
                .iter()
                .map(|n| EntryPointRoutes {
                    name: n.clone(),
                    plain: RouteTable::default(),
                    tls: RouteTable::default(),
                    sni: sni.clone(),
                })
                .collect(),
            api: Arc::default(),
        })
    }

    /// The position of an entrypoint, resolved once when the listener is built.
    pub fn entry_point_index(names: &[String], name: &str) -> Option<usize> {
        names.iter().position(|n| n == name)
    }

    /// The route a request on entrypoint `ep` (TLS or not) goes to.
    pub fn find(&self, ep: usize, tls: bool, req: &RequestView<'_>) -> Option<&Route> {
        let routes = self.entry_points.get(ep)?;
        if tls {
            routes.tls.find(req)
        } else {
            routes.plain.find(req)
        }
    }
}
