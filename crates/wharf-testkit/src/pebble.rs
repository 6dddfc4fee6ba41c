//! Pebble, Let's Encrypt's test ACME server (Debian's `pebble`, installed by
//! `scripts/test.sh`), on loopback with its mock DNS (`pebble-challtestsrv`) answering every
//! name with 127.0.0.1, so the proxy under test is what the CA validates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_until};

pub struct Pebble {
    /// The ACME directory URL.
    pub directory: String,
    /// The CA file to trust for the directory's HTTPS.
    pub ca: PathBuf,
    /// The management interface (issuing roots: `/roots/0`).
    pub management: SocketAddr,
    dir: tempfile::TempDir,
    children: Vec<Child>,
}

impl Pebble {
    /// Validates HTTP-01 on 127.0.0.1:`http_port` and TLS-ALPN-01 on 127.0.0.1:`tls_port`;
    /// issued certificates last `validity`.
    pub fn start(http_port: u16, tls_port: u16, validity: Duration) -> Pebble {
        Self::start_with(http_port, tls_port, validity, &[], 0)
    }

    /// As [`Pebble::start`], refusing to issue for `blocked` names (`rejectedIdentifier`).
    pub fn start_refusing(
        http_port: u16,
        tls_port: u16,
        validity: Duration,
        blocked: &[&str],
    ) -> Pebble {
        Self::start_with(http_port, tls_port, validity, blocked, 0)
    }

    /// As [`Pebble::start`], also offering `alternate_roots` alternate chains (each to a root
    /// of its own, `/roots/<n>` on the management interface).
    pub fn start_with(
        http_port: u16,
        tls_port: u16,
        validity: Duration,
        blocked: &[&str],
        alternate_roots: u32,
    ) -> Pebble {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca, cert, key) = crate::pki::ca_signed(&["localhost"]);
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, ca).expect("write");
        std::fs::write(dir.path().join("cert.pem"), cert).expect("write");
        std::fs::write(dir.path().join("key.pem"), key).expect("write");
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let management = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let dns = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let config = serde_json::json!({"pebble": {
            "listenAddress": listen.to_string(),
            "managementListenAddress": management.to_string(),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "certificateValidityPeriod": validity.as_secs(),
            "domainBlocklist": blocked,
        }});
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).expect("write");
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log file");
        let challtest = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &dns.to_string()])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args([
                "-management",
                &SocketAddr::from(([127, 0, 0, 1], free_port())).to_string(),
            ])
            .stdout(Stdio::from(log("challtestsrv.log")))
            .stderr(Stdio::from(log("challtestsrv.err")))
            .spawn()
            .expect("pebble-challtestsrv (scripts/test.sh installs Debian's pebble)");
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &dns.to_string()])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .env("PEBBLE_ALTERNATE_ROOTS", alternate_roots.to_string())
            .stdout(Stdio::from(log("pebble.log")))
            .stderr(Stdio::from(log("pebble.err")))
            .spawn()
            .expect("pebble (scripts/test.sh installs Debian's pebble)");
        let p = Pebble {
            directory: format!("https://localhost:{}/dir", listen.port()),
            ca: ca_path,
            management,
            dir,
            children: vec![challtest, pebble],
        };
        // Both listeners: the ACME directory, and the management interface tests read roots
        // from (Pebble opens it after the directory).
        let up = wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(listen).is_ok()
                && std::net::TcpStream::connect(management).is_ok()
        });
        assert!(up, "pebble did not start:\n{}", p.log());
        p
    }

    pub fn log(&self) -> String {
        ["pebble.log", "pebble.err", "challtestsrv.err"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ignored = child.kill();
            let _ignored = child.wait();
        }
    }
}
