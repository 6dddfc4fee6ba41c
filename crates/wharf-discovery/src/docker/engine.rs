//! The connection to a Docker engine, shared by the Docker and Swarm providers: endpoint
//! parsing, API version negotiation, and a deadline on every call.

use std::time::Duration;

use bollard::{Docker, API_DEFAULT_VERSION};

use crate::LoadError;

/// Per-request deadline for list and inspect calls (event streams have none).
pub(super) const CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot connect to the Docker engine at {endpoint}: {source}")]
    Connect {
        endpoint: String,
        source: bollard::errors::Error,
    },
    #[error("Docker engine at {endpoint}: {source}")]
    Api {
        endpoint: String,
        source: bollard::errors::Error,
    },
    #[error("Docker engine at {endpoint} did not answer within {CALL_TIMEOUT:?}")]
    Timeout { endpoint: String },
    #[error("unsupported Docker endpoint `{0}` (use unix://, tcp:// or http://)")]
    Endpoint(String),
    #[error(transparent)]
    Decode(#[from] LoadError),
}

/// One engine endpoint (`unix://`, `tcp://` or `http://`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Engine<'a> {
    pub endpoint: &'a str,
}

impl Engine<'_> {
    /// A new client (its own connections) with the API version negotiated.
    pub async fn connect(&self) -> Result<Docker, DockerError> {
        let ep = self.endpoint;
        let connect_err = |source| DockerError::Connect {
            endpoint: ep.to_string(),
            source,
        };
        let timeout = CALL_TIMEOUT.as_secs();
        let docker = if ep.starts_with("unix://") || ep.starts_with('/') {
            Docker::connect_with_unix(ep, timeout, API_DEFAULT_VERSION).map_err(connect_err)?
        } else if let Some(rest) = ep.strip_prefix("tcp://") {
            Docker::connect_with_http(&format!("http://{rest}"), timeout, API_DEFAULT_VERSION)
                .map_err(connect_err)?
        } else if ep.starts_with("http://") {
            Docker::connect_with_http(ep, timeout, API_DEFAULT_VERSION).map_err(connect_err)?
        } else {
            return Err(DockerError::Endpoint(ep.to_string()));
        };
        self.call(docker.negotiate_version()).await
    }

    /// One API call with [`CALL_TIMEOUT`].
    pub async fn call<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, DockerError> {
        match tokio::time::timeout(CALL_TIMEOUT, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(source)) => Err(self.api_error(source)),
            Err(_) => Err(DockerError::Timeout {
                endpoint: self.endpoint.to_string(),
            }),
        }
    }

    pub fn api_error(&self, source: bollard::errors::Error) -> DockerError {
        DockerError::Api {
            endpoint: self.endpoint.to_string(),
            source,
        }
    }

    /// The error for an event stream that ended.
    pub fn stream_ended(&self) -> DockerError {
        self.api_error(bollard::errors::Error::IOError {
            err: std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "event stream ended"),
        })
    }
}
