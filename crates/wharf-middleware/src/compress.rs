//! `compress`: Traefik's encoding negotiation, applied by a pingora downstream module.
//!
//! The choice is made on the request (after routing); the module then decides on the final
//! response header (Content-Encoding, Content-Type, Content-Length) and streams the body
//! through pingora's encoders. Like Traefik, `Vary: Accept-Encoding` is added whenever an
//! encoding was chosen, compressed or not, and nothing under `minResponseBodyBytes` is
//! compressed. One difference: a response of unknown length (chunked) is compressed from its
//! first byte, where Traefik buffers it until it has seen `minResponseBodyBytes`.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE,
    TRANSFER_ENCODING, VARY,
};
use http::HeaderValue;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::modules::http::{HttpModule, HttpModuleBuilder, Module};
use wharf_model::CompressSpec;

use crate::{BuildError, Middleware};

/// A content coding wharf can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Brotli,
    Zstd,
}

impl Encoding {
    fn parse(name: &str) -> Option<Encoding> {
        match name {
            "gzip" => Some(Encoding::Gzip),
            "br" => Some(Encoding::Brotli),
            "zstd" => Some(Encoding::Zstd),
            _ => None,
        }
    }

    fn token(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Brotli => "br",
            Encoding::Zstd => "zstd",
        }
    }

    /// Go's libraries' default levels: gzip 6, brotli 6, zstd "default" (3). Brotli's window is
    /// 256 KiB rather than its 4 MiB maximum: memory per concurrent response stays small (the
    /// proxy may run in 512 MB), at a small ratio cost on very large bodies.
    fn encoder(self) -> std::io::Result<Encoder> {
        Ok(match self {
            Encoding::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(6),
            )),
            Encoding::Brotli => Encoder::Brotli(Some(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                4096,
                6,
                BROTLI_WINDOW_BITS,
            )))),
            Encoding::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(Vec::new(), 3)?),
        })
    }
}

const BROTLI_WINDOW_BITS: u32 = 18;

/// A streaming encoder: each chunk is flushed (so streamed responses keep flowing), and the
/// last one finishes the stream.
enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    /// None once finished (brotli finishes by giving up its writer).
    Brotli(Option<Box<brotli::CompressorWriter<Vec<u8>>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    fn encode(&mut self, input: &[u8], end: bool) -> std::io::Result<Bytes> {
        use std::io::Write;
        let out = match self {
            Encoder::Gzip(w) => {
                w.write_all(input)?;
                if end {
                    w.try_finish()?;
                } else {
                    w.flush()?;
                }
                std::mem::take(w.get_mut())
            }
            Encoder::Brotli(slot) => {
                let Some(w) = slot.as_mut() else {
                    return Ok(Bytes::new());
                };
                w.write_all(input)?;
                if end {
                    slot.take().map(|w| w.into_inner()).unwrap_or_default()
                } else {
                    w.flush()?;
                    std::mem::take(w.get_mut())
                }
            }
            Encoder::Zstd(w) => {
                w.write_all(input)?;
                if end {
                    w.do_finish()?;
                } else {
                    w.flush()?;
                }
                std::mem::take(w.get_mut())
            }
        };
        Ok(Bytes::from(out))
    }
}

/// The media type of a configured content type. Traefik drops the parameters when it builds
/// the middleware, so `text/html; charset=utf-8` matches any `text/html`.
fn essence(s: &str) -> Result<String, BuildError> {
    s.parse::<mime::Mime>()
        .map(|m| m.essence_str().to_string())
        .map_err(|e| BuildError(format!("media type {s:?}: {e}")))
}

/// The compiled `compress` options.
#[derive(Debug)]
pub struct CompressPolicy {
    /// Server preference, first is best.
    encodings: Vec<Encoding>,
    default: Option<Encoding>,
    min_size: u64,
    excluded: Vec<String>,
    included: Vec<String>,
}

/// The `compress` middleware: it only negotiates; the proxy hands the choice to
/// [`CompressModule`].
#[derive(Debug)]
pub struct Compress(Arc<CompressPolicy>);

