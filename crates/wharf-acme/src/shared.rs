//! A storage document shared through Redis (`storage: redis://...`), for several instances
//! behind one load balancer: the document (Traefik's `acme.json` format) under `<key>`; a
//! lease `<key>:leader` that the instance ordering and renewing holds (it lapses when that
//! instance dies, and another takes over); heartbeats in the sorted set `<key>:members`; the
//! challenges in flight in the hash `<key>:challenges`, so whichever instance the CA reaches
//! answers them; and `<key>:events`, a channel telling the others that the document or the
//! challenges changed.
//!
//! Before it tells the CA a challenge is ready, the leader waits (at most
//! [`ACK_WAIT`]) until every live instance has acknowledged holding it.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::AsyncCommands;
use wharf_model::AcmeRedisStorage;
use wharf_redis::Link;

use crate::order::AcmeError;
use crate::storage::StorageFile;

/// How long a lease lasts without renewal; it is renewed every [`TICK`].
pub const LEASE: Duration = Duration::from_secs(15);
/// How often an instance renews its lease (or tries to take one), beats, and reads the
/// document and the challenges again (in case a message was missed).
pub const TICK: Duration = Duration::from_secs(5);
/// The longest the leader waits for the other instances to hold a challenge.
pub const ACK_WAIT: Duration = Duration::from_secs(10);

/// Takes the lease if it is free, renews it if this instance holds it.
const LEAD: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// The script and its hash, computed once.
static LEAD_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(LEAD));

pub struct SharedStorage {
    link: Link,
    key: String,
    /// This instance, in the lease and the acknowledgements.
    instance: String,
}

impl std::fmt::Debug for SharedStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis key {}", self.key)
    }
}

/// A challenge answer: HTTP-01 (token -> key authorization) or TLS-ALPN-01 (domain -> the
/// key authorization's digest, base64).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Challenge {
    Http {
        token: String,
        key_authorization: String,
    },
    TlsAlpn {
        domain: String,
        digest_b64: String,
    },
}

impl Challenge {
    fn field(&self) -> (String, String) {
        match self {
            Challenge::Http {
                token,
                key_authorization,
            } => (format!("http:{token}"), key_authorization.clone()),
            Challenge::TlsAlpn { domain, digest_b64 } => {
                (format!("alpn:{domain}"), digest_b64.clone())
            }
        }
    }

    fn from_field(field: &str, value: &str) -> Option<Challenge> {
        if let Some(token) = field.strip_prefix("http:") {
            return Some(Challenge::Http {
                token: token.to_string(),
                key_authorization: value.to_string(),
            });
        }
        field
            .strip_prefix("alpn:")
            .map(|domain| Challenge::TlsAlpn {
                domain: domain.to_string(),
                digest_b64: value.to_string(),
            })
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn redis_err(context: &str) -> impl Fn(redis::RedisError) -> AcmeError + '_ {
    move |e| AcmeError(format!("redis: {context}: {e}"))
}

impl SharedStorage {
    pub fn new(storage: &AcmeRedisStorage) -> Result<Self, AcmeError> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        Ok(SharedStorage {
            link: Link::new(
                storage.connection.clone(),
                wharf_redis::DIAL_TIMEOUT,
                wharf_redis::RESPONSE_TIMEOUT,
            ),
            key: storage.key.clone(),
            instance: format!("{host}/{}/{}", std::process::id(), unix_ms()),
        })
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, AcmeError> {
        self.link
            .connection()
            .await
            .map_err(|e| AcmeError(e.to_string()))
    }

    /// Runs `command`; a failure drops the connection, so the next call dials again.
    async fn run<T>(
        &self,
        context: &str,
        command: impl AsyncFnOnce(&mut redis::aio::MultiplexedConnection) -> redis::RedisResult<T>,
    ) -> Result<T, AcmeError> {
        let mut c = self.connection().await?;
        command(&mut c).await.map_err(|e| {
            self.link.broken();
            redis_err(context)(e)
        })
    }

    /// The document as stored (None: there is none yet), raw.
    pub async fn load_raw(&self) -> Result<Option<Vec<u8>>, AcmeError> {
        self.run("GET", async |c| c.get(&self.key).await).await
    }

    pub async fn load(&self) -> Result<StorageFile, AcmeError> {
        match self.load_raw().await? {
            None => Ok(StorageFile::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                AcmeError(format!("redis key {}: not an ACME document: {e}", self.key))
            }),
        }
    }

    /// Stores the document and tells the other instances.
    pub async fn save(&self, file: &StorageFile) -> Result<(), AcmeError> {
        let json = serde_json::to_vec_pretty(file)
            .map_err(|e| AcmeError(format!("the ACME document: {e}")))?;
        self.run("SET", async |c| {
            let () = c.set(&self.key, json).await?;
            let _: i64 = c.publish(self.events(), "stored").await?;
            Ok(())
        })
        .await
    }

