//! Redis Sentinel: the primary's address, asked of each Sentinel in turn
//! (`SENTINEL GET-MASTER-ADDR-BY-NAME`), each time a connection is made, so a failover is
//! followed on the next reconnection.

use wharf_model::RedisConnection;

use crate::{client, RedisSetupError, DIAL_TIMEOUT};

/// A client for `connection`'s primary: the endpoint itself, or the one the Sentinels name.
pub async fn client_for(connection: &RedisConnection) -> Result<redis::Client, RedisSetupError> {
    let Some(sentinel) = &connection.sentinel else {
        return client(connection);
    };
    let mut refusals = Vec::new();
    for address in &sentinel.sentinels {
        let asked = RedisConnection {
            endpoint: address.clone(),
            username: sentinel.username.clone(),
            password: sentinel.password.clone(),
            db: 0,
            tls: connection.tls.clone(),
            sentinel: None,
        };
        match primary(&asked, &sentinel.master_name).await {
            Ok(endpoint) => {
                return client(&RedisConnection {
                    endpoint,
                    sentinel: None,
                    ..connection.clone()
                })
            }
            Err(why) => refusals.push(format!("{address}: {why}")),
        }
    }
    Err(RedisSetupError::Sentinel {
        master: sentinel.master_name.clone(),
        why: refusals.join("; "),
    })
}

/// What one Sentinel says the primary of `master` is, as `host:port`.
async fn primary(sentinel: &RedisConnection, master: &str) -> Result<String, String> {
    let client = client(sentinel).map_err(|e| e.to_string())?;
    let mut connection =
        tokio::time::timeout(DIAL_TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| "no answer".to_string())?
            .map_err(|e| e.to_string())?;
    let mut command = redis::cmd("SENTINEL");
    command.arg("GET-MASTER-ADDR-BY-NAME").arg(master);
    let asked = command.query_async::<Option<(String, u16)>>(&mut connection);
    let answer = tokio::time::timeout(DIAL_TIMEOUT, asked)
        .await
        .map_err(|_| "no answer".to_string())?
        .map_err(|e| e.to_string())?;
    let (host, port) = answer.ok_or_else(|| format!("it knows no primary named `{master}`"))?;
    Ok(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}