impl Compress {
    pub fn new(spec: &CompressSpec) -> Result<Self, BuildError> {
        let encoding = |name: &str| {
            Encoding::parse(name).ok_or_else(|| BuildError(format!("unsupported encoding {name}")))
        };
        let parse_all = |list: &[String]| {
            list.iter()
                .map(|t| essence(t))
                .collect::<Result<Vec<_>, _>>()
        };
        let encodings = spec
            .encodings
            .iter()
            .map(|e| encoding(e))
            .collect::<Result<Vec<_>, _>>()?;
        if encodings.is_empty() {
            return Err(BuildError("compress needs at least one encoding".into()));
        }
        Ok(Compress(Arc::new(CompressPolicy {
            encodings,
            default: spec.default_encoding.as_deref().map(encoding).transpose()?,
            min_size: spec.min_response_body_bytes,
            excluded: parse_all(&spec.excluded_content_types)?,
            included: parse_all(&spec.included_content_types)?,
        })))
    }
}

impl Compress {
    pub(crate) fn policy(&self) -> Arc<CompressPolicy> {
        self.0.clone()
    }
}

impl Middleware for Compress {
    fn compress(&self) -> Option<Arc<CompressPolicy>> {
        Some(self.0.clone())
    }
}

impl CompressPolicy {
    /// The encoding to answer `req` with, or None to leave the response alone.
    pub fn negotiate(&self, req: &RequestHeader) -> Negotiation {
        match self.choose(req) {
            None => Negotiation::Untouched,
            // Traefik's gzip handler (klauspost's gzhttp) checks on its own that the first
            // Accept-Encoding line offers gzip (`*` does not); if not, it only adds Vary.
            Some(Encoding::Gzip) if !offers_gzip(req) => Negotiation::VaryOnly,
            Some(e) => Negotiation::Compress(e),
        }
    }

    /// Traefik's choice among the configured encodings.
    fn choose(&self, req: &RequestHeader) -> Option<Encoding> {
        if req.method == http::Method::HEAD {
            return None;
        }
        // A request whose own body type is excluded (e.g. text/event-stream) is left alone.
        if let Some(ct) = req.headers.get(CONTENT_TYPE) {
            let essence = ct.to_str().ok().and_then(|s| s.parse::<mime::Mime>().ok());
            if essence.is_some_and(|m| self.excluded.iter().any(|x| x == m.essence_str())) {
                return None;
            }
        }
        let mut lines = req.headers.get_all(ACCEPT_ENCODING).iter().peekable();
        if lines.peek().is_none() {
            // No Accept-Encoding: only a configured default encoding applies.
            return self.default;
        }
        if req.headers.get_all(ACCEPT_ENCODING).iter().count() == 1
            && req.headers[ACCEPT_ENCODING].is_empty()
        {
            return None;
        }
        let mut best: Option<(f64, i64, Choice)> = None;
        for line in lines {
            let Ok(line) = line.to_str() else { continue };
            let line = line.replace(' ', "");
            for item in line.split(',') {
                let (name, param) = item.split_once(';').unwrap_or((item, ""));
                let Some((rank, choice)) = self.rank(name) else {
                    continue;
                };
                let weight = match param.strip_prefix("q=") {
                    Some(q) => q.parse::<f64>().unwrap_or(0.0),
                    None => 1.0,
                };
                if weight == 0.0 {
                    continue;
                }
                // Highest weight first; on equal weights, the server's preference.
                let better = best
                    .as_ref()
                    .is_none_or(|(w, r, _)| weight > *w || (weight == *w && rank < *r));
                if better {
                    best = Some((weight, rank, choice));
                }
            }
        }
        match best?.2 {
            Choice::Any => Some(self.default.unwrap_or(self.encodings[0])),
            Choice::Identity => None,
            Choice::Encoding(e) => Some(e),
        }
    }

    /// Rank (lower is preferred) of a coding the client named, if wharf considers it.
    fn rank(&self, name: &str) -> Option<(i64, Choice)> {
        match name {
            "*" => Some((-1, Choice::Any)),
            "identity" => Some((self.encodings.len() as i64, Choice::Identity)),
            _ => {
                let e = Encoding::parse(name)?;
                let i = self.encodings.iter().position(|x| *x == e)?;
                Some((i as i64, Choice::Encoding(e)))
            }
        }
    }

