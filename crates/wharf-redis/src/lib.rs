//! How wharf reaches Redis: one client built from a [`RedisConnection`] (endpoint or
//! Sentinels, credentials, database, TLS) by [`client_for`], with the timeouts Traefik's
//! Redis clients use.
//!
//! The Redis provider reads its keys through it. The distributed rate limiter keeps its
//! connection in a [`Link`] (dialled lazily, failing fast while Redis is down) and takes
//! tokens with [`token_bucket::take`].

mod link;
mod sentinel;
pub mod token_bucket;

pub use link::{Link, LinkDown, REDIAL_AFTER};
pub use sentinel::client_for;

use std::time::Duration;

use redis::aio::{MultiplexedConnection, PubSubStream};
use redis::{AsyncConnectionConfig, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use wharf_model::RedisConnection;

/// Traefik's (go-redis) dial timeout.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a command may wait for its reply (Traefik's KV client: 30 s).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum RedisSetupError {
    #[error("redis endpoint `{0}` is not host:port")]
    Endpoint(String),
    #[error("redis TLS: cannot read {path}: {source}")]
    TlsFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("redis sentinel: no Sentinel named the primary `{master}`: {why}")]
    Sentinel { master: String, why: String },
    #[error("redis endpoint `{endpoint}`: {source}")]
    Client {
        endpoint: String,
        #[source]
        source: redis::RedisError,
    },
}

/// A client for `connection`'s endpoint itself (no connection is opened yet); with
/// `sentinel`, [`client_for`] asks the Sentinels for the primary first.
pub fn client(connection: &RedisConnection) -> Result<redis::Client, RedisSetupError> {
    let endpoint = &connection.endpoint;
    let authority = endpoint
        .parse::<http::uri::Authority>()
        .map_err(|_| RedisSetupError::Endpoint(endpoint.clone()))?;
    let port = authority
        .port_u16()
        .ok_or_else(|| RedisSetupError::Endpoint(endpoint.clone()))?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let mut settings = RedisConnectionInfo::default().set_db(i64::from(connection.db));
    if let Some(user) = &connection.username {
        settings = settings.set_username(user);
    }
    if let Some(password) = &connection.password {
        settings = settings.set_password(password);
    }
    let client_err = |source| RedisSetupError::Client {
        endpoint: endpoint.clone(),
        source,
    };
    let Some(tls) = &connection.tls else {
        let info = ConnectionAddr::Tcp(host.to_string(), port)
            .into_connection_info()
            .map_err(client_err)?
            .set_redis_settings(settings);
        return redis::Client::open(info).map_err(client_err);
    };
    let read = |path: &std::path::PathBuf| {
        std::fs::read(path).map_err(|source| RedisSetupError::TlsFile {
            path: path.clone(),
            source,
        })
    };
    let client_tls = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: read(cert)?,
            client_key: read(key)?,
        }),
        _ => None,
    };
    let root_cert = tls.ca.as_ref().map(read).transpose()?;
    let info = ConnectionAddr::TcpTls {
        host: host.to_string(),
        port,
        insecure: tls.insecure_skip_verify,
        tls_params: None,
    }
    .into_connection_info()
    .map_err(client_err)?
    .set_redis_settings(settings);
    redis::Client::build_with_tls(
        info,
        redis::TlsCertificates {
            client_tls,
            root_cert,
        },
    )
    .map_err(client_err)
}

/// A multiplexed connection (commands from many tasks share it), with the dial and reply
/// timeouts above.
pub async fn connect(client: &redis::Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(DIAL_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// The messages of channels matching `pattern` (PSUBSCRIBE), on a connection of their own.
pub async fn subscribe(client: &redis::Client, pattern: &str) -> redis::RedisResult<PubSubStream> {
    let dial = tokio::time::timeout(DIAL_TIMEOUT, client.get_async_pubsub());
    let mut pubsub = dial.await.map_err(|_| {
        redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connecting to redis timed out",
        ))
    })??;
    pubsub.psubscribe(pattern).await?;
    Ok(pubsub.into_on_message())
}

/// `text` matched literally inside a Redis glob pattern (SCAN MATCH, PSUBSCRIBE).
pub fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_host_and_port() {
        let mut c = RedisConnection::default();
        assert!(client(&c).is_ok());
        c.endpoint = "[::1]:6380".into();
        let info = client(&c).expect("ipv6").get_connection_info().clone();
        assert_eq!(info.addr().to_string(), "::1:6380");
        c.endpoint = "redis".into();
        assert!(matches!(client(&c), Err(RedisSetupError::Endpoint(_))));
    }

    #[test]
    fn globs_match_the_text_literally() {
        assert_eq!(glob_escape("traefik"), "traefik");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
