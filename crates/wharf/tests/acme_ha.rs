//! ACME shared through Redis (`storage: redis://...`) by two wharf instances, against Pebble
//! and a real Redis: only the instance holding the lease orders; the CA's validation reaches
//! the other one (as a load balancer may send it there), which answers the challenge from
//! Redis; both serve the stored certificate; and when the leader dies, the other takes the
//! lease and renews.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use redis::Commands;
use wharf_testkit::pebble::Pebble;
use wharf_testkit::redis_server::RedisServer;
use wharf_testkit::tcp_relay::TcpRelay;
use wharf_testkit::tls_client::TlsClient;
use wharf_testkit::{free_port, wait_until, EchoServer, WharfProcess};

const WAIT: Duration = Duration::from_secs(90);
const LEADS: &str = "ACME: this instance now orders and renews the shared certificates";

struct Ports {
    web: SocketAddr,
    websecure: SocketAddr,
}

fn ports() -> Ports {
    let at = |p| SocketAddr::from(([127, 0, 0, 1], p));
    Ports {
        web: at(free_port()),
        websecure: at(free_port()),
    }
}

fn static_config(
    dir: &Path,
    name: &str,
    ports: &Ports,
    pebble: &Pebble,
    redis: &RedisServer,
) -> PathBuf {
    let path = dir.join(format!("{name}.yml"));
    std::fs::write(
        &path,
        format!(
            "entryPoints:\n  web: {{address: \"{}\"}}\n  websecure: {{address: \"{}\"}}\nproviders:\n  file: {{filename: {}}}\ncertificatesResolvers:\n  le:\n    acme:\n      email: ops@example.com\n      caServer: {}\n      storage: redis://{}/0\n      caCertificates: [{}]\n      keyType: EC256\n      httpChallenge: {{entryPoint: web}}\nlog: {{level: DEBUG}}\n",
            ports.web,
            ports.websecure,
            dir.join("dynamic.yml").display(),
            pebble.directory,
            redis.endpoint(),
            pebble.ca.display()
        ),
    )
    .expect("write the static file");
    path
}

fn dynamic(dir: &Path, backend: &EchoServer, tls: bool) {
    let router = if tls {
        "    shop: {rule: \"Host(`shop.ha.test`)\", service: svc, tls: {certResolver: le}}\n"
    } else {
        "    shop: {rule: \"Host(`shop.ha.test`)\", service: svc}\n"
    };
    std::fs::write(
        dir.join("dynamic.yml"),
        format!(
            "http:\n  routers:\n{router}  services:\n    svc: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n",
            backend.url()
        ),
    )
    .expect("write the dynamic file");
}

fn start(dir: &Path, config: &Path, ports: &Ports) -> WharfProcess {
    WharfProcess::start_in(
        tempfile::tempdir_in(dir).expect("tempdir"),
        &common::wharf_bin(),
        &[format!("--configFile={}", config.display())],
        &[],
        &[ports.web, ports.websecure],
    )
}

/// The certificate (DER) served for `shop.ha.test`, if Pebble issued it.
fn served(websecure: SocketAddr) -> Option<Vec<u8>> {
    let (served, _) = TlsClient::new(Some("shop.ha.test"))
        .connect(websecure)
        .ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&served.certificate).ok()?;
    cert.issuer()
        .to_string()
        .contains("Pebble")
        .then(|| served.certificate.clone())
}

#[test]
fn one_instance_orders_the_other_answers_and_takes_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let redis = RedisServer::start();
    let backend = EchoServer::start("svc");
    let (first, second) = (ports(), ports());
    // The CA validates HTTP-01 through a relay to the instance that does not lead.
    let relay = TcpRelay::start(second.web);
    let pebble = Pebble::start(
        relay.addr.port(),
        first.websecure.port(),
        Duration::from_secs(30),
    );
    dynamic(dir.path(), &backend, false);
    let leader_config = static_config(dir.path(), "first", &first, &pebble, &redis);
    let follower_config = static_config(dir.path(), "second", &second, &pebble, &redis);
    let leader = start(dir.path(), &leader_config, &first);
    assert!(leader.wait_for_log(LEADS, WAIT), "{}", leader.log());
    let follower = start(dir.path(), &follower_config, &second);
    let mut conn = redis.connection();
    assert!(
        wait_until(WAIT, || conn
            .zcard::<_, usize>("wharf/acme.json:members")
            .unwrap_or(0)
            == 2),
        "the second instance never beat:\n{}",
        follower.log()
    );

    // A router needs a certificate: one order, validated through the other instance.
    dynamic(dir.path(), &backend, true);
    let issued = wait_until(WAIT, || {
        served(first.websecure).is_some() && served(second.websecure) == served(first.websecure)
    });
    assert!(
        issued,
        "not served by both:\nleader:\n{}\nfollower:\n{}\npebble:\n{}",
        leader.log(),
        follower.log(),
        pebble.log()
    );
    let certificate = served(first.websecure).expect("served");
    assert!(relay.accepted() > 0, "the CA reached the follower");
    assert!(leader.log().contains("ACME: obtaining a certificate"));
    assert!(
        !follower.log().contains("ACME: obtaining"),
        "only the leader orders:\n{}",
        follower.log()
    );
    let stored: String = conn.get("wharf/acme.json").expect("GET");
    let document: serde_json::Value = serde_json::from_str(&stored).expect("JSON");
    assert_eq!(
        document["le"]["Certificates"][0]["domain"]["main"],
        "shop.ha.test"
    );
    assert!(document["le"]["WharfAccount"]["Credentials"].is_object());

    // The leader dies: the other takes the lease and renews before expiry.
    drop(leader);
    assert!(follower.wait_for_log(LEADS, WAIT), "{}", follower.log());
    let renewed = wait_until(WAIT, || {
        served(second.websecure).is_some_and(|c| c != certificate)
    });
    assert!(
        renewed,
        "never renewed by the new leader:\n{}\n{}",
        follower.log(),
        pebble.log()
    );
    assert!(follower.log().contains("ACME: renewing a certificate"));
}
