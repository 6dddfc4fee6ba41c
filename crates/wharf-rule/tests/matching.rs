//! Table-driven matching tests, from the verified cases in the compat reference (§3.1, §9 V21).

use std::collections::HashMap;
use std::net::IpAddr;

use wharf_rule::{
    normalize_request_host, parse, routing_path, sanitize_path, HeaderLookup, RequestView,
};

struct Headers(HashMap<String, Vec<String>>);

impl HeaderLookup for Headers {
    fn any_value(&self, name: &str, pred: &mut dyn FnMut(&str) -> bool) -> bool {
        self.0
            .get(name)
            .is_some_and(|vals| vals.iter().any(|v| pred(v)))
    }
}

struct Req {
    host: &'static str,
    target: &'static str,
    method: &'static str,
    headers: &'static [(&'static str, &'static str)],
    ip: &'static str,
}

const fn req(host: &'static str, target: &'static str) -> Req {
    Req {
        host,
        target,
        method: "GET",
        headers: &[],
        ip: "127.0.0.1",
    }
}

fn matches(rule: &str, r: &Req) -> bool {
    let compiled = parse(rule)
        .unwrap_or_else(|e| panic!("{rule}: {e}"))
        .compile();
    let (raw_path, query) = match r.target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (r.target, None),
    };
    let sanitized = sanitize_path(raw_path);
    let path = routing_path(&sanitized).expect("valid path");
    let host = normalize_request_host(r.host);
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in r.headers {
        map.entry(k.to_ascii_lowercase())
            .or_default()
            .push(v.to_string());
    }
    let headers = Headers(map);
    let view = RequestView {
        host: &host,
        path: &path,
        method: r.method,
        query,
        headers: &headers,
        client_ip: Some(r.ip.parse::<IpAddr>().unwrap()),
    };
    compiled.matches(&view)
}

#[test]
fn host_matching() {
    let cases: &[(&str, Req, bool)] = &[
        ("Host(`r.test`)", req("r.test", "/"), true),
        ("Host(`r.test`)", req("R.TEST", "/"), true),
        ("Host(`r.test`)", req("r.test:8080", "/"), true),
        ("Host(`r.test`)", req("r.test.", "/"), true),
        ("Host(`r.test.`)", req("r.test", "/"), true),
        ("Host(`R.Test`)", req("r.test", "/"), true),
        ("Host(`r.test`)", req("x.r.test", "/"), false),
        ("Host(`*.w.test`)", req("a.w.test", "/"), true),
        ("Host(`*.w.test`)", req("a.b.w.test", "/"), false),
        ("Host(`*.w.test`)", req("w.test", "/"), false),
        ("Host(`*`)", req("", "/"), true),
        ("Host(`*`)", req("anything.test", "/"), true),
        ("HostRegexp(`^UP\\.test$`)", req("UP.test", "/"), false),
        ("HostRegexp(`^up\\.test$`)", req("UP.test", "/"), true),
        ("HostRegexp(`re`)", req("some-re-host", "/"), true),
        ("Host(`[::1]`)", req("[::1]:80", "/"), false),
        ("Host(`::1`)", req("[::1]:80", "/"), true),
    ];
    for (rule, r, want) in cases {
        assert_eq!(matches(rule, r), *want, "{rule} on host {:?}", r.host);
    }
}

#[test]
fn path_matching() {
    let cases: &[(&str, &str, bool)] = &[
        ("Path(`/exact`)", "/exact", true),
        ("Path(`/exact`)", "/exact/", false),
        ("Path(`/exact`)", "/EXACT", false),
        ("Path(`/exact`)", "/ex%61ct", true),
        ("Path(`/exact`)", "//exact", true),
        ("Path(`/exact`)", "/x/../exact", true),
        ("Path(`/a b`)", "/a%20b", true),
        ("Path(`/a/b`)", "/a%2Fb", false),
        ("PathPrefix(`/pre`)", "/prefix", true),
        ("PathPrefix(`/api`)", "/ap", false),
        ("PathRegexp(`^/v[0-9]+/`)", "/v2/x", true),
        ("PathRegexp(`[0-9]`)", "/abc/7", true),
    ];
    for (rule, target, want) in cases {
        assert_eq!(
            matches(rule, &req("h", target)),
            *want,
            "{rule} on {target}"
        );
    }
}

