//! `compress`: encodings, content-type filters and the size threshold, checked as Traefik
//! checks them when it builds the middleware.

use super::{error_at, strings, text};
use crate::decode::{join, Issues};
use crate::node::Node;

const ENCODINGS: &[&str] = &["gzip", "br", "zstd"];

pub(super) fn compress(
    body: &Node,
    p: &str,
    issues: &mut Issues,
) -> Option<wharf_model::CompressSpec> {
    let mut spec = wharf_model::CompressSpec::default();
    let excluded = media_types(body, "excludedContentTypes", p, issues);
    let included = media_types(body, "includedContentTypes", p, issues);
    if !excluded.is_empty() && !included.is_empty() {
        let message =
            format!("`{p}`: excludedContentTypes and includedContentTypes are mutually exclusive");
        let hint = Some("keep one of the two lists");
        error_at(body, "includedContentTypes", issues, message, hint);
        return None;
    }
    spec.excluded_content_types.extend(excluded);
    spec.included_content_types = included;
    if let Some(min) = body
        .get("minResponseBodyBytes")
        .and_then(|v| crate::decode::integer(v, &join(p, "minResponseBodyBytes"), issues))
    {
        // Like Traefik, zero or a negative value keeps the default.
        if let Ok(min @ 1..) = u64::try_from(min) {
            spec.min_response_body_bytes = min;
        }
    }
    if body.get("encodings").is_some() {
        spec.encodings = strings(body, "encodings", p, issues);
        if spec.encodings.is_empty() {
            let message = format!("`{p}.encodings` needs at least one encoding");
            error_at(
                body,
                "encodings",
                issues,
                message,
                Some("e.g. [gzip, br, zstd]"),
            );
        }
        for e in &spec.encodings {
            if !ENCODINGS.contains(&e.as_str()) {
                let message = format!("`{p}.encodings`: unsupported encoding `{e}`");
                error_at(
                    body,
                    "encodings",
                    issues,
                    message,
                    Some("use gzip, br or zstd"),
                );
            }
        }
    }
    spec.default_encoding = text(body, "defaultEncoding", p, issues).filter(|e| !e.is_empty());
    if let Some(default) = &spec.default_encoding {
        if !spec.encodings.contains(default) {
            let message = format!("`{p}.defaultEncoding`: `{default}` is not one of the encodings");
            let hint = format!("use one of {}", spec.encodings.join(", "));
            error_at(body, "defaultEncoding", issues, message, Some(&hint));
        }
    }
    Some(spec)
}

/// A list of media types, each checked to parse (`type/subtype`, optional parameters).
fn media_types(body: &Node, key: &str, p: &str, issues: &mut Issues) -> Vec<String> {
    let list = strings(body, key, p, issues);
    for t in &list {
        if t.parse::<mime::Mime>().is_err() {
            let message = format!("`{p}.{key}`: `{t}` is not a media type");
            error_at(body, key, issues, message, Some("e.g. text/event-stream"));
        }
    }
    list
}
