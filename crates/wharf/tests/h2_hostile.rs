//! Hostile HTTP/2 clients, with raw frames (h2c prior knowledge; the HTTP/2 server behind TLS
//! is the same): a rapid-reset flood (CVE-2023-44487) and a CONTINUATION flood
//! (CVE-2024-27316 family) each end their own connection, never reach the backend as a storm,
//! and leave wharf serving everyone else. The limits advertised in SETTINGS are Traefik's
//! (`http2.maxConcurrentStreams`, 250 by default) and the entrypoint's header limit.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::start;
use wharf_testkit::{raw, EchoServer};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// GET https://a.test/ in HPACK: indexed :method GET, :scheme https, :path /, and a literal
/// :authority.
fn get_headers() -> Vec<u8> {
    let mut block = vec![0x82, 0x87, 0x84, 0x41, 6];
    block.extend_from_slice(b"a.test");
    block
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    GoAway,
    Closed,
    /// The server kept the connection open and silent.
    TimedOut,
}

/// Reads frames until the server sends GOAWAY or closes; returns how it ended and the
/// SETTINGS it advertised.
fn read_until_goaway(stream: &mut TcpStream) -> (End, Vec<(u16, u32)>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let mut settings = Vec::new();
    loop {
        // Parse whole frames in the buffer.
        while buf.len() >= 9 {
            let len =
                (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            let kind = buf[3];
            let flags = buf[4];
            let payload = buf[9..9 + len].to_vec();
            buf.drain(..9 + len);
            if kind == 4 && flags & 1 == 0 {
                for s in payload.chunks(6) {
                    if s.len() == 6 {
                        settings.push((
                            u16::from_be_bytes([s[0], s[1]]),
                            u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
                        ));
                    }
                }
            }
            if kind == 7 {
                return (End::GoAway, settings);
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => return (End::Closed, settings),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (End::TimedOut, settings)
            }
            Err(_) => return (End::Closed, settings),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn connect(web: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(web).unwrap();
    s.write_all(PREFACE).unwrap();
    s.write_all(&frame(4, 0, 0, &[])).unwrap();
    s
}

fn routes(backend: &EchoServer) -> String {
    format!(
        "http:\n  routers:\n    a: {{rule: \"Host(`a.test`)\", service: s}}\n  services:\n    s: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n",
        backend.url()
    )
}

#[test]
fn a_rapid_reset_flood_ends_its_connection_only() {
    let backend = EchoServer::start("s");
    let s = start(&routes(&backend), &[]);
    let mut attacker = connect(s.web);
    let mut flood = Vec::new();
    for i in 0..5_000u32 {
        let id = 1 + 2 * i;
        flood.extend(frame(1, 0x5, id, &get_headers()));
        flood.extend(frame(3, 0, id, &8u32.to_be_bytes()));
    }
    // The server may close while we write: that is the defence working.
    let _ignored = attacker.write_all(&flood);
    let (end, settings) = read_until_goaway(&mut attacker);
    assert_eq!(end, End::GoAway, "the flood was never answered with GOAWAY");
    assert!(
        settings.contains(&(3, 250)),
        "SETTINGS_MAX_CONCURRENT_STREAMS is Traefik's 250: {settings:?}"
    );
    assert!(
        backend.count() < 5_000,
        "every reset stream reached the backend ({})",
        backend.count()
    );
    let ok = raw::get(s.web, "a.test", "/after", &[]).unwrap();
    assert_eq!(ok.status, 200, "wharf still serves others");
}

#[test]
fn a_continuation_flood_ends_its_connection_only() {
    let backend = EchoServer::start("s");
    let s = start(&routes(&backend), &[]);
    let mut attacker = connect(s.web);
    // HEADERS without END_HEADERS, then CONTINUATION frames far past any header limit.
    let mut flood = frame(1, 0x1, 1, &get_headers());
    let junk = {
        // A literal header field without indexing, new name: x / 16 KiB of 'a', repeated.
        let mut f = vec![0x00, 0x01, b'x', 0x7f];
        let mut n = 16_000 - 127;
        while n >= 128 {
            f.push(0x80 | (n % 128) as u8);
            n /= 128;
        }
        f.push(n as u8);
        f.extend(std::iter::repeat_n(b'a', 16_000));
        f
    };
    for _ in 0..400 {
        flood.extend(frame(9, 0, 1, &junk));
    }
    let _ignored = attacker.write_all(&flood);
    let (end, _) = read_until_goaway(&mut attacker);
    // A GOAWAY or a closed connection; never a request built from 6 MB of headers.
    assert_ne!(end, End::TimedOut, "the connection was kept open");
    assert_eq!(backend.count(), 0, "the flood reached the backend");
    let ok = raw::get(s.web, "a.test", "/after", &[]).unwrap();
    assert_eq!(ok.status, 200, "wharf still serves others");
}
