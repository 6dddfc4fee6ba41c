//! The edge: what stands between a client's bytes and pingora's HTTP/1 parser, which is lenient
//! where Traefik (Go) is strict. Request heads and body framing are checked here, strictly
//! (RFC 9112), under `readTimeout` for the whole request; what is refused is answered here and
//! never reaches pingora nor a backend.
//!
//! - `head`: the request line and header fields, the Host and framing rules;
//! - `chunked`: chunked bodies;
//! - `stream`: [`EdgeStream`], the connection wrapper that applies them, holds pipelined
//!   requests until their turn and passes HTTP/2 and accepted upgrades through;
//! - `app`: [`EdgeApp`], the pingora application that wraps each accepted connection.

mod app;
mod chunked;
mod head;
mod stream;

pub use app::EdgeApp;
pub use head::HeadLimits;
pub use stream::{EdgeLimits, EdgeStream};

/// A request wharf refuses, answered as Go's server answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    /// Go's detail, appended to the status text.
    pub reason: Option<&'static str>,
}

impl Rejection {
    pub(crate) fn bad_request(reason: &'static str) -> Self {
        Rejection {
            status: 400,
            reason: Some(reason),
        }
    }

    pub(crate) fn header_too_large() -> Self {
        Rejection {
            status: 431,
            reason: None,
        }
    }

    pub(crate) fn uri_too_long() -> Self {
        Rejection {
            status: 414,
            reason: None,
        }
    }

    pub(crate) fn version_not_supported() -> Self {
        Rejection {
            status: 505,
            reason: Some("unsupported protocol version"),
        }
    }

    pub(crate) fn unsupported_transfer_encoding() -> Self {
        Rejection {
            status: 501,
            reason: Some("unsupported transfer encoding"),
        }
    }

    pub(crate) fn timeout() -> Self {
        Rejection {
            status: 408,
            reason: None,
        }
    }

    /// The complete answer: Go's form (the detail in the status line and the body, no
    /// Content-Length, the connection closed after it).
    pub fn response(&self) -> Vec<u8> {
        let text = match self.status {
            400 => "Bad Request",
            408 => "Request Timeout",
            414 => "URI Too Long",
            431 => "Request Header Fields Too Large",
            501 => "Not Implemented",
            505 => "HTTP Version Not Supported",
            _ => "Error",
        };
        let public = match self.reason {
            Some(reason) => format!("{} {text}: {reason}", self.status),
            None => format!("{} {text}", self.status),
        };
        format!(
            "HTTP/1.1 {public}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{public}"
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests;
