//! [`EdgeStream`]: the client connection as pingora's HTTP/1 parser sees it. Bytes reach
//! pingora only once checked: a head when it is complete and valid (normalised if needed), a
//! body as its framing is verified, and the next request only when the previous one is done
//! (so pipelined requests are answered in order). What is refused is answered here, in Go's
//! words and with `Connection: close`, and not one byte of it reaches pingora or a backend.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Buf, Bytes, BytesMut};
use pingora::protocols::tls::TlsRef;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, Ssl, Stream, UniqueID,
    UniqueIDType, ALPN,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use wharf_edge::{BodyFraming, ChunkedBody, HeadLimits, HeadScanner, Rejection};

use super::write_buffer::WriteBuffer;

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// What is read from the socket at a time: a head fits in the first (as pingora's own
/// first read); a body streams in larger pieces.
const HEAD_CHUNK: usize = 4 * 1024;
const BODY_CHUNK: usize = 16 * 1024;

/// An entrypoint's limits, shared by its connections.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    pub head: HeadLimits,
    /// `respondingTimeouts.readTimeout`: the whole request, head and body (zero: none).
    pub read_timeout: Duration,
    /// `respondingTimeouts.idleTimeout`: how long a keep-alive connection may wait for its
    /// next request (zero: no limit).
    pub idle_timeout: Duration,
}

#[derive(Debug)]
enum Mode {
    Http1,
    /// HTTP/2 (preface or ALPN) or an upgrade the backend accepted with 101: bytes pass as is.
    Tunnel,
    /// Writing wharf's own answer; then the connection is closed.
    Rejecting {
        response: Bytes,
    },
    Closed,
}

#[derive(Debug)]
enum Phase {
    /// The previous request is complete; the next head waits until pingora asks for it.
    Between,
    Head(HeadScanner),
    Length(u64),
    Chunked(ChunkedBody),
}

pub struct EdgeStream {
    inner: Stream,
    limits: EdgeLimits,
    mode: Mode,
    phase: Phase,
    /// Received, not yet checked.
    inp: BytesMut,
    /// Checked, for pingora.
    out: Bytes,
    inner_eof: bool,
    /// Set at each request boundary (a new pingora session on this connection).
    next_request: AtomicBool,
    /// The current request's deadline (`readTimeout`), until its body is read.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Whether any byte of the current request has arrived.
    request_started: bool,
    /// Whether pingora has written any byte of the current request's response.
    responded: bool,
    /// The current request asked for an upgrade: the first response bytes are watched for 101.
    upgrade: bool,
    status_probe: Vec<u8>,
    /// The response being written (the socket itself has no write buffer).
    written: WriteBuffer,
}

impl std::fmt::Debug for EdgeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeStream")
            .field("inner", &self.inner)
            .field("mode", &self.mode)
            .field("phase", &self.phase)
            .finish()
    }
}

impl EdgeStream {
    /// `accepted`: when the connection was accepted (its first request is due within
    /// readTimeout of it, TLS handshake included).
    pub fn new(inner: Stream, limits: EdgeLimits, accepted: tokio::time::Instant) -> Self {
        let h2_alpn = matches!(inner.selected_alpn_proto(), Some(ALPN::H2));
        EdgeStream {
            inner,
            limits,
            mode: if h2_alpn { Mode::Tunnel } else { Mode::Http1 },
            phase: Phase::Between,
            inp: BytesMut::new(),
            out: Bytes::new(),
            inner_eof: false,
            next_request: AtomicBool::new(false),
            // Go's rule: a new connection's first request is due within readTimeout of the
            // accept.
            deadline: (!limits.read_timeout.is_zero())
                .then(|| Box::pin(tokio::time::sleep_until(accepted + limits.read_timeout))),
            request_started: false,
            responded: false,
            upgrade: false,
            status_probe: Vec::new(),
            written: WriteBuffer::default(),
        }
    }

    /// Called when pingora starts a new HTTP/1 session on this connection: the next request
    /// may be read.
    pub fn next_request(&self) {
        self.next_request.store(true, Ordering::Release);
    }

