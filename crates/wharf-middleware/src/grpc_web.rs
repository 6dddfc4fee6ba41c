//! `grpcWeb`: gRPC-Web calls are translated to gRPC for the backend and the answers back
//! (trailers carried at the end of the body), with the CORS handling Traefik's library
//! (improbable-eng/grpc-web over rs/cors) applies: preflights answered here, `Vary: Origin`,
//! credentials allowed for the configured origins, every response header exposed.

use std::any::Any;

use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::modules::http::{HttpModule, HttpModuleBuilder, Module};

use crate::{canonical_header, Flow, Middleware, Reply, RequestContext};

const GRPC: &str = "application/grpc";
const GRPC_WEB: &str = "application/grpc-web";
const GRPC_WEB_TEXT: &str = "application/grpc-web-text";
/// rs/cors' default allowed methods.
const CORS_METHODS: &[&str] = &["GET", "POST", "HEAD"];

#[derive(Debug)]
pub struct GrpcWeb {
    any_origin: bool,
    origins: Vec<String>,
}

impl GrpcWeb {
    pub fn new(allow_origins: &[String]) -> Self {
        GrpcWeb {
            any_origin: allow_origins.iter().any(|o| o == "*"),
            origins: allow_origins.to_vec(),
        }
    }

    /// A gRPC-Web call: POST with an `application/grpc-web` content type, binary or in the
    /// base64 `-text` form.
    pub fn translates(&self, req: &RequestHeader) -> bool {
        req.method == http::Method::POST
            && content_type(&req.headers).is_some_and(|ct| ct.starts_with(GRPC_WEB))
    }

    /// Turns the call into a gRPC request: content type, `te: trailers`, and an end of stream
    /// sent as an empty DATA frame, as gRPC over HTTP/2 wants. For the `-text` form, returns
    /// the decoder its body goes through (its length changes: the upstream request must not
    /// carry the client's Content-Length).
    pub fn to_grpc(req: &mut RequestHeader) -> Option<TextDecoder> {
        let ct = content_type(&req.headers).unwrap_or_default();
        let text = ct.starts_with(GRPC_WEB_TEXT);
        let grpc = if text {
            ct.replacen(GRPC_WEB_TEXT, GRPC, 1)
        } else {
            ct.replacen(GRPC_WEB, GRPC, 1)
        };
        let _ignored = req.insert_header(CONTENT_TYPE, grpc);
        let _ignored = req.insert_header("te", "trailers");
        req.set_send_end_stream(false);
        text.then(TextDecoder::default)
    }

    fn allows(&self, origin: &str) -> bool {
        self.any_origin || self.origins.iter().any(|o| o == origin)
    }

    /// A CORS preflight for a gRPC-Web call, answered here as rs/cors does.
    fn preflight(&self, req: &RequestHeader) -> Option<Reply> {
        let requested = req
            .headers
            .get("access-control-request-headers")
            .and_then(|v| v.to_str().ok())?;
        let method = req
            .headers
            .get("access-control-request-method")
            .and_then(|v| v.to_str().ok())
            .filter(|m| !m.is_empty())?;
        if req.method != http::Method::OPTIONS
            || !requested.to_ascii_lowercase().contains("x-grpc-web")
        {
            return None;
        }
        let mut headers: Vec<(HeaderName, HeaderValue)> = [
            "Origin",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        ]
        .into_iter()
        .map(|v| (http::header::VARY, HeaderValue::from_static(v)))
        .collect();
        let origin = req
            .headers
            .get("origin")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let method = method.to_ascii_uppercase();
        if !origin.is_empty()
            && self.allows(origin)
            && (method == "OPTIONS" || CORS_METHODS.contains(&method.as_str()))
        {
            let names: Vec<String> = requested
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(canonical_header)
                .collect();
            let mut set = |name: &'static str, value: &str| {
                if let Ok(v) = HeaderValue::from_str(value) {
                    headers.push((HeaderName::from_static(name), v));
                }
            };
            set("access-control-allow-origin", origin);
            set("access-control-allow-methods", &method);
            if !names.is_empty() {
                set("access-control-allow-headers", &names.join(", "));
            }
            set("access-control-allow-credentials", "true");
            set("access-control-max-age", "600");
        }
        Some(Reply {
            status: 200,
            headers,
            body: Bytes::new(),
        })
    }
}

impl Middleware for GrpcWeb {
    fn request(&self, req: &mut RequestHeader, _cx: &RequestContext) -> Flow {
        match self.preflight(req) {
            Some(reply) => Flow::Respond(reply),
            None => Flow::Continue,
        }
    }

    fn response(&self, resp: &mut ResponseHeader, req: &RequestHeader, cx: &RequestContext) {
        if !cx.grpc_web {
            return;
        }
        let _ignored = resp.append_header(http::header::VARY, "Origin");
        let origin = req
            .headers
            .get("origin")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !origin.is_empty() && self.allows(origin) {
            let _ignored = resp.insert_header("access-control-allow-origin", origin);
            let _ignored = resp.insert_header("access-control-allow-credentials", "true");
        }
    }

    fn grpc_web(&self) -> Option<&GrpcWeb> {
        Some(self)
    }
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
}

/// Decodes a `-text` call's base64 body as it streams (a group of four characters may be
/// split across chunks).
#[derive(Debug, Default)]
pub struct TextDecoder {
    carry: Vec<u8>,
}

