//! The idle HTTP/1.1 connections of one [`Client`](crate::Client), by server.
//!
//! pingora's pool spawns a task to watch each released connection (for the server closing
//! it, and for its idle timeout) and wakes that task to take the connection back: a third of
//! an auth exchange's instructions. Here an idle connection is a socket in a list: whether the
//! server closed it is checked when it is taken (as pingora also does), and connections idle
//! longer than [`IDLE`](crate::IDLE) are closed when the lists are next touched.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use pingora::protocols::Stream;
use tokio::io::AsyncReadExt;

/// Idle connections kept per server; more are closed.
const PER_SERVER: usize = 16;
/// How often, at most, the lists are swept for expired connections.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

struct Idle {
    stream: Stream,
    since: Instant,
}

pub(crate) struct IdlePool {
    timeout: Duration,
    state: Mutex<State>,
}

struct State {
    /// By pingora's reuse hash of the peer (address, TLS name and options).
    servers: HashMap<u64, Vec<Idle>>,
    next_sweep: Instant,
}

impl IdlePool {
    pub(crate) fn new(timeout: Duration) -> Self {
        IdlePool {
            timeout,
            state: Mutex::new(State {
                servers: HashMap::new(),
                next_sweep: Instant::now() + SWEEP_EVERY,
            }),
        }
    }

    /// The most recently used live connection to `server`, if any.
    pub(crate) fn take(&self, server: u64) -> Option<Stream> {
        let now = Instant::now();
        loop {
            let idle = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                self.sweep(&mut state, now);
                let list = state.servers.get_mut(&server)?;
                let idle = list.pop();
                if list.is_empty() {
                    state.servers.remove(&server);
                }
                idle?
            };
            if now.saturating_duration_since(idle.since) >= self.timeout {
                continue;
            }
            let mut stream = idle.stream;
            if still_open(&mut stream) {
                return Some(stream);
            }
        }
    }

    /// Keeps `stream` for the next exchange with `server`.
    pub(crate) fn put(&self, server: u64, stream: Stream) {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.sweep(&mut state, now);
        let list = state.servers.entry(server).or_default();
        if list.len() >= PER_SERVER {
            list.remove(0);
        }
        list.push(Idle { stream, since: now });
    }

    /// Closes what has been idle too long, at most once per [`SWEEP_EVERY`].
    fn sweep(&self, state: &mut State, now: Instant) {
        if now < state.next_sweep {
            return;
        }
        state.next_sweep = now + SWEEP_EVERY;
        let timeout = self.timeout;
        state.servers.retain(|_, list| {
            list.retain(|idle| now.saturating_duration_since(idle.since) < timeout);
            !list.is_empty()
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.servers.values().map(Vec::len).sum()
    }
}

/// Whether an idle connection is still usable: nothing to read yet. End of stream (the server
/// closed it), an error, or bytes nobody asked for all mean it is not.
fn still_open(stream: &mut Stream) -> bool {
    let mut byte = [0u8; 1];
    // `unconstrained`: tokio's budget must not turn a ready read into "not ready".
    tokio::task::unconstrained(stream.read(&mut byte))
        .now_or_never()
        .is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    fn stream(tcp: TcpStream) -> Stream {
        Box::new(pingora::protocols::l4::stream::Stream::from(tcp))
    }

    async fn raw_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server)
    }

    async fn pair() -> (Stream, TcpStream) {
        let (client, server) = raw_pair().await;
        (stream(client), server)
    }

    #[tokio::test]
    async fn a_connection_comes_back_to_its_server_only() {
        let pool = IdlePool::new(Duration::from_secs(90));
        let (stream, _server) = pair().await;
        pool.put(1, stream);
        assert!(pool.take(2).is_none());
        assert!(pool.take(1).is_some());
        assert!(pool.take(1).is_none());
        assert_eq!(pool.len(), 0);
    }

    #[tokio::test]
    async fn connections_the_server_closed_or_wrote_to_are_dropped() {
        let pool = IdlePool::new(Duration::from_secs(90));
        let (closed, server) = raw_pair().await;
        drop(server);
        let (written, mut server) = raw_pair().await;
        server.write_all(b"x").await.unwrap();
        // Once the sockets have seen it, as an idle connection would have by its next use.
        closed.readable().await.unwrap();
        written.readable().await.unwrap();
        pool.put(1, stream(closed));
        pool.put(1, stream(written));
        let (open, _server) = pair().await;
        pool.put(2, open);
        assert!(pool.take(1).is_none());
        assert_eq!(pool.len(), 1);
        assert!(pool.take(2).is_some());
    }

    #[tokio::test]
    async fn expired_connections_are_not_reused() {
        let pool = IdlePool::new(Duration::ZERO);
        let (stream, _server) = pair().await;
        pool.put(1, stream);
        assert!(pool.take(1).is_none());
    }

    #[tokio::test]
    async fn each_server_keeps_a_bounded_number() {
        let pool = IdlePool::new(Duration::from_secs(90));
        let mut servers = Vec::new();
        for _ in 0..PER_SERVER + 3 {
            let (stream, server) = pair().await;
            servers.push(server);
            pool.put(7, stream);
        }
        assert_eq!(pool.len(), PER_SERVER);
    }
}
