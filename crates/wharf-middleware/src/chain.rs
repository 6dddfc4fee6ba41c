//! A router's middlewares, in order.

use std::sync::Arc;

use pingora::http::{RequestHeader, ResponseHeader};

use crate::{CompressPolicy, ErrorPages, Flow, Middleware, Reply, RequestContext, RetryPolicy};

/// Middlewares in router order (entrypoint middlewares first). Each one wraps the next, so
/// responses are decorated innermost first.
#[derive(Debug, Default, Clone)]
pub struct Chain {
    items: Vec<Arc<dyn Middleware>>,
    removes_forwarded_for: bool,
    retry: Option<Arc<RetryPolicy>>,
    max_request_body: Option<u64>,
    max_response_body: Option<u64>,
    /// The `compress` middleware's position and policy.
    compress: Option<(usize, Arc<CompressPolicy>)>,
    /// Whether a forwardAuth of the chain sends the request body.
    forwards_body: bool,
    /// The position of the `grpcWeb` middleware, if any.
    grpc_web: Option<usize>,
    /// The innermost `errors` middleware's position and pages.
    error_pages: Option<(usize, Arc<ErrorPages>)>,
}

impl Chain {
    pub fn new(items: Vec<Arc<dyn Middleware>>) -> Self {
        let removes_forwarded_for = items.iter().any(|m| m.removes_forwarded_for());
        let retry = items.iter().find_map(|m| m.retry());
        let max_request_body = items.iter().filter_map(|m| m.max_request_body()).min();
        let max_response_body = items.iter().filter_map(|m| m.max_response_body()).min();
        // With several, the innermost compresses; the outer ones then see it encoded.
        let compress = items
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, m)| m.compress().map(|c| (i, c)));
        let forwards_body = items
            .iter()
            .any(|m| m.forward_auth().is_some_and(|a| a.forwards_body()));
        let grpc_web = items.iter().position(|m| m.grpc_web().is_some());
        let error_pages = items
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, m)| m.error_pages().map(|e| (i, e)));
        Chain {
            items,
            removes_forwarded_for,
            retry,
            max_request_body,
            max_response_body,
            compress,
            error_pages,
            forwards_body,
            grpc_web,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Runs the request side. If a middleware answers, the middlewares before it (which wrap
    /// it) decorate the answer; the ones after it never run.
    pub async fn request(
        &self,
        req: &mut RequestHeader,
        cx: &mut RequestContext,
    ) -> Option<(Reply, usize)> {
        for (i, m) in self.items.iter().enumerate() {
            let flow = match m.request_async() {
                // Its future is boxed (async_trait), so a waiting middleware's state is not
                // part of every request's future.
                Some(step) => step.run(req, cx).await,
                None => match (m.in_flight(), m.circuit_breaker()) {
                    (Some(limit), _) => limit.acquire(req, cx),
                    (None, Some(breaker)) => breaker.admit(cx),
                    (None, None) => m.request_recording(req, cx),
                },
            };
            if let Flow::Respond(reply) = flow {
                return Some((reply, i));
            }
        }
        None
    }

    /// Decorates a response with the middlewares `..upto` (all when None), innermost first.
    pub fn response(
        &self,
        resp: &mut ResponseHeader,
        req: &RequestHeader,
        cx: &RequestContext,
        upto: Option<usize>,
    ) {
        let end = upto.unwrap_or(self.items.len()).min(self.items.len());
        for m in self.items[..end].iter().rev() {
            m.response(resp, req, cx);
        }
    }

    /// The largest request body any `buffering` middleware of the chain allows.
    pub fn max_request_body(&self) -> Option<u64> {
        self.max_request_body
    }

    /// The `compress` middleware's policy, if the chain has one and it wraps the middleware
    /// at `answered_by` (the one that answered, None when the request is proxied).
    pub fn compress(&self, answered_by: Option<usize>) -> Option<&Arc<CompressPolicy>> {
        self.compress
            .as_ref()
            .filter(|(i, _)| answered_by.is_none_or(|a| *i < a))
            .map(|(_, c)| c)
    }

    /// The `errors` middleware's pages, if the chain has one and it wraps the middleware at
    /// `answered_by` (None: the backend or wharf answered).
    pub fn error_pages(&self, answered_by: Option<usize>) -> Option<&Arc<ErrorPages>> {
        self.error_pages
            .as_ref()
            .filter(|(i, _)| answered_by.is_none_or(|a| *i < a))
            .map(|(_, e)| e)
    }

    /// The largest response body any `buffering` middleware of the chain allows.
    pub fn max_response_body(&self) -> Option<u64> {
        self.max_response_body
    }

    /// Whether the proxy must read the request body first (a forwardAuth sends it).
    pub fn forwards_body(&self) -> bool {
        self.forwards_body
    }

    /// The chain's `grpcWeb` middleware, if any.
    pub fn grpc_web(&self) -> Option<&crate::GrpcWeb> {
        self.grpc_web.and_then(|i| self.items[i].grpc_web())
    }

    /// The retry policy, if the chain has a `retry` middleware.
    pub fn retry(&self) -> Option<&RetryPolicy> {
        self.retry.as_deref()
    }

    /// Whether a middleware removes X-Forwarded-For (the proxy then appends nothing).
    pub fn removes_forwarded_for(&self) -> bool {
        self.removes_forwarded_for
    }
}

/// `make()`'s future, made in place in its box: `Box::pin(future)` copies the whole future
/// (its size, however little of it is set yet) from the stack to the heap, which costs more
/// than the allocation for a future of kilobytes; allocating first lets the compiler build it
/// where it will live.
pub fn boxed_in_place<F: std::future::Future>(make: impl FnOnce() -> F) -> std::pin::Pin<Box<F>> {
    Box::into_pin(Box::write(Box::new_uninit(), make()))
}
