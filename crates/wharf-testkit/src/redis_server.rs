//! A real Redis (Debian's `redis-server`, installed by `scripts/test.sh`) on a loopback port,
//! without persistence, killed when dropped; it can be killed and started again on the same
//! port to test reconnection.

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_until};

pub struct RedisServer {
    pub addr: SocketAddr,
    /// The CA (PEM file) of a TLS-only server's certificate (None: plain TCP).
    pub tls_ca: Option<std::path::PathBuf>,
    extra: Vec<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// A Redis with its defaults (keyspace notifications off, as shipped).
    pub fn start() -> RedisServer {
        Self::start_with(&[])
    }

    /// With extra `redis-server` arguments (`--rename-command CONFIG ""` ...).
    pub fn start_with(extra: &[&str]) -> RedisServer {
        let mut server = RedisServer {
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            tls_ca: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
        };
        server.restart();
        server
    }

    /// TLS only, with a certificate for 127.0.0.1 from a test CA ([`RedisServer::tls_ca`]);
    /// clients need no certificate.
    pub fn start_tls() -> RedisServer {
        let mut server = RedisServer {
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            tls_ca: None,
            extra: Vec::new(),
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
        };
        let (ca, cert, key) = crate::pki::ca_signed(&["127.0.0.1", "localhost"]);
        let file = |name: &str, pem: &str| {
            let path = server.dir.path().join(name);
            std::fs::write(&path, pem).expect("write a TLS file");
            path.display().to_string()
        };
        let (ca, cert, key) = (
            file("ca.pem", &ca),
            file("cert.pem", &cert),
            file("key.pem", &key),
        );
        server.extra = vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            server.addr.port().to_string(),
            "--tls-cert-file".into(),
            cert,
            "--tls-key-file".into(),
            key,
            "--tls-ca-cert-file".into(),
            ca.clone(),
            "--tls-auth-clients".into(),
            "no".into(),
        ];
        server.tls_ca = Some(ca.into());
        server.restart();
        server
    }

    /// `host:port`, as providers take it.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Starts it again (empty: nothing is persisted) after [`RedisServer::kill`].
    pub fn restart(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("redis.log")).expect("log file");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.addr.port().to_string())
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("redis-server (bash .ci/run installs Debian's redis-server)");
        self.child = Some(child);
        let addr = self.addr;
        assert!(
            wait_until(Duration::from_secs(10), || {
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            }),
            "redis-server did not listen on {addr}: {}",
            self.log()
        );
    }

    /// SIGKILL, and waits for the exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ignored = child.kill();
            let _ignored = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    /// A synchronous connection for the test's own reads and writes.
    pub fn connection(&self) -> redis::Connection {
        let url = match &self.tls_ca {
            None => format!("redis://{}/", self.addr),
            Some(_) => {
                // The TLS client takes the process's crypto provider.
                let _already = rustls::crypto::ring::default_provider().install_default();
                format!("rediss://{}/#insecure", self.addr)
            }
        };
        redis::Client::open(url)
            .and_then(|c| c.get_connection())
            .expect("connect to the test's redis")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Sentinel on a loopback port, watching `master_name` at a [`RedisServer`] (a
/// quorum of one; a primary is down after 1 s of silence), killed when dropped.
pub struct Sentinel {
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
    child: Child,
}

impl Sentinel {
    pub fn start(master_name: &str, primary: &RedisServer) -> Sentinel {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        // Sentinel rewrites its configuration file: it must be writable.
        let config = dir.path().join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {}\nbind 127.0.0.1\ndir {}\nsentinel monitor {master_name} 127.0.0.1 {} 1\nsentinel down-after-milliseconds {master_name} 1000\nsentinel failover-timeout {master_name} 5000\n",
                addr.port(),
                dir.path().display(),
                primary.addr.port()
            ),
        )
        .expect("write sentinel.conf");
        let log = std::fs::File::create(dir.path().join("sentinel.log")).expect("log file");
        let child = Command::new("redis-server")
            .arg(&config)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("redis-server --sentinel");
        assert!(
            wait_until(Duration::from_secs(10), || {
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            }),
            "sentinel did not listen on {addr}"
        );
        Sentinel {
            addr,
            _dir: dir,
            child,
        }
    }

    /// A connection to the Sentinel itself (`SENTINEL ...` commands).
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(format!("redis://{}/", self.addr))
            .and_then(|c| c.get_connection())
            .expect("connect to the sentinel")
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ignored = self.child.kill();
        let _ignored = self.child.wait();
    }
}
