//! mirroring: copies of a request go to the mirror services once the request is done; their
//! answers are read and dropped, and nothing they do reaches the client or delays it.

use std::sync::{Arc, OnceLock};

use wharf_upstream::{connect_addr, Choice, Client};

use crate::ctx::RequestCtx;

/// A body bigger than this is not mirrored when `maxBodySize` is unlimited (-1): copies are
/// held in memory until the request ends.
const UNLIMITED_CAP: usize = 16 << 20;

fn limit(max_body_size: i64) -> usize {
    usize::try_from(max_body_size).unwrap_or(UNLIMITED_CAP)
}

/// Keeps a copy of a request body chunk while it fits every mirror's limit.
pub(crate) fn keep_body(ctx: &mut RequestCtx, chunk: &[u8]) {
    let Some(body) = ctx.mirror_body.as_mut() else {
        return;
    };
    let max = ctx
        .mirrors
        .iter()
        .filter(|m| m.with_body)
        .map(|m| limit(m.max_body_size))
        .max()
        .unwrap_or(0);
    if body.len() + chunk.len() > max {
        // Too big to copy: mirrors that want the body get nothing.
        ctx.mirror_body = None;
        ctx.mirrors.retain(|m| !m.with_body);
        return;
    }
    body.extend_from_slice(chunk);
}

/// Sends the copies (the request is over).
pub(crate) fn send(ctx: &mut RequestCtx) {
    let Some(head) = ctx.mirror_head.take() else {
        return;
    };
    let body = ctx.mirror_body.take().map(bytes::BytesMut::freeze);
    static CLIENT: OnceLock<Arc<Client>> = OnceLock::new();
    let client = CLIENT.get_or_init(|| Arc::new(Client::new())).clone();
    for mirror in ctx.mirrors.drain(..) {
        let body = if mirror.with_body {
            match &body {
                Some(b) if b.len() <= limit(mirror.max_body_size) => Some(b.clone()),
                Some(_) => continue,
                None => None,
            }
        } else {
            None
        };
        let mut head = head.clone();
        let client = client.clone();
        tokio::spawn(async move {
            let Some(pick) = mirror.pool.select(&Choice::default()) else {
                return;
            };
            let server = &mirror.pool.servers[pick.index];
            let Ok(addr) = connect_addr(&server.target).await else {
                return;
            };
            let peer = || mirror.pool.peer(pick.index, addr);
            head.remove_header(&http::header::CONTENT_LENGTH);
            head.remove_header(&http::header::TRANSFER_ENCODING);
            if let Err(e) = client.send_to(peer, head, body).await {
                tracing::debug!(mirror = %mirror.pool.name, error = %e, "mirror copy not delivered");
            }
        });
    }
}
