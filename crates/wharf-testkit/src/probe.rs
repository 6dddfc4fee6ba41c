//! The health probe of the test images' programs (`wharf-echo`, `wharf-standin`): those images
//! have no shell or curl, so the program itself answers Docker's healthcheck.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);

/// The program's arguments as Docker gives them: a program installed as `/bin/sh` too is run as
/// `/bin/sh -c "<program> probe URL"` by a shell-form healthcheck; that command's words after
/// the program name are returned, other arguments as they are.
pub fn arguments() -> Vec<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("-c") {
        return args
            .get(1)
            .map(|cmd| cmd.split_whitespace().skip(1).map(str::to_string).collect())
            .unwrap_or_default();
    }
    args
}

/// `GET url` (plain `http://host:port/path`): exit status 0 if it answers 200 within 2 s, else 1.
pub fn http_probe(url: &str) -> i32 {
    let rest = url.trim_start_matches("http://");
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let Some(addr) = authority.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        return 1;
    };
    let Ok(mut s) = TcpStream::connect_timeout(&addr, TIMEOUT) else {
        return 1;
    };
    let _timeout = s.set_read_timeout(Some(TIMEOUT));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return 1;
    }
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(n) if buf[..n].starts_with(b"HTTP/1.1 200") => 0,
        _ => 1,
    }
}
