//! Go's HTTP/2 health check on a backend connection, which pingora's h2 client cannot be told
//! (its PING answer wait is a constant): after `readIdleTimeout` without a frame from the
//! server, a PING is sent; when its answer is not back within `pingTimeout`, the connection
//! fails (and pingora drops it, as Go closes it).
//!
//! It sits below pingora's h2 client, as a socket: it follows the frame boundaries of what
//! pingora writes (to put a PING between two frames) and of what the server sends (to take
//! the answer to its own PING out of the stream, so pingora never sees it).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The payload of wharf's own PINGs (pingora's carry other bytes).
const OPAQUE: [u8; 8] = *b"wharfka\0";
/// What the client writes before its first frame.
const PREFACE_LEN: usize = 24;
const FRAME_HEADER_LEN: usize = 9;
const PING: u8 = 0x6;
const ACK: u8 = 0x1;

/// Why the health check failed a connection: its PING went unanswered (Go's "http2: client
/// connection lost"). A request in flight on it fails and, as in Go, is not sent again.
#[derive(Debug)]
struct PingUnanswered(Duration);

const UNANSWERED: &str = "the backend did not answer an HTTP/2 PING within pingTimeout";

impl std::fmt::Display for PingUnanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{UNANSWERED} ({:?})", self.0)
    }
}

impl std::error::Error for PingUnanswered {}

/// Whether `e` (a proxied request's) came from a connection the health check failed. h2
/// keeps of an I/O error only its kind and text, so past h2 the text tells it.
pub fn lost_to_unanswered_ping(e: &pingora::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = e.cause.as_deref().map(|c| c as _);
    while let Some(c) = cause {
        // `more_context` keeps the error it extends boxed in a box.
        let wrapped = c.downcast_ref::<Box<pingora::Error>>().map(|b| b.as_ref());
        if let Some(inner) = wrapped.or_else(|| c.downcast_ref::<pingora::Error>()) {
            cause = inner.cause.as_ref().map(|c| c.as_ref() as _);
        } else if let Some(h2) = c.downcast_ref::<h2::Error>() {
            cause = h2.get_io().map(|io| io as _);
        } else if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return io.get_ref().is_some_and(|e| {
                e.is::<PingUnanswered>() || e.to_string().starts_with(UNANSWERED)
            });
        } else {
            return false;
        }
    }
    false
}

/// The settings: `read_idle` before a PING, `ping_timeout` for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepaliveTimes {
    pub read_idle: Duration,
    pub ping_timeout: Duration,
}

/// Where a stream of frames is: inside a frame's header, or inside its payload.
#[derive(Debug, Clone, Copy)]
enum Framing {
    Header {
        have: usize,
        header: [u8; FRAME_HEADER_LEN],
    },
    Payload {
        left: usize,
    },
}

/// What [`Framing::step`] took from the stream.
enum Step<'a> {
    /// A frame header, now complete (the payload comes next).
    Header([u8; FRAME_HEADER_LEN]),
    Payload(&'a [u8]),
    /// Part of a header.
    Partial,
}

const NEXT_HEADER: Framing = Framing::Header {
    have: 0,
    header: [0; FRAME_HEADER_LEN],
};

impl Framing {
    /// Takes the next piece of the stream from the front of `bytes`.
    fn step<'a>(&mut self, bytes: &mut &'a [u8]) -> Step<'a> {
        match self {
            Framing::Header { have, header } => {
                let n = (FRAME_HEADER_LEN - *have).min(bytes.len());
                header[*have..*have + n].copy_from_slice(&bytes[..n]);
                *bytes = &bytes[n..];
                *have += n;
                if *have < FRAME_HEADER_LEN {
                    return Step::Partial;
                }
                let header = *header;
                *self = payload(payload_len(&header));
                Step::Header(header)
            }
            Framing::Payload { left } => {
                let n = (*left).min(bytes.len());
                let (taken, rest) = bytes.split_at(n);
                *bytes = rest;
                *self = payload(*left - n);
                Step::Payload(taken)
            }
        }
    }
}

/// The payload of `left` bytes, or the next header when there is none.
fn payload(left: usize) -> Framing {
    if left == 0 {
        NEXT_HEADER
    } else {
        Framing::Payload { left }
    }
}

fn payload_len(header: &[u8; FRAME_HEADER_LEN]) -> usize {
    usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2])
}

fn is_ping_ack(header: &[u8; FRAME_HEADER_LEN]) -> bool {
    header[3] == PING
        && header[4] & ACK != 0
        && header[5..9] == [0, 0, 0, 0]
        && payload_len(header) == OPAQUE.len()
}

/// The frame boundaries of what pingora writes.
#[derive(Debug)]
struct Outgoing {
    /// Bytes of the client preface still to come (not frames).
    preface_left: usize,
    framing: Framing,
}

