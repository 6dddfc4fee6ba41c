//! A byte-exact HTTP/1.x client: what you write is what is sent.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub version: u8,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends `request` as-is on a new connection and reads one response (the server may close).
pub fn send(addr: SocketAddr, request: &[u8]) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request)?;
    read_response(&mut stream, request.starts_with(b"HEAD "))
}

/// Reads one response from a stream (Content-Length, chunked, or until close).
pub fn read_response(stream: &mut impl Read, head_only: bool) -> std::io::Result<Response> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(len)) = resp.parse(&buf) {
            let status = resp.code.unwrap_or(0);
            let version = resp.version.unwrap_or(1);
            let headers: Vec<(String, String)> = resp
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let mut out = Response {
                status,
                version,
                headers,
                body: Vec::new(),
            };
            let mut rest = buf[len..].to_vec();
            if head_only || status == 101 || status == 204 || status == 304 {
                out.body = rest;
                return Ok(out);
            }
            if let Some(cl) = out
                .header("content-length")
                .and_then(|v| v.trim().parse::<usize>().ok())
            {
                while rest.len() < cl {
                    let n = stream.read(&mut chunk)?;
                    if n == 0 {
                        break;
                    }
                    rest.extend_from_slice(&chunk[..n]);
                }
                rest.truncate(cl);
                out.body = rest;
            } else if out
                .header("transfer-encoding")
                .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
            {
                out.body = read_chunked(stream, rest)?;
            } else {
                loop {
                    let n = stream.read(&mut chunk)?;
                    if n == 0 {
                        break;
                    }
                    rest.extend_from_slice(&chunk[..n]);
                }
                out.body = rest;
            }
            return Ok(out);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("connection closed after {} bytes", buf.len()),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn read_chunked(stream: &mut impl Read, mut data: Vec<u8>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
            let size_line = String::from_utf8_lossy(&data[..pos]).to_string();
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if data.len() >= pos + 2 + size + 2 {
                if size == 0 {
                    return Ok(body);
                }
                body.extend_from_slice(&data[pos + 2..pos + 2 + size]);
                data.drain(..pos + 2 + size + 2);
                continue;
            }
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(body);
        }
        data.extend_from_slice(&chunk[..n]);
    }
}

/// `GET path` with a Host header (and extra header lines), connection closed after.
pub fn get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> std::io::Result<Response> {
    request(addr, "GET", host, path, extra)
}

pub fn request(
    addr: SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> std::io::Result<Response> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    send(addr, req.as_bytes())
}

/// One keep-alive connection: requests go one after the other on it.
pub struct KeepAlive {
    stream: TcpStream,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> std::io::Result<KeepAlive> {
        Self::from_stream(TcpStream::connect(addr)?)
    }

    /// Connects from `source` (another loopback address, say), so the proxy sees that
    /// client IP.
    pub fn connect_from(source: std::net::IpAddr, addr: SocketAddr) -> std::io::Result<KeepAlive> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let stream = runtime.block_on(async {
            let socket = match addr {
                SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
            };
            socket.bind(SocketAddr::new(source, 0))?;
            socket.connect(addr).await
        })?;
        let stream = stream.into_std()?;
        stream.set_nonblocking(false)?;
        Self::from_stream(stream)
    }

    fn from_stream(stream: TcpStream) -> std::io::Result<KeepAlive> {
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(KeepAlive { stream })
    }

    /// `method path` with a Host header and extra header lines (a body only with a
    /// Content-Length among them, written after the head).
    pub fn request(
        &mut self,
        method: &str,
        host: &str,
        path: &str,
        extra: &[(&str, &str)],
    ) -> std::io::Result<Response> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.stream.write_all(req.as_bytes())?;
        read_response(&mut self.stream, method == "HEAD")
    }

    pub fn get(&mut self, host: &str, path: &str) -> std::io::Result<Response> {
        self.request("GET", host, path, &[])
    }
}
