//! wharf: the idle streams a [TransportConnector](super::TransportConnector) keeps for reuse.
//!
//! pingora's `ConnectionPool` spawns a task to watch each released stream (for the server
//! closing it, for its idle timeout, for eviction) and wakes that task to hand the stream back:
//! about 11 % of the instructions of a request proxied over a kept-alive connection. Here an
//! idle stream is an entry in its peer's list. Whether the server closed it or wrote to it is
//! checked when it is taken, as pingora also does; one sweeper task per pool, running only
//! while the pool holds streams, closes every second those that expired or that the server
//! closed, so a backend never waits long for an idle connection to go.

use super::{test_reusable_stream, PoolCallback};
use crate::protocols::Stream;
use ahash::AHashMap;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often the sweeper looks at the idle streams.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

struct Idle {
    stream: Stream,
    since: Instant,
    /// `None`: no idle timeout.
    deadline: Option<Instant>,
}

impl Idle {
    fn expired(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }
}

#[derive(Default)]
struct Lists {
    /// By the peer's reuse hash; the most recently released stream last. A list emptied by
    /// `take` stays (a peer's next release then allocates nothing); the sweeper drops it.
    by_peer: AHashMap<u64, VecDeque<Idle>>,
    total: usize,
    /// Whether a sweeper task is alive (changed only with the lists locked).
    sweeping: bool,
}

impl Lists {
    /// Removes the stream released longest ago, of all peers.
    fn pop_oldest(&mut self) -> Option<Idle> {
        let (_, list) = self
            .by_peer
            .iter_mut()
            .filter(|(_, list)| !list.is_empty())
            .min_by_key(|(_, list)| list.front().map(|idle| idle.since))?;
        let idle = list.pop_front()?;
        self.total -= 1;
        Some(idle)
    }
}

pub(crate) struct IdleStreams {
    lists: Mutex<Lists>,
    /// At most this many idle streams in all; the oldest is closed to keep a new one.
    capacity: usize,
    unexpected_data: Arc<AtomicU64>,
    /// Called with the idle time of a stream closed to make room for another.
    evicted: Option<PoolCallback>,
}

impl IdleStreams {
    pub(crate) fn new(
        capacity: usize,
        unexpected_data: Arc<AtomicU64>,
        evicted: Option<PoolCallback>,
    ) -> Self {
        IdleStreams {
            lists: Mutex::new(Lists::default()),
            capacity,
            unexpected_data,
            evicted,
        }
    }

    /// The most recently released stream to the peer `key` that is still usable, if any.
    /// `usable` is the peer's own check of the stream.
    pub(crate) fn take(&self, key: u64, usable: impl Fn(&Stream) -> bool) -> Option<Stream> {
        loop {
            let idle = {
                let mut lists = self.lists.lock();
                let idle = lists.by_peer.get_mut(&key)?.pop_back()?;
                lists.total -= 1;
                idle
            };
            // A stream that is not reused is closed here, outside the lock.
            let expired = idle.expired(Instant::now());
            let mut stream = idle.stream;
            if !expired
                && usable(&stream)
                && test_reusable_stream(&mut stream, &self.unexpected_data)
            {
                return Some(stream);
            }
        }
    }

    /// Keeps `stream` for the peer `key`, for at most `idle_timeout` (`None`: no limit;
    /// zero: it is closed now).
    pub(crate) fn put(
        self: &Arc<Self>,
        key: u64,
        mut stream: Stream,
        idle_timeout: Option<Duration>,
    ) {
        if self.capacity == 0 || idle_timeout == Some(Duration::ZERO) {
            return;
        }
        if !test_reusable_stream(&mut stream, &self.unexpected_data) {
            return;
        }
        let since = Instant::now();
        let idle = Idle {
            stream,
            since,
            deadline: idle_timeout.and_then(|t| since.checked_add(t)),
        };
        let (evicted, start_sweeper) = {
            let mut lists = self.lists.lock();
            let evicted = if lists.total >= self.capacity {
                lists.pop_oldest()
            } else {
                None
            };
            lists.by_peer.entry(key).or_default().push_back(idle);
            lists.total += 1;
            let start_sweeper = !lists.sweeping;
            lists.sweeping = true;
            (evicted, start_sweeper)
        };
        // The evicted stream, if any, is closed at the end of this function, outside the lock.
        if let (Some(evicted), Some(callback)) = (&evicted, &self.evicted) {
            callback(evicted.since.elapsed());
        }
        if start_sweeper {
            self.start_sweeper();
        }
    }

    fn start_sweeper(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Outside a runtime: the streams then expire only when they are taken.
            self.lists.lock().sweeping = false;
            return;
        };
        let mut alive = Sweeping {
            pool: Arc::downgrade(self),
            armed: true,
        };
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(SWEEP_EVERY).await;
                let Some(pool) = alive.pool.upgrade() else {
                    break;
                };
                if !pool.sweep() {
                    // The flag was cleared with the lists locked; a release since then may
                    // have started another sweeper, whose flag this one must not clear.
                    alive.disarm();
                    break;
                }
            }
        });
    }

    /// Closes the streams that expired or that the server closed or wrote to. Returns whether
    /// any is left (if not, the sweeper stops and the next release starts another).
    fn sweep(&self) -> bool {
        let now = Instant::now();
        let mut lists = self.lists.lock();
        let unexpected_data = &self.unexpected_data;
        let mut total = 0;
        lists.by_peer.retain(|_, list| {
            list.retain_mut(|idle| {
                !idle.expired(now) && test_reusable_stream(&mut idle.stream, unexpected_data)
            });
            total += list.len();
            !list.is_empty()
        });
        lists.total = total;
        if total == 0 {
            lists.sweeping = false;
        }
        total > 0
    }
}

/// Held by the sweeper task: clears the pool's flag if the task ends any other way than by
/// finding the pool empty (its runtime shut down), so that the next release starts another.
struct Sweeping {
    pool: Weak<IdleStreams>,
    armed: bool,
}

impl Sweeping {
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Sweeping {
    fn drop(&mut self) {
        if let (true, Some(pool)) = (self.armed, self.pool.upgrade()) {
            pool.lists.lock().sweeping = false;
        }
    }
}
