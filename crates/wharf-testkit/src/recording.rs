//! [`RecordingBackend`]: a raw HTTP/1.1 backend that keeps every byte it receives, per
//! connection, and answers each request it can frame with `200` and the request line as body,
//! keeping the connection open. Its framing is the naive one a smuggling victim uses
//! (Content-Length as the first number it sees, else chunked, else no body), so a request
//! that sneaks past a proxy shows up as a request line of its own.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct Log {
    /// Raw bytes received, one entry per connection.
    connections: Vec<Vec<u8>>,
    /// Request lines seen, in order.
    requests: Vec<String>,
}

pub struct RecordingBackend {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
}

impl RecordingBackend {
    /// Answers each request with `200` and its request line.
    pub fn start() -> RecordingBackend {
        Self::start_with(None)
    }

    /// Answers each request with exactly `answer` (a malformed response, say), and keeps the
    /// connection open.
    pub fn answering(answer: &[u8]) -> RecordingBackend {
        Self::start_with(Some(Arc::from(answer)))
    }

    fn start_with(answer: Option<Arc<[u8]>>) -> RecordingBackend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind recording backend");
        let addr = listener.local_addr().expect("addr");
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = shared.clone();
                let answer = answer.clone();
                std::thread::spawn(move || serve(stream, &log, answer.as_deref()));
            }
        });
        RecordingBackend { addr, log }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.lock().connections.len()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request lines seen so far.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// A point in the recording, for [`Self::received_since`].
    pub fn mark(&self) -> Vec<usize> {
        self.lock().connections.iter().map(Vec::len).collect()
    }

    /// The bytes received since `mark`, connections concatenated.
    pub fn received_since(&self, mark: &[usize]) -> Vec<u8> {
        let log = self.lock();
        let mut out = Vec::new();
        for (i, bytes) in log.connections.iter().enumerate() {
            let from = mark.get(i).copied().unwrap_or(0).min(bytes.len());
            out.extend_from_slice(&bytes[from..]);
        }
        out
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        lock(&self.log)
    }
}

fn lock(log: &Mutex<Log>) -> MutexGuard<'_, Log> {
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn serve(mut stream: TcpStream, log: &Mutex<Log>, answer: Option<&[u8]>) {
    let index = {
        let mut l = lock(log);
        l.connections.push(Vec::new());
        l.connections.len() - 1
    };
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..n]);
        lock(log).connections[index].extend_from_slice(&chunk[..n]);
        while let Some((line, used)) = next_request(&pending) {
            pending.drain(..used);
            lock(log).requests.push(line.clone());
            let written = match answer {
                Some(bytes) => stream.write_all(bytes),
                None => stream.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{line}",
                        line.len()
                    )
                    .as_bytes(),
                ),
            };
            if written.is_err() {
                return;
            }
        }
    }
}

/// One complete request at the start of `buf`: its request line and length.
fn next_request(buf: &[u8]) -> Option<(String, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let line = head.lines().next().unwrap_or_default().to_string();
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    if let Some(len) = header("content-length") {
        let digits: String = len.chars().take_while(char::is_ascii_digit).collect();
        let len: usize = digits.parse().unwrap_or(0);
        return (buf.len() >= end + len).then(|| (line, end + len));
    }
    if header("transfer-encoding").is_some() {
        let mut at = end;
        loop {
            let rel = buf[at..].windows(2).position(|w| w == b"\r\n")?;
            let size_line = String::from_utf8_lossy(&buf[at..at + rel]).into_owned();
            let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
            at += rel + 2;
            if size == 0 {
                let rest = buf[at..].windows(2).position(|w| w == b"\r\n")?;
                return Some((line, at + rest + 2));
            }
            at += size + 2;
            if at > buf.len() {
                return None;
            }
        }
    }
    Some((line, end))
}