    /// Whether the bytes pass through untouched: HTTP/2 (by ALPN or its preface) or an
    /// accepted upgrade.
    pub fn is_tunnel(&self) -> bool {
        matches!(self.mode, Mode::Tunnel)
    }

    /// Between two requests: ready with `true` once the next request's first bytes have
    /// arrived (or are already held), `false` when the connection ended or failed. Holds no
    /// buffer while it waits. Anything but an HTTP/1 connection between requests is ready at
    /// once (its reads go on as before).
    pub fn poll_next_request(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        if !matches!(self.mode, Mode::Http1)
            || !matches!(self.phase, Phase::Between)
            || !self.inp.is_empty()
            || !self.out.is_empty()
        {
            return Poll::Ready(true);
        }
        if self.inner_eof {
            return Poll::Ready(false);
        }
        self.written.release();
        match self.poll_fill(cx) {
            Poll::Ready(Ok(0)) => {
                self.inner_eof = true;
                Poll::Ready(false)
            }
            Poll::Ready(Ok(_)) => Poll::Ready(true),
            Poll::Ready(Err(e)) => {
                tracing::debug!(error = %e, "keep-alive connection failed while idle");
                Poll::Ready(false)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn reject(&mut self, rejection: Rejection) {
        tracing::debug!(status = rejection.status, reason = ?rejection.reason, "request refused at the edge");
        self.inp.clear();
        self.out = Bytes::new();
        self.deadline = None;
        self.mode = Mode::Rejecting {
            response: Bytes::from(rejection.response()),
        };
    }

    /// Moves checked bytes from `inp` to `out`. `Ok(true)` when something changed.
    fn process(&mut self) -> Result<bool, Rejection> {
        match &mut self.phase {
            Phase::Between => {
                if !self.next_request.swap(false, Ordering::AcqRel) {
                    return Ok(false);
                }
                self.phase = Phase::Head(HeadScanner::default());
                self.request_started = false;
                // Nothing of this request's answer has been written yet.
                self.responded = false;
                self.upgrade = false;
                self.status_probe.clear();
                Ok(true)
            }
            Phase::Head(scanner) => {
                if self.inp.is_empty() {
                    return Ok(false);
                }
                if !self.request_started {
                    // readTimeout runs from the request's first byte (from the accept for a
                    // connection's first request) to the end of its body.
                    self.request_started = true;
                    if self.deadline.is_none() {
                        self.deadline = deadline(self.limits.read_timeout);
                    }
                }
                let Some(head) = scanner.advance(&self.inp, self.limits.head)? else {
                    return Ok(false);
                };
                if head.body == BodyFraming::Chunked {
                    // The body bytes that came with the head are checked before the head goes
                    // on: a request sent at once is refused whole, not half forwarded.
                    ChunkedBody::default().feed(&self.inp[head.len..])?;
                }
                let raw = self.inp.split_to(head.len).freeze();
                self.out = match head.rewritten {
                    Some(rewritten) => Bytes::from(rewritten),
                    None => raw,
                };
                self.upgrade = head.upgrade;
                self.phase = match head.body {
                    BodyFraming::None => Phase::Between,
                    BodyFraming::Length(n) => Phase::Length(n),
                    BodyFraming::Chunked => Phase::Chunked(ChunkedBody::default()),
                };
                if matches!(self.phase, Phase::Between) {
                    self.deadline = None;
                }
                Ok(true)
            }
            Phase::Length(left) => {
                if self.inp.is_empty() {
                    return Ok(false);
                }
                let take = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(self.inp.len());
                *left -= take as u64;
                if *left == 0 {
                    self.phase = Phase::Between;
                    self.deadline = None;
                }
                self.out = self.inp.split_to(take).freeze();
                Ok(true)
            }
            Phase::Chunked(body) => {
                if self.inp.is_empty() {
                    return Ok(false);
                }
                let take = body.feed(&self.inp)?;
                if body.is_done() {
                    self.phase = Phase::Between;
                    self.deadline = None;
                }
                self.out = self.inp.split_to(take).freeze();
                Ok(take > 0)
            }
        }
    }

    /// The deadline passed while pingora waits for the request.
    fn timed_out(&mut self) -> Poll<std::io::Result<()>> {
        self.deadline = None;
        match self.phase {
            Phase::Head(_) if !self.request_started => {
                // Nothing was sent: close quietly, as Go does.
                self.mode = Mode::Closed;
                Poll::Ready(Ok(()))
            }
            _ if !self.responded => {
                self.reject(Rejection::timeout());
                Poll::Pending // driven by the caller's loop
            }
            _ => {
                self.mode = Mode::Closed;
                Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "request not received within readTimeout",
                )))
            }
        }
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        let chunk = match self.phase {
            Phase::Length(_) | Phase::Chunked(_) => BODY_CHUNK,
            Phase::Between | Phase::Head(_) => HEAD_CHUNK,
        };
        self.inp.reserve(chunk);
        let read = tokio_util::io::poll_read_buf(Pin::new(&mut self.inner), cx, &mut self.inp);
        if read.is_pending() && self.inp.is_empty() {
            // An idle keep-alive connection holds no buffer while it waits.
            self.inp = BytesMut::new();
        }
        read
    }

