//! Sends `count` `GET <path>` requests with `Host: host`, one after another on one keep-alive
//! connection, and checks each answer is a 200: a fixed, repeatable load (for instruction
//! counts under callgrind).
//!
//!   requests <addr> <host> <count> [path=/]

use std::io::Write;
use std::net::TcpStream;

use wharf_benches::http1::read_response;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: requests <addr> <host> <count> [path]");
        std::process::exit(2);
    }
    let count: usize = args[3].parse().expect("count");
    let path = args.get(4).map_or("/", String::as_str);
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: wharf-bench\r\nAccept: */*\r\n\r\n",
        args[2]
    );
    let mut s = TcpStream::connect(&args[1]).expect("connect");
    s.set_nodelay(true).ok();
    for _ in 0..count {
        s.write_all(request.as_bytes()).expect("send request");
        assert_eq!(read_response(&mut s), 200, "a route answering 200");
    }
    println!("{count}");
}
