//! Opens `count` keep-alive HTTP/1.1 connections to `addr`, has each serve one `GET /` with
//! `Host: host` (batches of 250 in flight), then keeps them all open and idle. Prints
//! `ready <count>` and waits for a line on standard input; then closes them all and prints
//! `closed`. The caller samples the proxy's memory at each step.
//!
//!   idle_conns <addr> <host> <count>

use std::io::{BufRead, Write};
use std::net::TcpStream;
use std::time::Duration;

use wharf_benches::http1::read_response;

const BATCH: usize = 250;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: idle_conns <addr> <host> <count>");
        std::process::exit(2);
    }
    let (addr, host) = (&args[1], &args[2]);
    let count: usize = args[3].parse().expect("count");
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let mut open = Vec::with_capacity(count);
    while open.len() < count {
        let batch = BATCH.min(count - open.len());
        let mut fresh = Vec::with_capacity(batch);
        for _ in 0..batch {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(30))).ok();
            s.write_all(request.as_bytes()).expect("send request");
            fresh.push(s);
        }
        for mut s in fresh {
            assert_eq!(read_response(&mut s), 200, "a route answering 200");
            open.push(s);
        }
    }
    println!("ready {}", open.len());
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok();
    drop(open);
    println!("closed");
}