impl Outgoing {
    fn new(preface_left: usize) -> Self {
        Outgoing {
            preface_left,
            framing: NEXT_HEADER,
        }
    }

    fn at_boundary(&self) -> bool {
        self.preface_left == 0 && matches!(self.framing, Framing::Header { have: 0, .. })
    }

    /// Follows `bytes`, just written.
    fn follow(&mut self, mut bytes: &[u8]) {
        let skip = self.preface_left.min(bytes.len());
        self.preface_left -= skip;
        bytes = &bytes[skip..];
        while !bytes.is_empty() {
            self.framing.step(&mut bytes);
        }
    }
}

/// What the server sends, with the answers to wharf's PINGs taken out.
#[derive(Debug)]
struct Incoming {
    framing: Framing,
    /// The header of a PING ACK being read, its payload and how much of it has come
    /// (released to pingora when it is not wharf's).
    held: Option<([u8; FRAME_HEADER_LEN], [u8; 8], usize)>,
}

impl Incoming {
    fn new() -> Self {
        Incoming {
            framing: NEXT_HEADER,
            held: None,
        }
    }

    /// Moves `bytes` to `out`, except wharf's PING answers; true when one of them ended.
    fn filter(&mut self, mut bytes: &[u8], out: &mut BytesMut) -> bool {
        let mut answered = false;
        while !bytes.is_empty() {
            if let Some((header, payload, have)) = &mut self.held {
                let n = (OPAQUE.len() - *have).min(bytes.len());
                payload[*have..*have + n].copy_from_slice(&bytes[..n]);
                bytes = &bytes[n..];
                *have += n;
                if *have == OPAQUE.len() {
                    if *payload == OPAQUE {
                        answered = true;
                    } else {
                        out.extend_from_slice(header);
                        out.extend_from_slice(payload);
                    }
                    self.held = None;
                }
                continue;
            }
            match self.framing.step(&mut bytes) {
                Step::Header(header) if is_ping_ack(&header) => {
                    // Its payload is read into `held`, not through the framing.
                    self.held = Some((header, [0; 8], 0));
                    self.framing = NEXT_HEADER;
                }
                Step::Header(header) => out.extend_from_slice(&header),
                Step::Payload(taken) => out.extend_from_slice(taken),
                Step::Partial => {}
            }
        }
        answered
    }
}

/// What the server's `bytes` become for pingora when they arrive in pieces of `piece` bytes,
/// and whether one of wharf's PINGs was answered in them (tests and the fuzz target: any
/// split must give the same).
pub(crate) fn filter_in_pieces(bytes: &[u8], piece: usize) -> (Vec<u8>, bool) {
    let mut incoming = Incoming::new();
    let mut out = BytesMut::new();
    let mut answered = false;
    for chunk in bytes.chunks(piece.max(1)) {
        answered |= incoming.filter(chunk, &mut out);
    }
    (out.to_vec(), answered)
}

/// Whether pingora's `bytes` (after the preface) end at a frame boundary, followed in pieces
/// of `piece` bytes.
pub(crate) fn ends_at_boundary(bytes: &[u8], piece: usize) -> bool {
    let mut outgoing = Outgoing::new(0);
    for chunk in bytes.chunks(piece.max(1)) {
        outgoing.follow(chunk);
    }
    outgoing.at_boundary()
}