#[test]
fn method_header_query_clientip() {
    let post = Req {
        method: "POST",
        ..req("h", "/")
    };
    assert!(matches("Method(`post`)", &post));
    assert!(!matches("Method(`GET`)", &post));

    let hdr = Req {
        headers: &[("X-Env", "prod"), ("x-env", "Stage")],
        ..req("h", "/")
    };
    assert!(matches("Header(`x-ENV`, `prod`)", &hdr));
    assert!(matches("Header(`X-Env`, `Stage`)", &hdr));
    assert!(!matches("Header(`X-Env`, `stage`)", &hdr));
    assert!(matches("HeaderRegexp(`X-Env`, `^St`)", &hdr));
    assert!(!matches("HeaderRegexp(`X-Env`, `^st`)", &hdr));
    assert!(!matches("Header(`X-None`, ``)", &hdr));

    assert!(matches("Query(`q`, `1`)", &req("h", "/?q=2&q=1")));
    assert!(!matches("Query(`q`, `3`)", &req("h", "/?q=2&q=1")));
    assert!(matches("Query(`flag`)", &req("h", "/?flag")));
    assert!(matches("Query(`flag`)", &req("h", "/?flag=")));
    assert!(!matches("Query(`flag`)", &req("h", "/?flag=x")));
    assert!(matches("Query(`a b`, `c d`)", &req("h", "/?a+b=c%20d")));
    assert!(matches(
        "QueryRegexp(`id`, `^[0-9]+$`)",
        &req("h", "/?id=42")
    ));
    assert!(!matches(
        "QueryRegexp(`id`, `^[0-9]+$`)",
        &req("h", "/?id=x42")
    ));
    assert!(!matches("Query(`q`)", &req("h", "/")));

    assert!(matches("ClientIP(`127.0.0.0/8`)", &req("h", "/")));
    assert!(matches("ClientIP(`127.0.0.1`)", &req("h", "/")));
    assert!(!matches("ClientIP(`10.0.0.0/8`)", &req("h", "/")));
    let mapped = Req {
        ip: "::ffff:10.1.2.3",
        ..req("h", "/")
    };
    assert!(matches("ClientIP(`10.0.0.0/8`)", &mapped));
}

#[test]
fn combinations() {
    let rule = "Host(`c.test`) && (PathPrefix(`/a`) || PathPrefix(`/b`)) && !Method(`DELETE`)";
    assert!(matches(rule, &req("c.test", "/a/1")));
    assert!(matches(rule, &req("c.test", "/b")));
    assert!(!matches(rule, &req("c.test", "/c")));
    assert!(!matches(rule, &req("d.test", "/a")));
    let del = Req {
        method: "DELETE",
        ..req("c.test", "/a")
    };
    assert!(!matches(rule, &del));
}

#[test]
fn bad_escapes_are_errors() {
    assert!(routing_path("/a%zz").is_err());
    assert!(routing_path("/a%2").is_err());
    assert_eq!(routing_path("/a%2fb").unwrap(), "/a%2fb");
}

#[test]
fn sanitize_like_go_path_clean() {
    for (raw, want) in [
        ("/", "/"),
        ("//api/x/../y", "/api/y"),
        ("/a/./b/", "/a/b/"),
        ("/..", "/"),
        ("/a/..", "/"),
        ("/a/b/..", "/a/"),
        ("", "/"),
    ] {
        assert_eq!(sanitize_path(raw), want, "{raw}");
    }
}

#[test]
fn host_constraints_for_indexing() {
    use wharf_rule::HostConstraint;
    let c = parse("Host(`A.test`) && Path(`/`)")
        .unwrap()
        .host_constraint();
    assert_eq!(
        c,
        HostConstraint::Hosts {
            exact: vec!["a.test".into()],
            one_label: vec![]
        }
    );
    let c = parse("Host(`a`) || Host(`*.b.test`)")
        .unwrap()
        .host_constraint();
    assert_eq!(
        c,
        HostConstraint::Hosts {
            exact: vec!["a".into()],
            one_label: vec![".b.test".into()]
        }
    );
    assert_eq!(
        parse("Host(`a`) || Path(`/`)").unwrap().host_constraint(),
        HostConstraint::Any
    );
    assert_eq!(
        parse("!Host(`a`)").unwrap().host_constraint(),
        HostConstraint::Any
    );
    assert_eq!(
        parse("Host(`*`)").unwrap().host_constraint(),
        HostConstraint::Any
    );
}

#[test]
fn forwarded_paths_decode_only_unreserved_escapes() {
    use wharf_rule::normalize_escapes;
    assert_eq!(normalize_escapes("/ex%61ct").unwrap(), "/exact");
    assert_eq!(normalize_escapes("/a%2Fb%2fc").unwrap(), "/a%2Fb%2Fc");
    assert_eq!(normalize_escapes("/a%20b%7e").unwrap(), "/a%20b~");
    assert_eq!(normalize_escapes("/plain").unwrap(), "/plain");
    assert!(normalize_escapes("/bad%g0").is_err());
}
