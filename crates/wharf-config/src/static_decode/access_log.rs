//! `accessLog.filters` and `accessLog.fields`.

use wharf_model::{AccessLogFields, AccessLogFilters, ConfigIssue, HeaderMode};

use super::{get_bool, get_duration, get_string};
use crate::decode::{check_keys, join, list, Issues};
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

/// `path.key` (a mode), parsed by `parse`; a value it refuses is an error naming `allowed`.
fn mode<T>(
    n: &Node,
    key: &str,
    path: &str,
    parse: fn(&str) -> Option<T>,
    allowed: &str,
    issues: &mut Issues,
) -> Option<T> {
    let value = get_string(n, key, path, issues)?;
    let parsed = parse(&value);
    if parsed.is_none() {
        let origin = n.get(key).map_or(&n.origin, |v| &v.origin).clone();
        issues.push(
            ConfigIssue::error(
                origin,
                format!("`{}`: unknown mode `{value}`", join(path, key)),
            )
            .with_hint(format!("use {allowed}")),
        );
    }
    parsed
}

/// `path.names`: name (lower case) -> mode.
fn modes<T>(
    n: &Node,
    path: &str,
    parse: fn(&str) -> Option<T>,
    allowed: &str,
    issues: &mut Issues,
) -> Vec<(String, T)> {
    let Some(names) = n.get("names") else {
        return Vec::new();
    };
    let names_path = join(path, "names");
    names
        .entries()
        .iter()
        .filter_map(|(key, _)| {
            mode(names, &key.name, &names_path, parse, allowed, issues)
                .map(|m| (key.name.to_ascii_lowercase(), m))
        })
        .collect()
}

const KEEP_DROP: &str = "keep or drop";
const HEADER_MODES: &str = "keep, drop or redact";

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
    if let Some(keep) = mode(n, "defaultMode", p, keep_or_drop, KEEP_DROP, issues) {
        out.keep_by_default = keep;
    }
    out.names = modes(n, p, keep_or_drop, KEEP_DROP, issues);
    if let Some(h) = n.get("headers") {
        let hp = "accessLog.fields.headers";
        check_keys(h, hp, &["defaultMode", "names"], &[], issues);
        if let Some(m) = mode(h, "defaultMode", hp, header_mode, HEADER_MODES, issues) {
            out.headers_default = m;
        }
        out.headers = modes(h, hp, header_mode, HEADER_MODES, issues);
    }
    if let Some(q) = n.get("queryParameters") {
        let qp = "accessLog.fields.queryParameters";
        check_keys(q, qp, &["defaultMode"], &[], issues);
        if let Some(keep) = mode(q, "defaultMode", qp, keep_or_drop, KEEP_DROP, issues) {
            out.keep_query = keep;
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