    /// Gives pingora what it has room for of the checked bytes.
    fn hand_out(&mut self, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let n = self.out.len().min(buf.remaining());
        buf.put_slice(&self.out[..n]);
        self.out.advance(n);
        if self.out.is_empty() {
            // An empty view still holds its whole read buffer (shared with `inp`).
            self.out = Bytes::new();
        }
        Poll::Ready(Ok(()))
    }

    /// Sends what pingora wrote and the buffer still holds (before the connection closes);
    /// nothing once wharf answered itself.
    fn poll_send_written(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.mode {
            Mode::Http1 | Mode::Tunnel => self.written.poll_send(&mut self.inner, cx),
            Mode::Rejecting { .. } | Mode::Closed => Poll::Ready(Ok(())),
        }
    }

    /// How many bytes the connection may hold for a request pingora has not asked for yet.
    fn held_limit(&self) -> usize {
        self.limits.head.max_bytes.saturating_add(BODY_CHUNK)
    }
}

/// A request's deadline, `readTimeout` from now (none when it is zero).
fn deadline(read_timeout: Duration) -> Option<Pin<Box<Sleep>>> {
    (!read_timeout.is_zero()).then(|| Box::pin(tokio::time::sleep(read_timeout)))
}

impl AsyncRead for EdgeStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.mode {
                Mode::Tunnel => {
                    if this.out.is_empty() && !this.inp.is_empty() {
                        this.out = this.inp.split().freeze();
                    }
                    if !this.out.is_empty() {
                        return this.hand_out(buf);
                    }
                    return Pin::new(&mut this.inner).poll_read(cx, buf);
                }
                Mode::Rejecting { response } => {
                    while !response.is_empty() {
                        match ready!(Pin::new(&mut this.inner).poll_write(cx, response)) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => response.advance(n),
                        }
                    }
                    // The answer is out (or the peer is gone): nothing more is read.
                    let _flushed = ready!(Pin::new(&mut this.inner).poll_flush(cx));
                    this.mode = Mode::Closed;
                    continue;
                }
                Mode::Closed => return Poll::Ready(Ok(())),
                Mode::Http1 => {}
            }
            let in_body = matches!(this.phase, Phase::Length(_) | Phase::Chunked(_));
            if (in_body || !this.out.is_empty()) && this.next_request.load(Ordering::Acquire) {
                // pingora moved on to a next request without reading all of this one's body:
                // those bytes must never be read as a request. The connection ends here.
                this.mode = Mode::Closed;
                continue;
            }
            if !this.out.is_empty() {
                return this.hand_out(buf);
            }
            match this.process() {
                Ok(true) => continue,
                Ok(false) => {}
                Err(rejection) => {
                    if this.responded {
                        // A response is already on its way: the connection just ends.
                        this.mode = Mode::Closed;
                        return Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("request body refused: {:?}", rejection.reason),
                        )));
                    }
                    this.reject(rejection);
                    continue;
                }
            }
            let waiting_for_pingora = matches!(this.phase, Phase::Between);
            if this.inner_eof {
                if waiting_for_pingora && !this.inp.is_empty() {
                    // A pipelined request followed by a half-close: it is served once
                    // pingora asks for it.
                    return Poll::Pending;
                }
                return Poll::Ready(Ok(()));
            }
            if waiting_for_pingora && this.inp.len() >= this.held_limit() {
                return Poll::Pending;
            }
            match this.poll_fill(cx) {
                Poll::Ready(Ok(0)) => this.inner_eof = true,
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if let Some(deadline) = this.deadline.as_mut() {
                        if deadline.as_mut().poll(cx).is_ready() {
                            match this.timed_out() {
                                Poll::Pending => continue,
                                ready => return ready,
                            }
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl AsyncWrite for EdgeStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match this.mode {
            // wharf answered this request itself: pingora's answer is not sent.
            Mode::Rejecting { .. } | Mode::Closed => return Poll::Ready(Ok(buf.len())),
            Mode::Tunnel => {
                // What was written before the switch (the 101 answer) goes first.
                ready!(this.written.poll_send(&mut this.inner, cx))?;
                return Pin::new(&mut this.inner).poll_write(cx, buf);
            }
            Mode::Http1 => {}
        }
        let n = ready!(this.written.poll_write(&mut this.inner, cx, buf))?;
        if n > 0 {
            this.responded = true;
            if this.upgrade && this.status_probe.len() < 12 {
                let want = (12 - this.status_probe.len()).min(n);
                this.status_probe.extend_from_slice(&buf[..want]);
                if this.status_probe.len() == 12 {
                    this.upgrade = false;
                    if this.status_probe.ends_with(b" 101") {
                        // The backend switched protocols: from here on, a tunnel.
                        this.mode = Mode::Tunnel;
                        this.deadline = None;
                    }
                }
            }
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match this.mode {
            Mode::Rejecting { .. } | Mode::Closed => Poll::Ready(Ok(())),
            _ => {
                ready!(this.written.poll_send(&mut this.inner, cx))?;
                Pin::new(&mut this.inner).poll_flush(cx)
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_written(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for EdgeStream {
    async fn shutdown(&mut self) {
        let _sent = std::future::poll_fn(|cx| self.poll_send_written(cx)).await;
        self.inner.shutdown().await;
    }
}

impl UniqueID for EdgeStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for EdgeStream {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for EdgeStream {
    fn get_timing_digest(&self) -> Vec<Option<pingora::protocols::TimingDigest>> {
        self.inner.get_timing_digest()
    }
}

impl GetProxyDigest for EdgeStream {
    fn get_proxy_digest(&self) -> Option<Arc<pingora::protocols::raw_connect::ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
}

impl GetSocketDigest for EdgeStream {
    fn get_socket_digest(&self) -> Option<Arc<pingora::protocols::SocketDigest>> {
        self.inner.get_socket_digest()
    }
}

#[async_trait]
impl Peek for EdgeStream {
    /// Serves pingora's h2c check from wharf's own buffer: it reads only as far as the bytes
    /// could still be the HTTP/2 preface (pingora's own peek waits for 24 bytes, so a short
    /// HTTP/1 request such as `GET / HTTP/1.0` and an empty line was never answered).
    async fn try_peek(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        if !matches!(self.mode, Mode::Http1) {
            return Ok(false);
        }
        loop {
            let have = self.inp.len().min(H2_PREFACE.len());
            let still_preface = self.inp[..have] == H2_PREFACE[..have];
            if !still_preface || have == H2_PREFACE.len() || self.inner_eof {
                if still_preface && have == H2_PREFACE.len() {
                    self.mode = Mode::Tunnel;
                    self.deadline = None;
                }
                let n = buf.len().min(self.inp.len());
                buf[..n].copy_from_slice(&self.inp[..n]);
                buf[n..].fill(0);
                return Ok(true);
            }
            let read = std::future::poll_fn(|cx| {
                if let Poll::Ready(read) = self.poll_fill(cx) {
                    return Poll::Ready(read);
                }
                let expired = self
                    .deadline
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if expired {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no request within readTimeout",
                    )));
                }
                Poll::Pending
            })
            .await?;
            if read == 0 {
                self.inner_eof = true;
            }
        }
    }
}
