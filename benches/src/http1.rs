//! The few HTTP/1.1 client steps the load tools need: blocking, one response at a time.

use std::io::Read;
use std::net::TcpStream;

/// Reads one response with a Content-Length body and returns its status; panics on anything
/// else (a bench's precondition, not a test).
pub fn read_response(s: &mut TcpStream) -> u16 {
    let mut head = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("response head");
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = text
        .strip_prefix("http/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 response: {text}"));
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().expect("content-length"))
        .expect("a Content-Length answer");
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).expect("response body");
    status
}
