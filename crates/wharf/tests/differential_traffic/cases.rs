//! The requests of the traffic-middlewares differential test.

pub struct Case {
    pub name: &'static str,
    pub method: &'static str,
    pub host: &'static str,
    pub target: &'static str,
    pub headers: Vec<&'static str>,
    /// Sent with its Content-Length.
    pub body: &'static [u8],
}

fn case(
    name: &'static str,
    method: &'static str,
    host: &'static str,
    target: &'static str,
    headers: &[&'static str],
) -> Case {
    Case {
        name,
        method,
        host,
        target,
        headers: headers.to_vec(),
        body: b"",
    }
}

fn with_body(mut c: Case, body: &'static [u8]) -> Case {
    c.body = body;
    c
}

pub fn cases() -> Vec<Case> {
    const AE_GZIP: &str = "Accept-Encoding: gzip";
    const KEEP: &[&str] = &["X-Keep: 1", "X-Drop: 2"];
    let mut v = vec![
        case(
            "backend 503 gets the page",
            "GET",
            "errs.test",
            "/status/503?a=1",
            KEEP,
        ),
        case(
            "backend 404 gets the page",
            "GET",
            "errs.test",
            "/status/404",
            &[],
        ),
        case(
            "backend 403 is untouched",
            "GET",
            "errs.test",
            "/status/403",
            &[],
        ),
        case(
            "post 500 asks with get",
            "POST",
            "errs.test",
            "/status/500",
            &["Content-Length: 4"],
        ),
        case("head 500", "HEAD", "errs.test", "/status/500", &[]),
        case("status rewrite", "GET", "errsrw.test", "/status/503", &[]),
        case("no rewrite", "GET", "errsrw.test", "/status/501", &[]),
        case("wharf's 502", "GET", "errsdead.test", "/", &[]),
        case("wharf's 503", "GET", "errsempty.test", "/", &[]),
        case("around basic auth", "GET", "errsauth.test", "/", &[]),
        case("inside basic auth", "GET", "autherrs.test", "/", &[]),
        case(
            "error request headers",
            "GET",
            "errshdr.test",
            "/status/500",
            KEEP,
        ),
        case(
            "page service down",
            "GET",
            "errsdown.test",
            "/status/500",
            &[],
        ),
        case(
            "page service empty",
            "GET",
            "errsnone.test",
            "/status/500",
            &[],
        ),
        case(
            "no query, no pass host",
            "GET",
            "errsnohost.test",
            "/status/500",
            &[],
        ),
        case("small body", "GET", "gz.test", "/bytes/513", &[AE_GZIP]),
        case("large gzip", "GET", "gz.test", "/bytes/3600", &[AE_GZIP]),
        case(
            "chunked large gzip",
            "GET",
            "gz.test",
            "/bytes/3600?chunked=1",
            &[AE_GZIP],
        ),
        case(
            "large br",
            "GET",
            "gz.test",
            "/bytes/3600",
            &["Accept-Encoding: br"],
        ),
        case(
            "large zstd",
            "GET",
            "gz.test",
            "/bytes/3600",
            &["Accept-Encoding: zstd"],
        ),
        case("head", "HEAD", "gz.test", "/bytes/3600", &[AE_GZIP]),
        case("no accept-encoding", "GET", "gz.test", "/bytes/3600", &[]),
        case(
            "grpc response",
            "GET",
            "gz.test",
            "/bytes/3600?type=application/grpc",
            &[AE_GZIP],
        ),
        case(
            "already encoded",
            "GET",
            "gz.test",
            "/bytes/3600?encoding=identity2",
            &[AE_GZIP],
        ),
        case(
            "no content type",
            "GET",
            "gz.test",
            "/bytes/3600?type=none",
            &[AE_GZIP],
        ),
        case(
            "event-stream request",
            "POST",
            "gz.test",
            "/bytes/3600",
            &[
                AE_GZIP,
                "Content-Type: text/event-stream",
                "Content-Length: 4",
            ],
        ),
        case(
            "json error page",
            "GET",
            "gz.test",
            "/status/404",
            &[AE_GZIP],
        ),
        case(
            "excluded type",
            "GET",
            "gzex.test",
            "/bytes/200",
            &[AE_GZIP],
        ),
        case(
            "lower threshold",
            "GET",
            "gzex.test",
            "/bytes/200?type=text/html",
            &[AE_GZIP],
        ),
        case(
            "included with parameters",
            "GET",
            "gzin.test",
            "/bytes/3600?type=text/html%3B%20charset=utf-8",
            &[AE_GZIP],
        ),
        case(
            "included without parameters",
            "GET",
            "gzin.test",
            "/bytes/3600?type=text/html",
            &[AE_GZIP],
        ),
        case(
            "included without parameters, br",
            "GET",
            "gzin.test",
            "/bytes/3600?type=text/html",
            &["Accept-Encoding: br"],
        ),
        case(
            "included with other parameters",
            "GET",
            "gzin.test",
            "/bytes/3600?type=text/html%3B%20charset=latin1",
            &[AE_GZIP],
        ),
        case("default encoding", "GET", "gzpref.test", "/bytes/3600", &[]),
        case(
            "not offered",
            "GET",
            "gzpref.test",
            "/bytes/3600",
            &[AE_GZIP],
        ),
        case(
            "wildcard takes the default",
            "GET",
            "gzpref.test",
            "/bytes/3600",
            &["Accept-Encoding: *"],
        ),
        case(
            "server order",
            "GET",
            "gzpref.test",
            "/bytes/3600",
            &["Accept-Encoding: br, zstd"],
        ),
        case(
            "compress wraps auth",
            "GET",
            "gzauth.test",
            "/bytes/3600",
            &[AE_GZIP],
        ),
        case(
            "auth wraps compress",
            "GET",
            "authgz.test",
            "/bytes/3600",
            &[AE_GZIP],
        ),
    ];
    v.push(case(
        "response under the limit",
        "GET",
        "bufresp.test",
        "/bytes/100",
        &[],
    ));
    v.push(case(
        "response over the limit",
        "GET",
        "bufresp.test",
        "/bytes/101",
        &[],
    ));
    const GRPC_CALL: &[u8] = b"\x00\x00\x00\x00\x05hello";
    v.push(with_body(
        case(
            "grpc-web call",
            "POST",
            "grpcweb.test",
            "/echo.Echo/Say",
            &["Content-Type: application/grpc-web+proto", "X-Grpc-Web: 1"],
        ),
        GRPC_CALL,
    ));
    v.push(with_body(
        case(
            "grpc-web call from an allowed origin",
            "POST",
            "grpcweb.test",
            "/echo.Echo/Say",
            &[
                "Content-Type: application/grpc-web",
                "X-Grpc-Web: 1",
                "Origin: https://ok.test",
            ],
        ),
        GRPC_CALL,
    ));
    v.push(with_body(
        case(
            "grpc-web call from another origin",
            "POST",
            "grpcweb.test",
            "/echo.Echo/Say",
            &[
                "Content-Type: application/grpc-web",
                "X-Grpc-Web: 1",
                "Origin: https://evil.test",
            ],
        ),
        GRPC_CALL,
    ));
    v.push(case(
        "grpc-web preflight",
        "OPTIONS",
        "grpcweb.test",
        "/echo.Echo/Say",
        &[
            "Origin: https://ok.test",
            "Access-Control-Request-Method: POST",
            "Access-Control-Request-Headers: content-type,x-grpc-web",
        ],
    ));
    v.push(with_body(
        case(
            "grpc-web-text call",
            "POST",
            "grpcweb.test",
            "/echo.Echo/Say",
            &["Content-Type: application/grpc-web-text", "X-Grpc-Web: 1"],
        ),
        b"AAAAAAVoZWxsbw==",
    ));
    v.push(case(
        "grpc-web preflight from another origin",
        "OPTIONS",
        "grpcweb.test",
        "/echo.Echo/Say",
        &[
            "Origin: https://evil.test",
            "Access-Control-Request-Method: POST",
            "Access-Control-Request-Headers: x-grpc-web",
        ],
    ));
    v.push(case(
        "not grpc-web",
        "GET",
        "grpcweb.test",
        "/status/201",
        &[],
    ));
    for (name, host) in [
        ("forwardAuth over TLS with its CA", "fatlsca.test"),
        ("forwardAuth over TLS, unknown CA", "fatlsnoca.test"),
        ("forwardAuth over TLS, not verified", "fatlsinsecure.test"),
        ("forwardAuth over mutual TLS", "famtls.test"),
        (
            "forwardAuth over mutual TLS without a certificate",
            "famtlsnocert.test",
        ),
    ] {
        v.push(case(name, "GET", host, "/", &[]));
    }
    for (name, host) in [
        (
            "retry on a 503 reaches the healthy server",
            "retrystatus.test",
        ),
        ("retry on a 503, every server sick", "retryallsick.test"),
    ] {
        v.push(case(name, "GET", host, "/health", &[]));
    }
    v.push(with_body(
        case(
            "retry resends a POST when allowed",
            "POST",
            "retrypost.test",
            "/health",
            &[],
        ),
        b"data",
    ));
    for i in 1..=4 {
        let name: &'static str = Box::leak(format!("breaker, request {i}").into_boxed_str());
        v.push(case(name, "GET", "cb.test", "/", &[]));
    }
    v.push(case(
        "breaker code, 500",
        "GET",
        "cbcode.test",
        "/status/500",
        &[],
    ));
    v.push(case(
        "breaker code, tripped",
        "GET",
        "cbcode.test",
        "/",
        &[],
    ));
    for ae in [
        "gzip, br, zstd",
        "br;q=1, gzip;q=0.5",
        "gzip;q=0.2, zstd;q=0.9",
        "identity",
        "*",
        "deflate",
        "gzip;q=0",
        "br, *",
        "",
    ] {
        let name: &'static str = Box::leak(format!("accept-encoding {ae:?}").into_boxed_str());
        let header: &'static str = Box::leak(format!("Accept-Encoding: {ae}").into_boxed_str());
        v.push(case(name, "GET", "gz.test", "/bytes/3600", &[header]));
    }
    v
}
