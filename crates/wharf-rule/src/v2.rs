//! Traefik v2 rules carried into v3: v2's `{name:regex}` placeholders (HostRegexp, Path*) are
//! plain regular expressions in v3. Used for hints by the parser and by `wharf check`.

/// `text` with each `{name:regex}` placeholder replaced by its regex (`{name}`: one path segment)
/// and the literal parts escaped; None when `text` has no placeholder.
pub fn v2_placeholders_as_regex(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    let mut found = false;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&regex::escape(&rest[..open]));
        let inner = &rest[open + 1..open + len];
        out.push_str(inner.split_once(':').map_or("[^/]+", |(_, re)| re));
        rest = &rest[open + len + 1..];
        found = true;
    }
    out.push_str(&regex::escape(rest));
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::v2_placeholders_as_regex as v2;

    #[test]
    fn placeholders_become_regexes() {
        assert_eq!(
            v2("{sub:[a-z]+}.example.com").as_deref(),
            Some("[a-z]+\\.example\\.com")
        );
        assert_eq!(
            v2("/users/{id:[0-9]+}/x/{n}").as_deref(),
            Some("/users/[0-9]+/x/[^/]+")
        );
        assert_eq!(v2("/a/{unclosed").as_deref(), None);
        assert_eq!(v2("/plain").as_deref(), None);
    }
}