    fn events(&self) -> String {
        format!("{}:events", self.key)
    }

    /// Takes or renews the lease; whether this instance holds it. Also beats.
    pub async fn lead(&self) -> Result<bool, AcmeError> {
        let lease_ms = u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX);
        let now = unix_ms();
        self.run("lease", async |c| {
            let _: i64 = c
                .zadd(format!("{}:members", self.key), &self.instance, now)
                .await?;
            let lead: i64 = LEAD_SCRIPT
                .key(format!("{}:leader", self.key))
                .arg(&self.instance)
                .arg(lease_ms)
                .invoke_async(c)
                .await?;
            Ok(lead == 1)
        })
        .await
    }

    /// Instances other than this one that beat within a lease (a dead leader is out by the
    /// time its lease has lapsed).
    async fn others_alive(&self) -> Result<Vec<String>, AcmeError> {
        let since = unix_ms().saturating_sub(u64::try_from(LEASE.as_millis()).unwrap_or(0));
        let members = format!("{}:members", self.key);
        self.run("members", async |c| {
            let _: i64 = c.zrembyscore(&members, 0, since).await?;
            let alive: Vec<String> = c.zrangebyscore(&members, since, "+inf").await?;
            Ok(alive)
        })
        .await
        .map(|all| all.into_iter().filter(|m| *m != self.instance).collect())
    }

    /// Publishes the challenges of an order, and waits until every other live instance
    /// holds them (or [`ACK_WAIT`] has passed: the CA may still reach one that does).
    pub async fn share_challenges(&self, challenges: &[Challenge]) -> Result<(), AcmeError> {
        let fields: Vec<(String, String)> = challenges.iter().map(Challenge::field).collect();
        let epoch = format!("{}/{}", self.instance, unix_ms());
        let hash = format!("{}:challenges", self.key);
        self.run("challenges", async |c| {
            let () = redis::pipe()
                .atomic()
                .del(&hash)
                .hset_multiple(&hash, &fields)
                .hset(&hash, "epoch", &epoch)
                .expire(&hash, 600)
                .query_async(c)
                .await?;
            let _: i64 = c.publish(self.events(), "challenges").await?;
            Ok(())
        })
        .await?;
        let others = self.others_alive().await?;
        let acks = format!("{}:acks:{epoch}", self.key);
        let deadline = tokio::time::Instant::now() + ACK_WAIT;
        loop {
            let acked: Vec<String> = self.run("acks", async |c| c.smembers(&acks).await).await?;
            let missing: Vec<&String> = others.iter().filter(|o| !acked.contains(o)).collect();
            if missing.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(missing = ?missing, "ACME: some instances did not confirm holding the challenges; asking the CA anyway");
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The order is over: its challenges go.
    pub async fn clear_challenges(&self) -> Result<(), AcmeError> {
        let hash = format!("{}:challenges", self.key);
        self.run("challenges", async |c| {
            let _: i64 = c.del(&hash).await?;
            let _: i64 = c.publish(self.events(), "challenges").await?;
            Ok(())
        })
        .await
    }

    /// The challenges in flight, after which this instance says it holds them.
    pub async fn challenges(&self) -> Result<Vec<Challenge>, AcmeError> {
        let hash = format!("{}:challenges", self.key);
        let all: BTreeMap<String, String> = self
            .run("challenges", async |c| c.hgetall(&hash).await)
            .await?;
        Ok(all
            .iter()
            .filter_map(|(f, v)| Challenge::from_field(f, v))
            .collect())
    }

    /// Says this instance holds the challenges of the current epoch.
    pub async fn acknowledge(&self) -> Result<(), AcmeError> {
        let hash = format!("{}:challenges", self.key);
        let epoch: Option<String> = self
            .run("epoch", async |c| c.hget(&hash, "epoch").await)
            .await?;
        let Some(epoch) = epoch else { return Ok(()) };
        let acks = format!("{}:acks:{epoch}", self.key);
        self.run("ack", async |c| {
            let _: i64 = c.sadd(&acks, &self.instance).await?;
            let _: i64 = c.expire(&acks, 600).await?;
            Ok(())
        })
        .await
    }

    /// The channel's messages ("stored", "challenges"), on a connection of their own.
    pub async fn subscribe(&self) -> Result<redis::aio::PubSubStream, AcmeError> {
        self.link
            .subscribe(&wharf_redis::glob_escape(&self.events()))
            .await
            .map_err(|e| AcmeError(format!("redis: SUBSCRIBE: {e}")))
    }
}
