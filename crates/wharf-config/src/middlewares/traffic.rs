//! `ipAllowList`, `rateLimit`, `inFlightReq`, `retry`, `circuitBreaker`, and the source
//! criterion.

use super::{error_at, flag, strings, text};
use crate::decode::{join, Issues};
use crate::node::Node;

pub(super) fn source_criterion(
    n: &Node,
    p: &str,
    default: wharf_model::SourceCriterion,
    issues: &mut Issues,
) -> wharf_model::SourceCriterion {
    let Some(sc) = n.get("sourceCriterion") else {
        return default;
    };
    let sp = join(p, "sourceCriterion");
    if let Some(h) = text(sc, "requestHeaderName", &sp, issues).filter(|h| !h.is_empty()) {
        return wharf_model::SourceCriterion::Header(h);
    }
    if flag(sc, "requestHost", &sp, issues) {
        return wharf_model::SourceCriterion::Host;
    }
    if let Some(ip) = sc.get("ipStrategy") {
        let ipp = join(&sp, "ipStrategy");
        return wharf_model::SourceCriterion::ClientIp {
            depth: ip
                .get("depth")
                .and_then(|d| crate::decode::integer(d, &join(&ipp, "depth"), issues))
                .unwrap_or(0),
            excluded: strings(ip, "excludedIPs", &ipp, issues),
            ipv6_subnet: ipv6_subnet(ip, &ipp, issues),
        };
    }
    default
}

pub(super) fn ip_allow_list(
    body: &Node,
    p: &str,
    issues: &mut Issues,
) -> Option<wharf_model::MiddlewareKind> {
    use wharf_model::MiddlewareKind as K;
    let source_range = strings(body, "sourceRange", p, issues);
    if source_range.is_empty() {
        issues.push(
            wharf_model::ConfigIssue::error(
                body.origin.clone(),
                format!("`{p}.sourceRange` is required"),
            )
            .with_hint("list the allowed IPs or CIDR ranges, e.g. [10.0.0.0/8]"),
        );
        return None;
    }
    for ip in &source_range {
        if ip.parse::<ipnet::IpNet>().is_err() && ip.parse::<std::net::IpAddr>().is_err() {
            let message = format!("`{p}.sourceRange`: `{ip}` is neither an IP nor a CIDR range");
            error_at(body, "sourceRange", issues, message, None);
        }
    }
    let strategy = body.get("ipStrategy");
    let sp = join(p, "ipStrategy");
    Some(K::IpAllowList {
        source_range,
        depth: strategy
            .and_then(|s| s.get("depth"))
            .and_then(|d| crate::decode::integer(d, &join(&sp, "depth"), issues))
            .unwrap_or(0),
        excluded_ips: strategy
            .map(|s| strings(s, "excludedIPs", &sp, issues))
            .unwrap_or_default(),
        ipv6_subnet: strategy.and_then(|s| ipv6_subnet(s, &sp, issues)),
        reject_status: body
            .get("rejectStatusCode")
            .and_then(|c| crate::decode::integer(c, &join(p, "rejectStatusCode"), issues))
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (100..600).contains(c))
            .unwrap_or(403),
    })
}

pub(super) fn rate_limit(
    body: &Node,
    p: &str,
    issues: &mut Issues,
) -> Option<wharf_model::MiddlewareKind> {
    use wharf_model::MiddlewareKind as K;
    let int = |key: &str, issues: &mut Issues| {
        body.get(key)
            .and_then(|v| crate::decode::integer(v, &join(p, key), issues))
    };
    let average = int("average", issues).unwrap_or(0);
    let burst = int("burst", issues).unwrap_or(1);
    let period = body
        .get("period")
        .and_then(|v| crate::decode::duration(v, &join(p, "period"), issues))
        .unwrap_or(std::time::Duration::from_secs(1));
    if average < 0 || burst < 0 || period.is_zero() {
        issues.push(
            wharf_model::ConfigIssue::error(
                body.origin.clone(),
                format!("`{p}`: average and burst cannot be negative, period must be positive"),
            )
            .with_hint("e.g. average: 100, period: 1s, burst: 50"),
        );
        return None;
    }
    let redis = match body.get("redis") {
        None => None,
        Some(r) => Some(Box::new(rate_limit_redis(r, &join(p, "redis"), issues)?)),
    };
    Some(K::RateLimit {
        average,
        period_ms: u64::try_from(period.as_millis()).unwrap_or(u64::MAX),
        burst,
        source: source_criterion(
            body,
            p,
            wharf_model::SourceCriterion::ClientIp {
                depth: 0,
                excluded: Vec::new(),
                ipv6_subnet: None,
            },
            issues,
        ),
        redis,
    })
}

