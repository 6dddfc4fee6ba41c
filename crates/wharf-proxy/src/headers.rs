//! Adapts pingora's header map to the rule matcher.

use http::HeaderMap;
use wharf_rule::HeaderLookup;

pub(crate) struct Headers<'a>(pub &'a HeaderMap);

impl HeaderLookup for Headers<'_> {
    fn any_value(&self, name: &str, pred: &mut dyn FnMut(&str) -> bool) -> bool {
        self.0
            .get_all(name)
            .iter()
            .any(|v| v.to_str().is_ok_and(&mut *pred))
    }
}
