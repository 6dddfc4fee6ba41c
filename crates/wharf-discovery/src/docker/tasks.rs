//! `GET /tasks`: the one listing bollard cannot give whole. Its generated `Task` model follows
//! the engine's OpenAPI document, which leaves out `NetworksAttachments`, the tasks' addresses
//! on Swarm networks. This file asks the engine for that list itself (one HTTP/1.1 GET, over
//! hyper) and decodes only what routing needs.

use std::collections::HashMap;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::Deserialize;

use super::engine::{DockerError, CALL_TIMEOUT};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Task {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "ServiceID", default)]
    pub service_id: String,
    #[serde(default)]
    pub slot: Option<u64>,
    #[serde(default)]
    pub status: TaskStatus,
    #[serde(default)]
    pub desired_state: String,
    #[serde(default)]
    pub networks_attachments: Vec<Attachment>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TaskStatus {
    #[serde(default)]
    pub state: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Attachment {
    #[serde(default)]
    pub network: AttachedNetwork,
    /// CIDR notation: `10.0.1.5/24`.
    #[serde(default)]
    pub addresses: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct AttachedNetwork {
    #[serde(rename = "ID", default)]
    pub id: String,
}

/// The tasks meant to be running (`desired-state=running`), by API version `version`
/// (bollard's negotiated one, e.g. `1.49`).
pub(super) async fn running_tasks(endpoint: &str, version: &str) -> Result<Vec<Task>, DockerError> {
    let filters = serde_json::json!({ "desired-state": ["running"] }).to_string();
    let query: String = url_encode(&filters);
    let path = format!("/v{version}/tasks?filters={query}");
    let body = match tokio::time::timeout(CALL_TIMEOUT, get(endpoint, &path)).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(DockerError::Timeout {
                endpoint: endpoint.to_string(),
            })
        }
    };
    serde_json::from_slice(&body).map_err(|e| raw_error(endpoint, format!("GET /tasks: {e}")))
}

fn raw_error(endpoint: &str, message: String) -> DockerError {
    DockerError::Api {
        endpoint: endpoint.to_string(),
        source: bollard::errors::Error::IOError {
            err: std::io::Error::other(message),
        },
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One GET on a new connection; the body if the status is 200.
async fn get(endpoint: &str, path: &str) -> Result<Bytes, DockerError> {
    let io_err = |e: std::io::Error| raw_error(endpoint, format!("GET {path}: {e}"));
    let http_err = |e: hyper::Error| raw_error(endpoint, format!("GET {path}: {e}"));
    let body = if let Some(socket) = endpoint
        .strip_prefix("unix://")
        .or_else(|| endpoint.starts_with('/').then_some(endpoint))
    {
        let stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(io_err)?;
        exchange(stream, "localhost", path).await
    } else {
        let authority = endpoint
            .strip_prefix("tcp://")
            .or_else(|| endpoint.strip_prefix("http://"))
            .ok_or_else(|| DockerError::Endpoint(endpoint.to_string()))?
            .trim_end_matches('/');
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(io_err)?;
        exchange(stream, authority, path).await
    };
    let (status, bytes) = body.map_err(http_err)?;
    if status != hyper::StatusCode::OK {
        let text = String::from_utf8_lossy(&bytes);
        return Err(raw_error(
            endpoint,
            format!("GET {path}: {status}: {}", text.trim()),
        ));
    }
    Ok(bytes)
}

async fn exchange<S>(
    stream: S,
    host: &str,
    path: &str,
) -> Result<(hyper::StatusCode, Bytes), hyper::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(conn);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, host)
        .body(Empty::<Bytes>::new())
        .expect("a GET with a valid path and host");
    let response = sender.send_request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    driver.abort();
    Ok((status, bytes))
}

/// Addresses by network id, without the prefix length.
pub(super) fn addresses(task: &Task) -> HashMap<&str, Vec<std::net::IpAddr>> {
    let mut out: HashMap<&str, Vec<std::net::IpAddr>> = HashMap::new();
    for a in &task.networks_attachments {
        let ips = a
            .addresses
            .iter()
            .filter_map(|cidr| cidr.split('/').next()?.parse::<std::net::IpAddr>().ok());
        out.entry(a.network.id.as_str()).or_default().extend(ips);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_fields_routing_needs() {
        let json = r#"[{"ID":"t1","ServiceID":"s1","Slot":2,"Status":{"State":"running"},
            "DesiredState":"running","NetworksAttachments":[{"Network":{"ID":"n1","Spec":{}},
            "Addresses":["10.0.1.5/24","fd00::5/64"]}],"Spec":{"ContainerSpec":{}}},
            {"ID":"t2","Status":{}}]"#;
        let tasks: Vec<Task> = serde_json::from_str(json).expect("decodes");
        assert_eq!(tasks[0].slot, Some(2));
        assert_eq!(tasks[0].status.state, "running");
        let a = addresses(&tasks[0]);
        assert_eq!(a["n1"].len(), 2);
        assert_eq!(a["n1"][0].to_string(), "10.0.1.5");
        assert!(tasks[1].networks_attachments.is_empty());
    }

    #[test]
    fn filters_are_url_encoded() {
        assert_eq!(
            url_encode(r#"{"a":["b"]}"#),
            "%7B%22a%22%3A%5B%22b%22%5D%7D"
        );
    }
}
