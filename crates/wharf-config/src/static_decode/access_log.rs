//! `accessLog.filters` and `accessLog.fields`.

use wharf_model::{AccessLogFields, AccessLogFilters, ConfigIssue, HeaderMode, Origin};

use super::{get_bool, get_duration, get_string};
use crate::decode::{check_keys, join, list, string, Issues};
use crate::node::Node;

pub(super) fn filters(n: &Node, issues: &mut Issues) -> AccessLogFilters {
    let p = "accessLog.filters";
    check_keys(
        n,
        p,
        &["statusCodes", "retryAttempts", "minDuration"],
        &[],
        issues,
    );
    let mut status_codes = Vec::new();
    if let Some(codes) = n.get("statusCodes") {
        for (code, origin) in
            list(codes, "accessLog.filters.statusCodes", issues).unwrap_or_default()
        {
            match status_range(&code) {
                Some(range) => status_codes.push(range),
                None => issues.push(
                    ConfigIssue::error(
                        origin,
                        format!("`accessLog.filters.statusCodes`: `{code}` is not a status code or a range"),
                    )
                    .with_hint("write a code (`404`) or an inclusive range (`500-599`) of codes from 100 to 999"),
                ),
            }
        }
    }
    AccessLogFilters {
        status_codes,
        retry_attempts: get_bool(n, "retryAttempts", p, issues).unwrap_or(false),
        min_duration: get_duration(n, "minDuration", p, issues).unwrap_or_default(),
    }
}

/// `404` or `500-599` (Traefik's HTTP code ranges).
fn status_range(s: &str) -> Option<(u16, u16)> {
    let code = |c: &str| {
        c.trim()
            .parse::<u16>()
            .ok()
            .filter(|c| (100..=999).contains(c))
    };
    match s.split_once('-') {
        Some((from, to)) => {
            let (from, to) = (code(from)?, code(to)?);
            (from <= to).then_some((from, to))
        }
        None => code(s).map(|c| (c, c)),
    }
}

fn keep_or_drop(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "keep" => Some(true),
        "drop" => Some(false),
        _ => None,
    }
}

fn header_mode(value: &str) -> Option<HeaderMode> {
    match value.to_ascii_lowercase().as_str() {
        "keep" => Some(HeaderMode::Keep),
        "drop" => Some(HeaderMode::Drop),
        "redact" => Some(HeaderMode::Redact),
        _ => None,
    }
}

fn bad_mode(issues: &mut Issues, origin: &Origin, path: &str, value: &str, allowed: &str) {
    issues.push(
        ConfigIssue::error(origin.clone(), format!("`{path}`: unknown mode `{value}`"))
            .with_hint(format!("use {allowed}")),
    );
}

pub(super) fn fields(n: &Node, issues: &mut Issues) -> AccessLogFields {
    let p = "accessLog.fields";
    check_keys(
        n,
        p,
        &["defaultMode", "names", "headers", "queryParameters"],
        &[],
        issues,
    );
    let mut out = AccessLogFields::default();
    if let Some(mode) = get_string(n, "defaultMode", p, issues) {
        match keep_or_drop(&mode) {
            Some(keep) => out.keep_by_default = keep,
            None => bad_mode(
                issues,
                &n.origin,
                "accessLog.fields.defaultMode",
                &mode,
                "keep or drop",
            ),
        }
    }
    if let Some(names) = n.get("names") {
        for (key, node) in names.entries() {
            let path = join("accessLog.fields.names", &key.name);
            let Some(mode) = string(node, &path, issues) else {
                continue;
            };
            match keep_or_drop(&mode) {
                Some(keep) => out.names.push((key.name.to_ascii_lowercase(), keep)),
                None => bad_mode(issues, &node.origin, &path, &mode, "keep or drop"),
            }
        }
    }
    if let Some(h) = n.get("headers") {
        let hp = "accessLog.fields.headers";
        check_keys(h, hp, &["defaultMode", "names"], &[], issues);
        if let Some(mode) = get_string(h, "defaultMode", hp, issues) {
            match header_mode(&mode) {
                Some(m) => out.headers_default = m,
                None => bad_mode(
                    issues,
                    &h.origin,
                    "accessLog.fields.headers.defaultMode",
                    &mode,
                    "keep, drop or redact",
                ),
            }
        }
        if let Some(names) = h.get("names") {
            for (key, node) in names.entries() {
                let path = join("accessLog.fields.headers.names", &key.name);
                let Some(mode) = string(node, &path, issues) else {
                    continue;
                };
                match header_mode(&mode) {
                    Some(m) => out.headers.push((key.name.to_ascii_lowercase(), m)),
                    None => bad_mode(issues, &node.origin, &path, &mode, "keep, drop or redact"),
                }
            }
        }
    }
    if let Some(q) = n.get("queryParameters") {
        let qp = "accessLog.fields.queryParameters";
        check_keys(q, qp, &["defaultMode"], &[], issues);
        if let Some(mode) = get_string(q, "defaultMode", qp, issues) {
            match keep_or_drop(&mode) {
                Some(keep) => out.keep_query = keep,
                None => bad_mode(
                    issues,
                    &q.origin,
                    "accessLog.fields.queryParameters.defaultMode",
                    &mode,
                    "keep or drop",
                ),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::status_range;

    #[test]
    fn status_ranges_as_traefik_writes_them() {
        assert_eq!(status_range("404"), Some((404, 404)));
        assert_eq!(status_range("500-599"), Some((500, 599)));
        assert_eq!(status_range("599-500"), None);
        assert_eq!(status_range("42"), None);
        assert_eq!(status_range("abc"), None);
    }
}
