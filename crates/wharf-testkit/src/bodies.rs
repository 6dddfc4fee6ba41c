//! Response bodies of the echo server: with a length, chunked, or gRPC (data, then trailers).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};

pub enum EchoBody {
    /// Sent with Content-Length.
    Full(Option<Bytes>),
    /// Length not announced: chunked on HTTP/1.1.
    Chunked(Option<Bytes>),
    /// A gRPC answer: the data, then the trailers.
    Grpc(Option<Bytes>, Option<HeaderMap>),
}

impl EchoBody {
    pub fn full(b: impl Into<Bytes>) -> Self {
        EchoBody::Full(Some(b.into()))
    }
}

impl Body for EchoBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame = match self.get_mut() {
            EchoBody::Full(data) | EchoBody::Chunked(data) => data.take().map(Frame::data),
            EchoBody::Grpc(data, trailers) => match data.take() {
                Some(d) => Some(Frame::data(d)),
                None => trailers.take().map(Frame::trailers),
            },
        };
        Poll::Ready(frame.map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            EchoBody::Full(d) => d.as_ref().is_none_or(|d| d.is_empty()),
            EchoBody::Chunked(d) => d.is_none(),
            EchoBody::Grpc(d, t) => d.is_none() && t.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            EchoBody::Full(d) => SizeHint::with_exact(d.as_ref().map_or(0, |d| d.len() as u64)),
            _ => SizeHint::default(),
        }
    }
}
