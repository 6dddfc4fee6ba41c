//! One lazily dialled Redis connection for the request path: its commands share one
//! multiplexed connection; while Redis is unreachable, callers learn it at once instead of
//! each waiting for a dial.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use tokio::sync::Mutex;
use wharf_model::RedisConnection;

/// After a failed dial, the next is tried no sooner than this.
pub const REDIAL_AFTER: Duration = Duration::from_secs(1);

pub struct Link {
    connection: RedisConnection,
    config: AsyncConnectionConfig,
    live: ArcSwapOption<MultiplexedConnection>,
    /// When the last dial failed (None: it did not). Held while dialling, so one caller
    /// dials and the others wait for its result.
    dial: Mutex<Option<Instant>>,
    /// The last dial failed: callers no longer wait for the next one.
    down: AtomicBool,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("endpoint", &self.connection.endpoint)
            .field("down", &self.down.load(Ordering::Relaxed))
            .finish()
    }
}

impl Link {
    /// No connection is opened before the first [`Link::connection`].
    pub fn new(
        connection: RedisConnection,
        dial_timeout: Duration,
        reply_timeout: Duration,
    ) -> Self {
        Link {
            connection,
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(dial_timeout))
                .set_response_timeout(Some(reply_timeout)),
            live: ArcSwapOption::empty(),
            dial: Mutex::new(None),
            down: AtomicBool::new(false),
        }
    }

    /// The connection, dialled if there is none. None while Redis is unreachable: a caller
    /// waits for a dial only when the last one did not fail; otherwise it gets None at once,
    /// and one caller per [`REDIAL_AFTER`] tries again.
    pub async fn connection(&self) -> Result<MultiplexedConnection, LinkDown> {
        if let Some(c) = self.live.load_full() {
            return Ok((*c).clone());
        }
        let mut last_failure = if self.down.load(Ordering::Relaxed) {
            self.dial.try_lock().map_err(|_| LinkDown::Dialling)?
        } else {
            self.dial.lock().await
        };
        if let Some(c) = self.live.load_full() {
            return Ok((*c).clone());
        }
        if last_failure.is_some_and(|at| at.elapsed() < REDIAL_AFTER) {
            return Err(LinkDown::Waiting);
        }
        let dialled = match crate::client_for(&self.connection).await {
            Ok(client) => client
                .get_multiplexed_async_connection_with_config(&self.config)
                .await
                .map_err(LinkDown::Dial),
            Err(e) => Err(LinkDown::Setup(e)),
        };
        match dialled {
            Ok(c) => {
                self.live.store(Some(Arc::new(c.clone())));
                *last_failure = None;
                self.down.store(false, Ordering::Relaxed);
                Ok(c)
            }
            Err(e) => {
                *last_failure = Some(Instant::now());
                self.down.store(true, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// A command failed on the connection: the next caller dials again.
    pub fn broken(&self) {
        self.live.store(None);
    }

    /// The messages of channels matching `pattern`, on a connection of their own (to the
    /// primary the Sentinels name now, with them).
    pub async fn subscribe(&self, pattern: &str) -> Result<redis::aio::PubSubStream, LinkDown> {
        let client = crate::client_for(&self.connection)
            .await
            .map_err(LinkDown::Setup)?;
        crate::subscribe(&client, pattern)
            .await
            .map_err(LinkDown::Dial)
    }
}

/// Why [`Link::connection`] has no connection to give.
#[derive(Debug, thiserror::Error)]
pub enum LinkDown {
    #[error("connecting to redis failed: {0}")]
    Dial(redis::RedisError),
    #[error("{0}")]
    Setup(crate::RedisSetupError),
    #[error("redis is unreachable; another request is dialling it")]
    Dialling,
    #[error("redis was unreachable less than {REDIAL_AFTER:?} ago")]
    Waiting,
}
