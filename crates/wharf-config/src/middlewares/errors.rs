//! `errors`: status ranges, the page service, the query template and status rewrites.

use super::{error_at, required, strings, text};
use crate::decode::{join, Issues};
use crate::node::Node;

pub(super) fn errors(
    body: &Node,
    p: &str,
    provider: &wharf_model::ProviderName,
    issues: &mut Issues,
) -> Option<wharf_model::ErrorsSpec> {
    let status = status_ranges(body, "status", p, issues);
    let service = required(body, "service", p, issues)?;
    let mut status_rewrites = Vec::new();
    if let Some(map) = body.get("statusRewrites") {
        let rp = join(p, "statusRewrites");
        for (key, value) in map.entries() {
            let Some(range) = status_range(&key.name) else {
                bad_status(map, &key.name, &rp, &key.name, issues);
                continue;
            };
            let code = crate::decode::integer(value, &join(&rp, &key.name), issues)
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (100..600).contains(c));
            match code {
                Some(code) => status_rewrites.push((range, code)),
                None => {
                    let message = format!("`{rp}.{}` must be a status code (100-599)", key.name);
                    error_at(
                        map,
                        &key.name,
                        issues,
                        message,
                        Some("e.g. \"500-503\": 500"),
                    );
                }
            }
        }
    }
    Some(wharf_model::ErrorsSpec {
        status,
        service: wharf_model::QualifiedName::resolve(&service, provider),
        query: text(body, "query", p, issues).unwrap_or_default(),
        status_rewrites,
        error_request_headers: strings(body, "errorRequestHeaders", p, issues),
    })
}

/// A list of status codes and ranges (`["500-599", "404"]`, or `"404,418"` from a label).
pub(crate) fn status_ranges(
    body: &Node,
    key: &str,
    p: &str,
    issues: &mut Issues,
) -> Vec<(u16, u16)> {
    let mut ranges = Vec::new();
    for entry in strings(body, key, p, issues) {
        for item in entry.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match status_range(item) {
                Some(range) => ranges.push(range),
                None => bad_status(body, key, &join(p, key), item, issues),
            }
        }
    }
    ranges
}

/// `500` or `500-599`, as Traefik's HTTP code ranges.
fn status_range(s: &str) -> Option<(u16, u16)> {
    let (from, to) = s.split_once('-').unwrap_or((s, s));
    let from: u16 = from.trim().parse().ok()?;
    let to: u16 = to.trim().parse().ok()?;
    (from <= to).then_some((from, to))
}

fn bad_status(n: &Node, key: &str, path: &str, item: &str, issues: &mut Issues) {
    let message = format!("`{path}`: `{item}` is neither a status code nor a range");
    error_at(
        n,
        key,
        issues,
        message,
        Some("write e.g. 500, 404 or 500-599"),
    );
}