/// `rateLimit.redis`. The pool options are accepted and have nothing to size: wharf talks
/// to Redis over one multiplexed connection per middleware.
fn rate_limit_redis(r: &Node, p: &str, issues: &mut Issues) -> Option<wharf_model::RateLimitRedis> {
    crate::decode::check_keys(
        r,
        p,
        &[
            "endpoints",
            "username",
            "password",
            "db",
            "readTimeout",
            "writeTimeout",
            "dialTimeout",
            "poolSize",
            "minIdleConns",
            "maxActiveConns",
            "tls",
            "sentinel",
        ],
        &[],
        issues,
    );
    let connection = crate::static_decode::redis_connection(
        r,
        p,
        "the middleware is disabled, and so are the routers using it",
        issues,
    )?;
    let timeout = |key: &str, default: u64, issues: &mut Issues| {
        r.get(key)
            .and_then(|v| crate::decode::duration(v, &join(p, key), issues))
            .filter(|d| !d.is_zero())
            .unwrap_or(std::time::Duration::from_secs(default))
    };
    Some(wharf_model::RateLimitRedis {
        connection,
        dial_timeout: timeout("dialTimeout", 5, issues),
        read_timeout: timeout("readTimeout", 3, issues),
    })
}

pub(super) fn in_flight_req(
    body: &Node,
    p: &str,
    issues: &mut Issues,
) -> Option<wharf_model::MiddlewareKind> {
    use wharf_model::MiddlewareKind as K;
    let amount = body
        .get("amount")
        .and_then(|v| crate::decode::integer(v, &join(p, "amount"), issues))
        .unwrap_or(0);
    if amount < 0 {
        issues.push(wharf_model::ConfigIssue::error(
            body.origin.clone(),
            format!("`{p}.amount` cannot be negative"),
        ));
        return None;
    }
    Some(K::InFlightReq {
        amount,
        source: source_criterion(body, p, wharf_model::SourceCriterion::Host, issues),
    })
}

pub(super) fn retry(
    body: &Node,
    p: &str,
    issues: &mut Issues,
) -> Option<wharf_model::MiddlewareKind> {
    use wharf_model::MiddlewareKind as K;
    let attempts = body
        .get("attempts")
        .and_then(|v| crate::decode::integer(v, &join(p, "attempts"), issues))
        .unwrap_or(0);
    if attempts <= 0 {
        issues.push(
            wharf_model::ConfigIssue::error(
                body.origin.clone(),
                format!("`{p}.attempts` must be at least 1"),
            )
            .with_hint("e.g. attempts: 3"),
        );
        return None;
    }
    let millis = |key: &str, issues: &mut Issues| {
        body.get(key)
            .and_then(|v| crate::decode::duration(v, &join(p, key), issues))
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    let max_request_body_bytes = body
        .get("maxRequestBodyBytes")
        .and_then(|v| crate::decode::integer(v, &join(p, "maxRequestBodyBytes"), issues))
        .map_or(2 * 1024 * 1024, |v| u64::try_from(v).unwrap_or(u64::MAX));
    Some(K::Retry(Box::new(wharf_model::RetrySpec {
        attempts,
        initial_interval_ms: millis("initialInterval", issues),
        timeout_ms: millis("timeout", issues),
        max_request_body_bytes,
        status: super::errors::status_ranges(body, "status", p, issues),
        disable_retry_on_network_error: flag(body, "disableRetryOnNetworkError", p, issues),
        retry_non_idempotent_method: flag(body, "retryNonIdempotentMethod", p, issues),
    })))
}

pub(super) fn circuit_breaker(
    body: &Node,
    p: &str,
    issues: &mut Issues,
) -> Option<wharf_model::CircuitBreakerSpec> {
    let source = super::required(body, "expression", p, issues)?;
    let expression = match wharf_rule::parse_breaker_expression(&source) {
        Ok(e) => e,
        Err(e) => {
            let message = format!("`{p}.expression`: invalid expression `{source}`: {e}");
            error_at(body, "expression", issues, message, e.hint.as_deref());
            return None;
        }
    };
    let millis = |key: &str, default: u64, issues: &mut Issues| {
        body.get(key)
            .and_then(|v| crate::decode::duration(v, &join(p, key), issues))
            .map_or(default, |d| {
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
            })
    };
    let check_period_ms = millis("checkPeriod", 100, issues);
    let fallback_ms = millis("fallbackDuration", 10_000, issues);
    let recovery_ms = millis("recoveryDuration", 10_000, issues);
    let response_code = match body.get("responseCode") {
        None => 503,
        Some(v) => {
            let code = crate::decode::integer(v, &join(p, "responseCode"), issues)
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (100..600).contains(c));
            match code {
                Some(c) => c,
                None => {
                    let message = format!("`{p}.responseCode` must be a status code (100-599)");
                    error_at(body, "responseCode", issues, message, Some("e.g. 503"));
                    return None;
                }
            }
        }
    };
    Some(wharf_model::CircuitBreakerSpec {
        expression,
        check_period_ms: check_period_ms.max(1),
        fallback_ms,
        recovery_ms,
        response_code,
    })
}

/// `ipStrategy.ipv6Subnet`: a prefix length from 0 to 128.
fn ipv6_subnet(strategy: &Node, p: &str, issues: &mut Issues) -> Option<u8> {
    let v = strategy.get("ipv6Subnet")?;
    let bits = crate::decode::integer(v, &join(p, "ipv6Subnet"), issues)?;
    match u8::try_from(bits).ok().filter(|b| *b <= 128) {
        Some(b) => Some(b),
        None => {
            let message = format!("`{p}.ipv6Subnet` must be a prefix length from 0 to 128");
            error_at(strategy, "ipv6Subnet", issues, message, Some("e.g. 64"));
            None
        }
    }
}
