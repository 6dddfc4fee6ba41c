//! The `retry` middleware's decisions: whether a failed attempt gets another one.
//!
//! An attempt that failed to reach a server, or that lost its server before any answer, is
//! retried unless `disableRetryOnNetworkError`; an answer whose status is listed in `status`
//! is retried too. Never past `attempts`, never after `timeout`, never for POST, PATCH or
//! LOCK unless `retryNonIdempotentMethod`, and never when the request body cannot be sent
//! again (over `maxRequestBodyBytes`, or past what pingora keeps to replay it).

use std::time::Instant;

use pingora::proxy::Session;
use wharf_middleware::RetryPolicy;

use crate::ctx::RequestCtx;

/// Decides on another attempt; counts it when granted.
pub(crate) fn another_attempt(
    policy: &RetryPolicy,
    session: &Session,
    ctx: &mut RequestCtx,
) -> bool {
    let in_time = match (policy.timeout, ctx.first_attempt) {
        (Some(limit), Some(first)) => first.elapsed() < limit,
        _ => true,
    };
    let granted = ctx.retries + 1 < policy.attempts
        && in_time
        && policy.resends(&session.req_header().method)
        && ctx.body_bytes <= policy.max_request_body
        && !session.as_ref().retry_buffer_truncated();
    if granted {
        ctx.retries += 1;
        tracing::debug!(attempt = ctx.retries + 1, "retry: new attempt");
    }
    granted
}

/// Remembers when the first attempt started (for `timeout`).
pub(crate) fn note_attempt(ctx: &mut RequestCtx) {
    ctx.first_attempt.get_or_insert_with(Instant::now);
}
