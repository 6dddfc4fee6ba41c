//! Sequential TLS 1.3 connections against `host:port`, each a handshake (full, or resumed
//! with the server's last ticket, as a browser does) and one `GET /` with `Connection: close`
//! (servers send their tickets at different moments; a request makes them all arrive), for
//! `seconds`; prints connections per second, connections, resumed ones. `parallel` clients
//! (threads) at a time load a server's CPU with handshakes.
//! `openssl s_time` cannot resume TLS 1.3 sessions, hence this.
//!
//!   tls_handshakes <addr> <seconds> <full|resumed> [sni] [parallel=1]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::ClientConnection;
use wharf_testkit::tls_client::TlsClient;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: tls_handshakes <addr> <seconds> <full|resumed> [sni] [parallel=1]");
        std::process::exit(2);
    }
    let addr = &args[1];
    let seconds: u64 = args[2].parse().expect("seconds");
    let resumed = args[3] == "resumed";
    let sni = args.get(4).cloned().unwrap_or_else(|| "bench.local".into());
    let parallel: usize = args.get(5).map_or(1, |p| p.parse().expect("parallel"));
    // Any server certificate is accepted: this measures the handshake, not the web PKI.
    let mut config = (*TlsClient::new(Some(&sni)).tls13_only().config()).clone();
    if !resumed {
        config.resumption = rustls::client::Resumption::disabled();
    }
    let config = Arc::new(config);
    let name = ServerName::try_from(sni).expect("server name");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let clients: Vec<_> = (0..parallel)
        .map(|_| {
            let (addr, config, name) = (addr.clone(), config.clone(), name.clone());
            std::thread::spawn(move || connections(&addr, &config, &name, deadline))
        })
        .collect();
    let (mut count, mut resumptions) = (0u64, 0u64);
    for client in clients {
        let (c, r) = client.join().expect("client");
        count += c;
        resumptions += r;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    println!("{rate:.0} {count} {resumptions}");
}

/// Connections one after another until `deadline`: how many, and how many resumed.
fn connections(
    addr: &str,
    config: &Arc<rustls::ClientConfig>,
    name: &ServerName<'static>,
    deadline: Instant,
) -> (u64, u64) {
    let (mut count, mut resumptions) = (0u64, 0u64);
    while Instant::now() < deadline {
        let mut conn = ClientConnection::new(config.clone(), name.clone()).expect("connection");
        let mut sock = TcpStream::connect(addr).expect("connect");
        sock.set_nodelay(true).ok();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).expect("handshake");
        }
        if conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
            resumptions += 1;
        }
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        tls.write_all(b"GET / HTTP/1.1\r\nHost: bench.local\r\nConnection: close\r\n\r\n")
            .expect("request");
        let mut response = Vec::new();
        // The server closes after its answer (a missing close_notify is not an error here).
        let _ignored = tls.read_to_end(&mut response);
        count += 1;
    }
    (count, resumptions)
}
