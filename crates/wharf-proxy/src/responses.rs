//! The responses wharf writes itself, byte-compatible with Traefik's.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;

pub(crate) const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// Writes a complete response. `content_type` None sends no Content-Type (as Traefik's 502).
pub(crate) async fn respond(
    session: &mut Session,
    status: u16,
    content_type: Option<&str>,
    nosniff: bool,
    extra: &[(&'static str, String)],
    body: Bytes,
) -> Result<()> {
    let resp = header(status, content_type, nosniff, extra, body.len())?;
    send(session, resp, body).await
}

/// The head of a response wharf writes itself.
pub(crate) fn header(
    status: u16,
    content_type: Option<&str>,
    nosniff: bool,
    extra: &[(&'static str, String)],
    body_len: usize,
) -> Result<ResponseHeader> {
    let mut resp = ResponseHeader::build(status, Some(4 + extra.len()))?;
    if let Some(ct) = content_type {
        resp.insert_header("Content-Type", ct)?;
    }
    if nosniff {
        resp.insert_header("X-Content-Type-Options", "nosniff")?;
    }
    for (name, value) in extra {
        resp.insert_header(*name, value.as_str())?;
    }
    resp.insert_header("Content-Length", body_len.to_string())?;
    Ok(resp)
}

/// Writes a head and its body.
pub(crate) async fn send(session: &mut Session, resp: ResponseHeader, body: Bytes) -> Result<()> {
    let head_only = session.req_header().method == http::Method::HEAD;
    session
        .write_response_header(Box::new(resp), head_only || body.is_empty())
        .await?;
    if !head_only && !body.is_empty() {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}

pub(crate) async fn not_found(session: &mut Session) -> Result<()> {
    respond(
        session,
        404,
        Some(TEXT_PLAIN),
        true,
        &[],
        Bytes::from_static(b"404 page not found\n"),
    )
    .await
}

pub(crate) async fn bad_request(session: &mut Session, body: &'static [u8]) -> Result<()> {
    respond(
        session,
        400,
        Some(TEXT_PLAIN),
        false,
        &[],
        Bytes::from_static(body),
    )
    .await
}

/// The body Go's `http.StatusText` gives for the codes wharf produces.
pub(crate) fn status_text(code: u16) -> Bytes {
    Bytes::from_static(match code {
        200 => b"OK",
        301 => b"Moved Permanently",
        302 => b"Found",
        307 => b"Temporary Redirect",
        308 => b"Permanent Redirect",
        400 => b"Bad Request",
        500 => b"Internal Server Error",
        413 => b"Request Entity Too Large",
        502 => b"Bad Gateway",
        503 => b"Service Unavailable",
        504 => b"Gateway Timeout",
        _ => b"",
    })
}