impl TextDecoder {
    pub fn decode(&mut self, chunk: &[u8], end: bool) -> Result<Bytes, base64::DecodeSliceError> {
        use base64::Engine;
        self.carry
            .extend(chunk.iter().filter(|b| !b.is_ascii_whitespace()));
        // Padded messages may follow each other: decode up to each padding's group end.
        let whole = if end {
            self.carry.len()
        } else {
            self.carry.len() / 4 * 4
        };
        let mut out = Vec::with_capacity(whole / 4 * 3);
        for group in self.carry[..whole].chunks(4) {
            let mut buf = [0u8; 3];
            let n = base64::engine::general_purpose::STANDARD.decode_slice(group, &mut buf)?;
            out.extend_from_slice(&buf[..n]);
        }
        self.carry.drain(..whole);
        Ok(Bytes::from(out))
    }
}

/// The answer side, as a pingora downstream module the proxy switches on per call.
#[derive(Default)]
pub struct GrpcWebModule {
    on: bool,
    h2: bool,
    text: bool,
}

impl GrpcWebModule {
    /// Translates this request's answer. `h2`: the downstream speaks HTTP/2; `text`: the call
    /// used the base64 form, and so does the answer.
    pub fn switch_on(&mut self, h2: bool, text: bool) {
        self.on = true;
        self.h2 = h2;
        self.text = text;
    }

    fn encode(&self, bytes: Bytes) -> Bytes {
        use base64::Engine;
        if self.text {
            Bytes::from(base64::engine::general_purpose::STANDARD.encode(&bytes))
        } else {
            bytes
        }
    }
}

#[async_trait]
impl HttpModule for GrpcWebModule {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    async fn response_header_filter(
        &mut self,
        resp: &mut ResponseHeader,
        _end_of_stream: bool,
    ) -> pingora::Result<()> {
        if !self.on || resp.status.is_informational() {
            return Ok(());
        }
        let Some(ct) = content_type(&resp.headers).filter(|ct| ct.starts_with(GRPC)) else {
            self.on = false;
            return Ok(());
        };
        let web = if self.text { GRPC_WEB_TEXT } else { GRPC_WEB };
        resp.insert_header(CONTENT_TYPE, ct.replacen(GRPC, web, 1))?;
        resp.remove_header(&CONTENT_LENGTH);
        if !self.h2 {
            resp.insert_header(TRANSFER_ENCODING, "chunked")?;
        }
        // Traefik's library exposes every response header, and the two gRPC trailers.
        let mut names: Vec<String> = Vec::new();
        for name in resp.headers.keys() {
            let c = canonical_header(name.as_str());
            if !names.contains(&c) && c != "Transfer-Encoding" {
                names.push(c);
            }
        }
        names.extend(["grpc-status".to_string(), "grpc-message".to_string()]);
        resp.insert_header("access-control-expose-headers", names.join(", "))?;
        Ok(())
    }

    /// The trailers become the last message of the body: 0x80, a length, then
    /// `name: value\r\n` lines, lower-case and sorted (Go's `Header.Write`).
    fn response_trailer_filter(
        &mut self,
        trailers: &mut Option<Box<HeaderMap>>,
    ) -> pingora::Result<Option<Bytes>> {
        if !self.on {
            return Ok(None);
        }
        let mut lines: Vec<(&str, &[u8])> = trailers
            .as_deref()
            .map(|t| t.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect())
            .unwrap_or_default();
        lines.sort_by(|a, b| a.0.cmp(b.0));
        let mut block = BytesMut::new();
        for (name, value) in lines {
            block.put_slice(name.as_bytes());
            block.put_slice(b": ");
            block.put_slice(value);
            block.put_slice(b"\r\n");
        }
        let mut frame = BytesMut::with_capacity(5 + block.len());
        frame.put_u8(0x80);
        frame.put_u32(u32::try_from(block.len()).unwrap_or(u32::MAX));
        frame.put_slice(&block);
        *trailers = None;
        self.on = false;
        Ok(Some(self.encode(frame.freeze())))
    }

    /// `-text`: each piece of the body is base64 on its own, as Traefik's library flushes it.
    fn response_body_filter(
        &mut self,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
    ) -> pingora::Result<()> {
        if self.on && self.text {
            if let Some(b) = body.take().filter(|b| !b.is_empty()) {
                *body = Some(self.encode(b));
            }
        }
        Ok(())
    }
}

/// Registers [`GrpcWebModule`] on a proxy's downstream modules.
pub struct GrpcWebModuleBuilder;

impl HttpModuleBuilder for GrpcWebModuleBuilder {
    fn init(&self) -> Module {
        Box::new(GrpcWebModule::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_bodies_decode_across_chunks_and_padded_messages() {
        let mut d = TextDecoder::default();
        let mut out = Vec::new();
        // "AAAAAAVoZWxsbw==" then "AAAAAAJoaQ==": two padded messages, split mid-group.
        for (chunk, end) in [
            (&b"AAAAAAVoZ"[..], false),
            (b"Wxsbw==AAAA", false),
            (b"AAJoaQ==", true),
        ] {
            out.extend_from_slice(&d.decode(chunk, end).unwrap());
        }
        assert_eq!(out, b"\0\0\0\0\x05hello\0\0\0\0\x02hi");
        assert!(TextDecoder::default().decode(b"!!!!", true).is_err());
    }

    #[test]
    fn calls_become_grpc() {
        let mut req = RequestHeader::build("POST", b"/s/M", None).unwrap();
        req.insert_header("content-type", "application/grpc-web-text+proto")
            .unwrap();
        let gw = GrpcWeb::new(&[]);
        assert!(gw.translates(&req));
        assert!(GrpcWeb::to_grpc(&mut req).is_some());
        assert_eq!(req.headers["content-type"], "application/grpc+proto");
        assert_eq!(req.headers["te"], "trailers");
        let get = RequestHeader::build("GET", b"/", None).unwrap();
        assert!(!gw.translates(&get));
    }
}
