//! Strict HTTP/1 request framing (RFC 9112), the checks wharf's edge applies before pingora's
//! lenient parser sees a byte: [`HeadScanner`] reads a request head line by line (request
//! line, field syntax, Host and framing rules, limits), [`ChunkedBody`] checks a chunked body
//! as it streams, and a [`Rejection`] is answered as Go's server (Traefik) answers. No I/O:
//! the connection wrapper lives in wharf-proxy; fuzzed through [`fuzz_logic`].

mod chunked;
pub mod fuzz_logic;
mod head;

pub use chunked::ChunkedBody;
pub use head::{BodyFraming, Head, HeadLimits, HeadScanner};

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

    pub fn timeout() -> Self {
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