    /// Whether a response with these headers gets compressed.
    fn compresses(&self, resp: &ResponseHeader) -> bool {
        if resp
            .headers
            .get(CONTENT_ENCODING)
            .is_some_and(|v| !v.is_empty())
        {
            return false;
        }
        if let Some(ct) = resp.headers.get(CONTENT_TYPE).filter(|v| !v.is_empty()) {
            let Some(m) = ct.to_str().ok().and_then(|s| s.parse::<mime::Mime>().ok()) else {
                return false;
            };
            let essence = m.essence_str();
            if !self.included.is_empty() && !self.included.iter().any(|t| t == essence) {
                return false;
            }
            if self.excluded.iter().any(|t| t == essence) {
                return false;
            }
        }
        crate::content_length(&resp.headers).is_none_or(|len| len >= self.min_size)
    }
}

/// What a request's response gets from `compress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiation {
    Untouched,
    /// `Vary: Accept-Encoding`, no compression.
    VaryOnly,
    /// `Vary`, and this encoding if the response qualifies.
    Compress(Encoding),
}

/// gzhttp's test: the first gzip coding of the first Accept-Encoding line has q > 0 (a
/// coding's last parameter decides; one that is not `q=` means 1).
fn offers_gzip(req: &RequestHeader) -> bool {
    let Some(line) = req
        .headers
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let gzip = line.split(',').find_map(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        name.eq_ignore_ascii_case("gzip").then_some(parts)
    });
    let Some(mut params) = gzip else { return false };
    let q = params
        .next_back()
        .map_or(1.0, |p| match p.strip_prefix("q=") {
            Some(q) => q.parse::<f64>().unwrap_or(0.0),
            None => 1.0,
        });
    q > 0.0
}

#[derive(Debug, Clone, Copy)]
enum Choice {
    Any,
    Identity,
    Encoding(Encoding),
}

/// Per-request compression, as a pingora downstream module: the proxy sets the plan after
/// routing; the module applies it to whatever response goes out (the backend's or wharf's).
#[derive(Default)]
pub struct CompressModule {
    /// The policy, the encoding (None: only Vary), and whether the downstream is HTTP/2.
    plan: Option<(Arc<CompressPolicy>, Option<Encoding>, bool)>,
    encoder: Option<Encoder>,
}

impl CompressModule {
    /// Applies `negotiation` to this request's response. `h2`: the downstream speaks HTTP/2
    /// (no chunked framing).
    pub fn plan(&mut self, policy: Arc<CompressPolicy>, negotiation: Negotiation, h2: bool) {
        self.plan = match negotiation {
            Negotiation::Untouched => None,
            Negotiation::VaryOnly => Some((policy, None, h2)),
            Negotiation::Compress(e) => Some((policy, Some(e), h2)),
        };
    }

    fn finish(&mut self, body: Option<&Bytes>, end: bool) -> Option<Bytes> {
        let encoder = self.encoder.as_mut()?;
        let out = encoder.encode(body.map_or(&[][..], |b| b.as_ref()), end);
        if end {
            self.encoder = None;
        }
        match out {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::warn!(error = %e, "compression failed; the response is cut");
                self.encoder = None;
                Some(Bytes::new())
            }
        }
    }
}

#[async_trait]
impl HttpModule for CompressModule {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    async fn response_header_filter(
        &mut self,
        resp: &mut ResponseHeader,
        end_of_stream: bool,
    ) -> pingora::Result<()> {
        if resp.status.is_informational() {
            return Ok(());
        }
        let Some((policy, encoding, h2)) = self.plan.take() else {
            return Ok(());
        };
        resp.append_header(VARY, HeaderValue::from_static("Accept-Encoding"))?;
        let Some(encoding) = encoding.filter(|_| !end_of_stream && policy.compresses(resp)) else {
            return Ok(());
        };
        let encoder = match encoding.encoder() {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the {} encoder", encoding.token());
                return Ok(());
            }
        };
        resp.remove_header(&CONTENT_LENGTH);
        resp.insert_header(CONTENT_ENCODING, encoding.token())?;
        if encoding == Encoding::Gzip {
            // Ranges of the uncompressed body mean nothing in the compressed one.
            resp.remove_header(&ACCEPT_RANGES);
        }
        if !h2 {
            resp.insert_header(TRANSFER_ENCODING, "chunked")?;
        }
        self.encoder = Some(encoder);
        Ok(())
    }

    fn response_body_filter(
        &mut self,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
    ) -> pingora::Result<()> {
        if self.encoder.is_some() {
            *body = self.finish(body.as_ref(), end_of_stream);
        }
        Ok(())
    }

    fn response_done_filter(&mut self) -> pingora::Result<Option<Bytes>> {
        Ok(self.finish(None, true))
    }
}

