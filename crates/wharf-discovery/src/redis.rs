//! The Redis provider: dynamic configuration stored under `rootKey` in Traefik's key layout
//! (`traefik/http/routers/web/rule`), as written by hand or by traefik-kop from other hosts.
//!
//! As Traefik (kvtools' Redis store), it turns keyspace notifications on
//! (`CONFIG SET notify-keyspace-events KEA`), subscribes to the root's keys, and reads every
//! key under the root again after each notification (SCAN, then MGET). Where the server
//! refuses `CONFIG SET` and notifications are off (managed Redis), Traefik never sees a change;
//! wharf says so once and polls every [`POLL_WITHOUT_NOTIFICATIONS`] instead. A slow poll runs in
//! any case: Pub/Sub drops messages silently, and a silent peer is only noticed by a command.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use wharf_config::decode_dynamic;
use wharf_config::kv::store_to_node;
use wharf_model::{ProviderName, RedisProviderConfig};

use crate::contain::contained;
use crate::reconnect::{reconnecting, Synced, UpdateSender};
use crate::{LoadError, ProviderUpdate};

/// Polling when the server sends no keyspace notifications.
pub const POLL_WITHOUT_NOTIFICATIONS: Duration = Duration::from_secs(1);
/// Polling beside notifications (lost messages, a peer gone silent).
const POLL_WITH_NOTIFICATIONS: Duration = Duration::from_secs(15);
/// Quiet time after a notification before reading (a writer's burst of keys coalesces).
const SETTLE: Duration = Duration::from_millis(5);
/// Keys per SCAN step and per MGET.
const BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum RedisProviderError {
    #[error(transparent)]
    Setup(#[from] wharf_redis::RedisSetupError),
    #[error("redis {endpoint}: {source}")]
    Redis {
        endpoint: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("redis {endpoint}: the notification stream ended (connection lost)")]
    StreamEnded { endpoint: String },
    #[error(transparent)]
    Load(#[from] LoadError),
}

#[derive(Debug, Clone)]
pub struct RedisProvider {
    config: RedisProviderConfig,
    throttle: Option<Duration>,
    state: Arc<wharf_observe::ProviderState>,
}

/// The keys under the root and their values, sorted by key.
type Pairs = Vec<(String, String)>;

impl RedisProvider {
    pub fn new(config: RedisProviderConfig, throttle: Option<Duration>) -> Self {
        RedisProvider {
            config,
            throttle,
            state: Arc::default(),
        }
    }

    /// Reports the connection's state into `state` (wharf's provider metrics).
    pub fn with_state(mut self, state: Arc<wharf_observe::ProviderState>) -> Self {
        self.state = state;
        self
    }

    pub fn provider_name() -> ProviderName {
        ProviderName::new("redis")
    }

    fn error(&self, source: redis::RedisError) -> RedisProviderError {
        RedisProviderError::Redis {
            endpoint: self.config.connection.endpoint.clone(),
            source,
        }
    }

    /// Every string key under the root with its value (other types and empty values are
    /// left out, as Traefik does).
    async fn pairs(&self, conn: &mut MultiplexedConnection) -> Result<Pairs, RedisProviderError> {
        let pattern = format!("{}/*", wharf_redis::glob_escape(&self.config.root_key));
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(BATCH)
                .query_async(conn)
                .await
                .map_err(|e| self.error(e))?;
            keys.extend(batch);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        let mut pairs = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH) {
            let values: Vec<Option<Vec<u8>>> = conn.mget(chunk).await.map_err(|e| self.error(e))?;
            for (key, value) in chunk.iter().zip(values) {
                if let Some(v) = value.filter(|v| !v.is_empty()) {
                    pairs.push((key.clone(), String::from_utf8_lossy(&v).into_owned()));
                }
            }
        }
        Ok(pairs)
    }

    fn update(&self, pairs: &Pairs) -> Result<ProviderUpdate, LoadError> {
        let (raw, issues) = contained("redis", || {
            let (node, mut issues) = store_to_node("redis", &self.config.root_key, pairs);
            let (raw, decode_issues) = decode_dynamic(&node);
            issues.extend(decode_issues);
            (raw, issues)
        })?;
        Ok(ProviderUpdate {
            provider: Self::provider_name(),
            raw,
            issues,
        })
    }

    /// One connection and read: the first configuration, for start-up.
    pub async fn load(&self) -> Result<ProviderUpdate, RedisProviderError> {
        let client = wharf_redis::client_for(&self.config.connection).await?;
        let mut conn = wharf_redis::connect(&client)
            .await
            .map_err(|e| self.error(e))?;
        let pairs = self.pairs(&mut conn).await?;
        Ok(self.update(&pairs)?)
    }

    /// Follows the keys until `tx` closes (reconnecting with backoff).
    pub async fn watch(self, tx: UpdateSender) {
        let synced = Synced::default();
        reconnecting("redis", &self.state, &tx, &synced, || {
            self.session(&tx, &synced)
        })
        .await;
    }

    /// Turns keyspace notifications on where they are off; false if they stay off.
    async fn notifications_on(&self, conn: &mut MultiplexedConnection) -> bool {
        let set: redis::RedisResult<()> = redis::cmd("CONFIG")
            .arg("SET")
            .arg("notify-keyspace-events")
            .arg("KEA")
            .query_async(conn)
            .await;
        if set.is_ok() {
            return true;
        }
        // Refused (managed Redis, ACL): they may already be on.
        let current: redis::RedisResult<Vec<String>> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("notify-keyspace-events")
            .query_async(conn)
            .await;
        let flags = current
            .ok()
            .and_then(|v| v.get(1).cloned())
            .unwrap_or_default();
        // Keyspace channel (K) with string (`$`) and generic (`g`) events, or all (A).
        flags.contains('K') && (flags.contains('A') || (flags.contains('$') && flags.contains('g')))
    }

    /// One connected session; Ok(()) only when the receiver is gone.
    async fn session(&self, tx: &UpdateSender, synced: &Synced) -> Result<(), RedisProviderError> {
        let endpoint = self.config.connection.endpoint.clone();
        let client = wharf_redis::client_for(&self.config.connection).await?;
        let mut conn = wharf_redis::connect(&client)
            .await
            .map_err(|e| self.error(e))?;
        let notifications = self.notifications_on(&mut conn).await;
        if !notifications {
            tracing::warn!(endpoint, every = ?POLL_WITHOUT_NOTIFICATIONS, "redis provider: the server sends no keyspace notifications and refuses to turn them on (`notify-keyspace-events`); polling instead (Traefik would not see changes at all)");
        }
        let channel = format!(
            "__keyspace@{}__:{}/*",
            self.config.connection.db,
            wharf_redis::glob_escape(&self.config.root_key)
        );
        // Subscribed before the first read, so no write between the two is missed.
        let mut messages = wharf_redis::subscribe(&client, &channel)
            .await
            .map_err(|e| self.error(e))?;
        let mut pairs = self.pairs(&mut conn).await?;
        synced.set();
        self.state.synced();
        tracing::info!(keys = pairs.len(), endpoint, root = %self.config.root_key, "redis provider: synchronized");
        if tx.send(self.update(&pairs)).await.is_err() {
            return Ok(());
        }
        let mut poll = tokio::time::interval(if notifications {
            POLL_WITH_NOTIFICATIONS
        } else {
            POLL_WITHOUT_NOTIFICATIONS
        });
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        let mut last_sent = tokio::time::Instant::now();
        loop {
            tokio::select! {
                message = messages.next() => {
                    if message.is_none() {
                        return Err(RedisProviderError::StreamEnded { endpoint });
                    }
                    // Coalesce the rest of the burst.
                    loop {
                        tokio::select! {
                            next = messages.next() => if next.is_none() { break },
                            () = tokio::time::sleep(SETTLE) => break,
                        }
                    }
                }
                _ = poll.tick() => {}
            }
            let now = self.pairs(&mut conn).await?;
            if now == pairs {
                continue;
            }
            pairs = now;
            tracing::debug!(keys = pairs.len(), "redis provider: changed");
            if let Some(throttle) = self.throttle {
                tokio::time::sleep_until(last_sent + throttle).await;
            }
            last_sent = tokio::time::Instant::now();
            if tx.send(self.update(&pairs)).await.is_err() {
                return Ok(());
            }
        }
    }
}
