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

/// One request's attempts so far.
/// `server`'s bit in [`Attempts::tried`] (none past the 64th).
fn server_bit(server: usize) -> u64 {
    u32::try_from(server)
        .ok()
        .and_then(|s| 1u64.checked_shl(s))
        .unwrap_or(0)
}

#[derive(Debug, Default)]
pub(crate) struct Attempts {
    /// Attempts retried so far (the first is not a retry).
    pub(crate) retries: u32,
    /// When the first attempt started (for `timeout`).
    first: Option<Instant>,
    /// Servers this request has tried (the first 64 of the pool): a retry goes elsewhere
    /// while another server is left.
    pub(crate) tried: u64,
}

impl Attempts {
    /// Remembers when the first attempt started.
    pub(crate) fn note(&mut self) {
        self.first.get_or_insert_with(Instant::now);
    }

    /// Remembers the server an attempt goes to.
    pub(crate) fn tried(&mut self, server: usize) {
        self.tried |= server_bit(server);
    }

    /// Forgets that `server` was tried (its attempt sent nothing and may go again).
    pub(crate) fn untried(&mut self, server: usize) {
        self.tried &= !server_bit(server);
    }

    /// Decides on another attempt (`body_bytes`: the request body received); counts it when
    /// granted.
    pub(crate) fn another(
        &mut self,
        policy: &RetryPolicy,
        session: &Session,
        body_bytes: u64,
    ) -> bool {
        let in_time = match (policy.timeout, self.first) {
            (Some(limit), Some(first)) => first.elapsed() < limit,
            _ => true,
        };
        let granted = self.retries + 1 < policy.attempts
            && in_time
            && policy.resends(&session.req_header().method)
            && body_bytes <= policy.max_request_body
            && !session.as_ref().retry_buffer_truncated();
        if granted {
            self.retries += 1;
            tracing::debug!(attempt = self.retries + 1, "retry: new attempt");
        }
        granted
    }
}