/// Registers [`CompressModule`] on a proxy's downstream modules.
pub struct CompressModuleBuilder;

impl HttpModuleBuilder for CompressModuleBuilder {
    fn init(&self) -> Module {
        Box::new(CompressModule::default())
    }

    /// Late, like pingora's own compression: other modules see the uncompressed body.
    fn order(&self) -> i16 {
        i16::MIN / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(encodings: &[&str], default: Option<&str>) -> Arc<CompressPolicy> {
        let spec = CompressSpec {
            encodings: encodings.iter().map(|s| s.to_string()).collect(),
            default_encoding: default.map(str::to_string),
            ..CompressSpec::default()
        };
        Compress::new(&spec).unwrap().0
    }

    fn pick(p: &CompressPolicy, accept: Option<&str>) -> Option<&'static str> {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        if let Some(a) = accept {
            req.insert_header("accept-encoding", a).unwrap();
        }
        match p.negotiate(&req) {
            Negotiation::Untouched => None,
            Negotiation::VaryOnly => Some("vary only"),
            Negotiation::Compress(e) => Some(e.token()),
        }
    }

    #[test]
    fn negotiation_follows_traefik() {
        let p = policy(&["gzip", "br", "zstd"], None);
        assert_eq!(pick(&p, None), None);
        assert_eq!(pick(&p, Some("")), None);
        assert_eq!(pick(&p, Some("gzip, br, zstd")), Some("gzip"));
        assert_eq!(pick(&p, Some("zstd, br")), Some("br"));
        assert_eq!(pick(&p, Some("br;q=1, gzip;q=0.5")), Some("br"));
        assert_eq!(pick(&p, Some("gzip;q=0, br")), Some("br"));
        assert_eq!(pick(&p, Some("identity")), None);
        assert_eq!(pick(&p, Some("deflate")), None);
        assert_eq!(pick(&p, Some("*")), Some("vary only"), "gzip, not offered");
        assert_eq!(pick(&p, Some("br, *")), Some("vary only"), "* ranks first");
        assert_eq!(pick(&p, Some("gzip;q=0.5;x=1, br;q=0.9")), Some("br"));
        let only_zstd = policy(&["zstd"], None);
        assert_eq!(pick(&only_zstd, Some("gzip")), None);
        let with_default = policy(&["gzip", "br"], Some("br"));
        assert_eq!(pick(&with_default, None), Some("br"));
        assert_eq!(pick(&with_default, Some("*")), Some("br"));
    }

    #[test]
    fn head_and_excluded_requests_are_left_alone() {
        let p = policy(&["gzip"], None);
        let mut head = RequestHeader::build("HEAD", b"/", None).unwrap();
        head.insert_header("accept-encoding", "gzip").unwrap();
        assert_eq!(p.negotiate(&head), Negotiation::Untouched);
        let mut grpc = RequestHeader::build("POST", b"/", None).unwrap();
        grpc.insert_header("accept-encoding", "gzip").unwrap();
        grpc.insert_header("content-type", "application/grpc")
            .unwrap();
        assert_eq!(p.negotiate(&grpc), Negotiation::Untouched);
    }

    #[test]
    fn response_filters() {
        let spec = CompressSpec {
            included_content_types: vec!["text/html; charset=utf-8".into()],
            ..CompressSpec::default()
        };
        // Parameters of configured types are ignored, as in Traefik.
        let p = Compress::new(&spec).unwrap().0;
        let resp = |ct: &str, len: Option<&str>| {
            let mut r = ResponseHeader::build(200, None).unwrap();
            r.insert_header("content-type", ct).unwrap();
            if let Some(l) = len {
                r.insert_header("content-length", l).unwrap();
            }
            r
        };
        assert!(p.compresses(&resp("text/html; charset=utf-8", Some("4096"))));
        assert!(!p.compresses(&resp("text/html; charset=utf-8", Some("100"))));
        assert!(p.compresses(&resp("text/html; charset=utf-8", None)));
        assert!(p.compresses(&resp("text/html", Some("4096"))));
        assert!(!p.compresses(&resp("text/plain", Some("4096"))));
        let plain = policy(&["gzip"], None);
        assert!(!plain.compresses(&resp("application/grpc", None)));
        assert!(!plain.compresses(&resp("not a type", None)));
    }
}
