//! [`WriteBuffer`]: coalesces what pingora writes of a response (its head, then its body, in
//! separate writes) into one send, as the socket's own write buffer did, but holds memory only
//! while a response is being written: an idle keep-alive connection keeps none.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::AsyncWrite;

/// As pingora's own L4 write buffer: one TCP segment's worth.
pub(crate) const WRITE_BUFFER: usize = pingora::listeners::DEFAULT_L4_WRITE_BUFFER_SIZE;

#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    pending: Vec<u8>,
}

impl WriteBuffer {
    /// Takes `buf` (all of it, or what `inner` accepted when it is sent straight through),
    /// sending what is held first when `buf` would overflow it. Same rules as tokio's
    /// `BufWriter`.
    pub(crate) fn poll_write<W: AsyncWrite + Unpin>(
        &mut self,
        inner: &mut W,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.pending.len().saturating_add(buf.len()) > WRITE_BUFFER {
            ready!(self.poll_send(inner, cx))?;
        }
        if buf.len() >= WRITE_BUFFER {
            return Pin::new(inner).poll_write(cx, buf);
        }
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(WRITE_BUFFER);
        }
        self.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    /// Sends everything held (not flushing `inner`).
    pub(crate) fn poll_send<W: AsyncWrite + Unpin>(
        &mut self,
        inner: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        while !self.pending.is_empty() {
            match ready!(Pin::new(&mut *inner).poll_write(cx, &self.pending)) {
                Ok(0) => {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::WriteZero,
                        "the connection took no more of the response",
                    )))
                }
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Frees the buffer if nothing is held (between two requests).
    pub(crate) fn release(&mut self) {
        if self.pending.is_empty() {
            self.pending = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each write it is given, whole.
    #[derive(Default)]
    struct Sends(Vec<Vec<u8>>);

    impl AsyncWrite for Sends {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.0.push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn write(buffer: &mut WriteBuffer, sends: &mut Sends, buf: &[u8]) -> usize {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match buffer.poll_write(sends, &mut cx, buf) {
            Poll::Ready(Ok(n)) => n,
            other => panic!("write: {other:?}"),
        }
    }

    fn send(buffer: &mut WriteBuffer, sends: &mut Sends) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(matches!(
            buffer.poll_send(sends, &mut cx),
            Poll::Ready(Ok(()))
        ));
    }

    #[test]
    fn a_head_and_its_body_go_out_in_one_send() {
        let (mut buffer, mut sends) = (WriteBuffer::default(), Sends::default());
        assert_eq!(
            write(&mut buffer, &mut sends, b"HTTP/1.1 200 OK\r\n\r\n"),
            19
        );
        assert_eq!(write(&mut buffer, &mut sends, b"hello\n"), 6);
        assert!(sends.0.is_empty());
        send(&mut buffer, &mut sends);
        assert_eq!(sends.0, vec![b"HTTP/1.1 200 OK\r\n\r\nhello\n".to_vec()]);
    }

    #[test]
    fn a_large_write_follows_what_is_held_and_is_not_copied() {
        let (mut buffer, mut sends) = (WriteBuffer::default(), Sends::default());
        write(&mut buffer, &mut sends, b"head");
        let body = vec![b'x'; WRITE_BUFFER * 3];
        assert_eq!(write(&mut buffer, &mut sends, &body), body.len());
        assert_eq!(sends.0, vec![b"head".to_vec(), body]);
    }

    #[test]
    fn nothing_is_kept_once_released() {
        let (mut buffer, mut sends) = (WriteBuffer::default(), Sends::default());
        write(&mut buffer, &mut sends, b"head");
        buffer.release();
        assert!(
            buffer.pending.capacity() > 0,
            "held bytes are never dropped"
        );
        send(&mut buffer, &mut sends);
        buffer.release();
        assert_eq!(buffer.pending.capacity(), 0);
    }
}
