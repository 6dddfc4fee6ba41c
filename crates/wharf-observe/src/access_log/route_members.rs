//! The JSON members from `RouterName` to `ServiceURL` (adjacent in Go's key order) of the routes
//! logged last, as written: a busy proxy logs the same few routes over and over, and their
//! names and URLs are the very strings of the configuration each time, so a hit is a few
//! pointer comparisons and one copy instead of four escaped members.

use std::sync::Arc;

use super::entry::AccessEntry;

/// How many routes are remembered (replaced in turn).
const SLOTS: usize = 4;

#[derive(Debug, Default)]
pub(super) struct RouteMembers {
    slots: [Option<Slot>; SLOTS],
    next: usize,
}

/// A route's strings (held, so no other string can take their address) and its members.
#[derive(Debug)]
struct Slot {
    router: Option<Arc<str>>,
    /// Service name, URL and address.
    origin: Option<[Arc<str>; 3]>,
    text: Vec<u8>,
}

fn same(a: Option<&Arc<str>>, b: Option<&Arc<str>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

impl Slot {
    fn holds(&self, e: &AccessEntry) -> bool {
        same(self.router.as_ref(), e.router.as_ref())
            && match (&self.origin, &e.origin) {
                (Some([service, url, addr]), Some(o)) => {
                    Arc::ptr_eq(service, &o.service)
                        && Arc::ptr_eq(url, &o.url)
                        && Arc::ptr_eq(addr, &o.addr)
                }
                (None, None) => true,
                _ => false,
            }
    }
}

impl RouteMembers {
    /// The members written for `e`'s route before, if remembered.
    pub(super) fn find(&self, e: &AccessEntry) -> Option<&[u8]> {
        self.slots
            .iter()
            .flatten()
            .find(|slot| slot.holds(e))
            .map(|slot| slot.text.as_slice())
    }

    /// Remembers `text`, the members just written for `e`'s route.
    pub(super) fn keep(&mut self, e: &AccessEntry, text: &[u8]) {
        let index = self.next;
        self.next = (index + 1) % SLOTS;
        let Some(place) = self.slots.get_mut(index) else {
            return;
        };
        let mut reused = place.take().map(|slot| slot.text).unwrap_or_default();
        reused.clear();
        reused.extend_from_slice(text);
        *place = Some(Slot {
            router: e.router.clone(),
            origin: e
                .origin
                .as_ref()
                .map(|o| [o.service.clone(), o.url.clone(), o.addr.clone()]),
            text: reused,
        });
    }
}