/// A backend h2 connection with Go's PING health check.
#[derive(Debug)]
pub struct H2Keepalive<S> {
    inner: S,
    times: KeepaliveTimes,
    outgoing: Outgoing,
    incoming: Incoming,
    /// Bytes for pingora, already filtered.
    ready: BytesMut,
    /// wharf's PING still to write (a suffix of the frame).
    to_inject: Option<Vec<u8>>,
    last_read: Instant,
    /// When wharf's PING went out (None: none outstanding).
    pinged: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl<S> H2Keepalive<S> {
    pub fn new(inner: S, times: KeepaliveTimes) -> Self {
        let now = Instant::now();
        H2Keepalive {
            inner,
            times,
            outgoing: Outgoing::new(PREFACE_LEN),
            incoming: Incoming::new(),
            ready: BytesMut::new(),
            to_inject: None,
            last_read: now,
            pinged: None,
            timer: Box::pin(tokio::time::sleep_until(now + times.read_idle)),
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

fn ping_frame() -> Vec<u8> {
    let mut frame = vec![0, 0, 8, PING, 0, 0, 0, 0, 0];
    frame.extend_from_slice(&OPAQUE);
    frame
}

impl<S: AsyncRead + AsyncWrite + Unpin> H2Keepalive<S> {
    /// Writes what is left of wharf's PING; Ready once nothing is left.
    fn poll_inject(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while let Some(frame) = &mut self.to_inject {
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, frame))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            frame.drain(..n);
            if frame.is_empty() {
                self.to_inject = None;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Writes wharf's PING if one is due and pingora is between two frames (otherwise it goes
    /// before pingora's next write; Pending: the rest goes then too).
    fn try_inject(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        if self.to_inject.is_some() && self.outgoing.at_boundary() {
            if let Poll::Ready(Err(e)) = self.poll_inject(cx) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Runs the health check's clock: sends a PING when the server has been silent for
    /// `read_idle`, fails when the PING is not answered in `ping_timeout`.
    fn poll_clock(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Ok(());
            }
            let now = Instant::now();
            match self.pinged {
                Some(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        PingUnanswered(self.times.ping_timeout),
                    ))
                }
                None if now >= self.last_read + self.times.read_idle => {
                    self.pinged = Some(now);
                    self.to_inject = Some(ping_frame());
                    self.timer.as_mut().reset(now + self.times.ping_timeout);
                    self.try_inject(cx)?;
                }
                None => {
                    let due = self.last_read + self.times.read_idle;
                    self.timer.as_mut().reset(due);
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for H2Keepalive<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready[..n]);
                this.ready.advance(n);
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) => {
                    let bytes = read.filled();
                    if bytes.is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                    this.last_read = Instant::now();
                    if this.incoming.filter(bytes, &mut this.ready) {
                        this.pinged = None;
                        let due = this.last_read + this.times.read_idle;
                        this.timer.as_mut().reset(due);
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    this.try_inject(cx)?;
                    this.poll_clock(cx)?;
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for H2Keepalive<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.to_inject.is_some() && this.outgoing.at_boundary() {
            std::task::ready!(this.poll_inject(cx))?;
        }
        let n = std::task::ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        this.outgoing.follow(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.to_inject.is_some() && this.outgoing.at_boundary() {
            std::task::ready!(this.poll_inject(cx))?;
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            kind,
            flags,
            0,
            0,
            0,
            0,
        ];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn only_wharfs_ping_answers_are_taken_out_however_the_bytes_are_split() {
        let theirs = frame(PING, ACK, b"pingora!");
        let ours = frame(PING, ACK, &OPAQUE);
        let data = frame(0, 0, &[7; 300]);
        let stream: Vec<u8> = [data.clone(), ours.clone(), theirs.clone(), data.clone()].concat();
        let want: Vec<u8> = [data.clone(), theirs, data].concat();
        for size in [1, 2, 5, 9, 17, 64, stream.len()] {
            let (out, answered) = filter_in_pieces(&stream, size);
            assert!(answered, "split {size}");
            assert_eq!(out, want, "split {size}");
            assert!(ends_at_boundary(&stream, size));
            assert!(!ends_at_boundary(&stream[..stream.len() - 1], size));
        }
    }

    #[test]
    fn frame_boundaries_are_followed_after_the_preface() {
        let mut out = Outgoing::new(PREFACE_LEN);
        assert!(!out.at_boundary());
        out.follow(&[b'P'; PREFACE_LEN]);
        assert!(out.at_boundary());
        let f = frame(4, 0, &[0; 12]);
        out.follow(&f[..5]);
        assert!(!out.at_boundary());
        out.follow(&f[5..11]);
        assert!(!out.at_boundary());
        out.follow(&f[11..]);
        assert!(out.at_boundary());
        // An empty frame, then half of one.
        out.follow(&frame(4, ACK, &[]));
        assert!(out.at_boundary());
        out.follow(&frame(0, 0, &[1; 40])[..20]);
        assert!(!out.at_boundary());
    }

    #[test]
    fn a_request_lost_to_an_unanswered_ping_is_told_apart() {
        let lost = |io: std::io::Error| {
            let e = pingora::Error::because(
                pingora::ErrorType::ReadError,
                "while reading h2 header",
                io,
            );
            lost_to_unanswered_ping(&e.more_context("Peer: b"))
        };
        let unanswered = || PingUnanswered(Duration::from_secs(2));
        let timed_out = std::io::ErrorKind::TimedOut;
        assert!(lost(std::io::Error::new(timed_out, unanswered())));
        // As h2 hands it on: its kind and text.
        assert!(lost(std::io::Error::new(
            timed_out,
            unanswered().to_string()
        )));
        assert!(!lost(timed_out.into()));
        assert!(!lost(std::io::Error::new(timed_out, "read timed out")));
        assert!(!lost(std::io::ErrorKind::ConnectionReset.into()));
        let other = pingora::Error::explain(pingora::ErrorType::ReadError, "no cause");
        assert!(!lost_to_unanswered_ping(&other));
    }
}
