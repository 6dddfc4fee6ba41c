//! The raw requests of the edge matrix and what wharf must do with each.

/// Which request lines reach the backend.
pub enum Reach {
    Nothing,
    Lines(&'static [&'static str]),
}

pub struct Case {
    pub name: &'static str,
    /// Sent in order; more than one part is a slow client.
    pub parts: Vec<Vec<u8>>,
    /// The statuses of the responses wharf sends, in order.
    pub statuses: Vec<u16>,
    /// wharf closes the connection after them.
    pub closes: bool,
    pub reach: Reach,
    /// Bytes that must never reach the backend.
    pub marker: Option<&'static str>,
    /// Traefik answers the same and lets the same through.
    pub traefik_same: bool,
}

fn refused(name: &'static str, bytes: &[u8], status: u16, traefik_same: bool) -> Case {
    Case {
        name,
        parts: vec![bytes.to_vec()],
        statuses: vec![status],
        closes: true,
        reach: Reach::Nothing,
        marker: Some("SMUGGLED"),
        traefik_same,
    }
}

fn served(name: &'static str, bytes: &[u8], reach: &'static [&'static str]) -> Case {
    Case {
        name,
        parts: vec![bytes.to_vec()],
        statuses: vec![200; reach.len()],
        closes: false,
        reach: Reach::Lines(reach),
        marker: Some("SMUGGLED"),
        traefik_same: true,
    }
}

pub fn cases() -> Vec<Case> {
    let mut all = vec![
        // Framing conflicts (CL.TE, TE.CL) and Content-Length forms.
        refused(
            "CL.TE",
            b"POST /clte HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
            400,
            false,
        ),
        refused(
            "TE.CL",
            b"POST /tecl HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
            400,
            false,
        ),
        refused(
            "two different Content-Length",
            b"POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\nContent-Length: 0\r\n\r\nSMUGGLED",
            400,
            true,
        ),
        refused(
            "Content-Length list",
            b"POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 8, 8\r\n\r\nSMUGGLED",
            400,
            true,
        ),
        served(
            "two identical Content-Length (one goes on)",
            b"POST /cldup HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
            &["POST /cldup HTTP/1.1"],
        ),
        refused(
            "empty Content-Length",
            b"POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n",
            400,
            true,
        ),
        served(
            "Content-Length 010 is ten bytes",
            b"POST /octal HTTP/1.1\r\nHost: a\r\nContent-Length: 010\r\n\r\n0123456789",
            &["POST /octal HTTP/1.1"],
        ),
    ];
    for (name, value) in [
        ("Content-Length +5", "+5"),
        ("Content-Length -1", "-1"),
        ("Content-Length 0x5", "0x5"),
        ("Content-Length 1Z", "1Z"),
        ("Content-Length 5 5", "5 5"),
        ("Content-Length over 64 bits", "99999999999999999999"),
    ] {
        let req = format!("POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\nSMUGG");
        all.push(refused(name, req.as_bytes(), 400, true));
    }
    for (name, value) in [
        ("TE xchunked", &b"xchunked"[..]),
        ("TE ,chunked", b",chunked"),
        ("TE chunked, identity", b"chunked, identity"),
        ("TE identity", b"identity"),
        ("TE gzip, chunked", b"gzip, chunked"),
        ("TE \\xa0chunked", b"\xa0chunked"),
    ] {
        let mut req = b"POST /te HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ".to_vec();
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n");
        all.push(refused(name, &req, 501, true));
    }
    all.extend([
        refused(
            "two Transfer-Encoding lines",
            b"POST /te HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
            501,
            true,
        ),
        refused(
            "space before colon",
            b"POST /sp HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
            400,
            true,
        ),
        refused(
            "obs-fold",
            b"GET /fold HTTP/1.1\r\nHost: a\r\nX-A: a\r\n SMUGGLED\r\n\r\n",
            400,
            false,
        ),
        refused("bare LF", b"GET /SMUGGLED HTTP/1.1\nHost: a\n\n", 400, false),
        refused(
            "NUL in a value",
            b"GET /SMUGGLED HTTP/1.1\r\nHost: a\x00.evil\r\n\r\n",
            400,
            true,
        ),
        refused(
            "CR inside a value",
            b"GET /SMUGGLED HTTP/1.1\r\nHost: a\r\nX: a\rSmuggled: b\r\n\r\n",
            400,
            true,
        ),
        refused(
            "HTTP/1.0 with Transfer-Encoding",
            b"POST /SMUGGLED HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
            false,
        ),
        refused(
            "chunk size overflow",
            b"POST /SMUGGLED HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nx\r\n0\r\n\r\n",
            400,
            false,
        ),
        refused(
            "chunk size 0x5",
            b"POST /SMUGGLED HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
            400,
            false,
        ),
        refused(
            "bare LF in a chunk extension",
            b"POST /SMUGGLED HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n",
            400,
            false,
        ),
        refused(
            "chunk data without its CRLF",
            b"POST /SMUGGLED HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nAAAAAXX0\r\n\r\n",
            400,
            false,
        ),
        // Request lines and Host.
        refused(
            "two spaces in the request line",
            b"GET  /SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n",
            400,
            true,
        ),
        refused(
            "control byte in the path",
            b"GET /SMUGGLED\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
            400,
            true,
        ),
        refused(
            "space in the path",
            b"GET /a SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n",
            400,
            true,
        ),
        refused(
            "fragment in the target",
            b"GET /public#/../SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n",
            400,
            false,
        ),
        refused(
            "HTTP/2.0 in an HTTP/1 request line",
            b"GET /SMUGGLED HTTP/2.0\r\nHost: a\r\n\r\n",
            505,
            true,
        ),
        refused(
            "no Host on HTTP/1.1, no header at all",
            b"GET /SMUGGLED HTTP/1.1\r\n\r\n",
            400,
            true,
        ),
        refused(
            "two Host lines",
            b"GET /SMUGGLED HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            400,
            true,
        ),
        served(
            "HTTP/1.0 with no header at all",
            b"GET /http10 HTTP/1.0\r\n\r\n",
            &["GET /http10 HTTP/1.1"],
        ),
        refused(
            "a request line over maxHeaderBytes",
            format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "SMUGGLED".repeat(140_000)).as_bytes(),
            414,
            false,
        ),
        refused(
            "headers over maxHeaderBytes",
            format!("GET /big HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "SMUGGLED".repeat(140_000))
                .as_bytes(),
            431,
            true,
        ),
        // Requests that follow others on the same connection.
        served(
            "two pipelined requests, answered in order",
            b"GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\n",
            &["GET /one HTTP/1.1", "GET /two HTTP/1.1"],
        ),
        Case {
            name: "HTTP/1.0 without a length: what follows is not its body",
            parts: vec![b"POST /http10 HTTP/1.0\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()],
            statuses: vec![200],
            closes: true,
            reach: Reach::Lines(&["POST /http10 HTTP/1.1"]),
            marker: Some("SMUGGLED"),
            traefik_same: true,
        },
        Case {
            name: "Upgrade answered 200: the next request is a request of its own (auth applies)",
            parts: vec![b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /admin/SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()],
            statuses: vec![200, 401],
            closes: false,
            reach: Reach::Lines(&["GET /ws HTTP/1.1"]),
            marker: Some("SMUGGLED"),
            traefik_same: true,
        },
        Case {
            name: "a body on an early answer (401) is never a request",
            parts: vec![b"GET /admin HTTP/1.1\r\nHost: a\r\nContent-Length: 48\r\n\r\nGET /admin/SMUGGLED HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n".to_vec()],
            statuses: vec![401],
            closes: false,
            reach: Reach::Nothing,
            marker: Some("SMUGGLED"),
            traefik_same: true,
        },
        Case {
            name: "CONNECT",
            parts: vec![b"CONNECT internal:22 HTTP/1.1\r\nHost: internal:22\r\n\r\nSSH-2.0-SMUGGLED\r\n".to_vec()],
            statuses: vec![405],
            closes: true,
            reach: Reach::Nothing,
            marker: Some("SMUGGLED"),
            traefik_same: false,
        },
        served(
            "absolute-form with its own Host",
            b"GET http://a/abs HTTP/1.1\r\nHost: a\r\n\r\n",
            &["GET /abs HTTP/1.1"],
        ),
        refused(
            "absolute-form with another Host",
            b"GET http://a/SMUGGLED HTTP/1.1\r\nHost: b\r\n\r\n",
            400,
            false,
        ),
        // Traefik answers 100 Continue first even when the body came with the head; wharf
        // (pingora) does not need to: the body is there.
        Case {
            traefik_same: false,
            ..served(
                "Expect: 100-continue with the body sent at once",
                b"POST /expect HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
                &["POST /expect HTTP/1.1"],
            )
        },
        Case {
            traefik_same: false,
            ..served(
                "an obfuscated Expect: the body is still framed by its length",
                b"POST /expect2 HTTP/1.1\r\nHost: a\r\nExpect: y 100-continue\r\nContent-Length: 5\r\n\r\nhelloGET /two HTTP/1.1\r\nHost: a\r\n\r\n",
                &["POST /expect2 HTTP/1.1", "GET /two HTTP/1.1"],
            )
        },
        // Slow clients (readTimeout 3 s).
        Case {
            name: "a head that never ends",
            parts: vec![b"GET /slow HTTP/1.1\r\n".to_vec(), b"Host: a\r\n".to_vec()],
            statuses: vec![408],
            closes: true,
            reach: Reach::Nothing,
            marker: None,
            traefik_same: false,
        },
        Case {
            name: "a body that never ends",
            parts: vec![b"POST /slowbody HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc".to_vec()],
            statuses: vec![408],
            closes: true,
            reach: Reach::Nothing,
            marker: None,
            traefik_same: false,
        },
        Case {
            name: "a body trickling in: readTimeout bounds the whole request, not each read",
            parts: std::iter::once(
                b"POST /trickle HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n".to_vec(),
            )
            .chain(std::iter::repeat_n(b"x".to_vec(), 80))
            .collect(),
            statuses: vec![408],
            closes: true,
            reach: Reach::Nothing,
            marker: None,
            traefik_same: false,
        },
        Case {
            name: "a keep-alive request whose head came whole and whose body stalls",
            parts: vec![
                b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
                b"POST /second HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc".to_vec(),
            ],
            statuses: vec![200, 408],
            closes: true,
            reach: Reach::Lines(&["GET /first HTTP/1.1"]),
            marker: None,
            traefik_same: false,
        },
        Case {
            name: "an Upgrade answered 200 lifts no deadline: the next head still has readTimeout",
            parts: vec![
                b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".to_vec(),
                b"GET /slow HTTP/1.1\r\n".to_vec(),
            ],
            statuses: vec![200, 408],
            closes: true,
            reach: Reach::Lines(&["GET /ws HTTP/1.1"]),
            marker: None,
            traefik_same: false,
        },
        Case {
            name: "a connection that sends nothing",
            parts: vec![Vec::new()],
            statuses: vec![],
            closes: true,
            reach: Reach::Nothing,
            marker: None,
            traefik_same: true,
        },
        // Forwarding headers.
        Case {
            name: "underscore aliases of X-Real-Ip and X-Forwarded-For",
            parts: vec![b"GET /spoof HTTP/1.1\r\nHost: a\r\nX-Real_Ip: 7.7.7.7\r\nX_Forwarded_For: 7.7.7.7\r\nx_real_ip: 7.7.7.7\r\n\r\n".to_vec()],
            statuses: vec![200],
            closes: false,
            reach: Reach::Lines(&["GET /spoof HTTP/1.1"]),
            marker: Some("7.7.7.7"),
            traefik_same: true,
        },
        Case {
            name: "Connection cannot remove X-Real-Ip",
            parts: vec![b"GET /conn HTTP/1.1\r\nHost: a\r\nConnection: X-Real-Ip, x-forwarded-for\r\nX-Real-Ip: 7.7.7.7\r\n\r\n".to_vec()],
            statuses: vec![200],
            closes: false,
            reach: Reach::Lines(&["GET /conn HTTP/1.1"]),
            marker: Some("7.7.7.7"),
            traefik_same: true,
        },
    ]);
    all.extend(spoofing());
    all
}

/// The headers the proxy manages (Traefik's forwarded-headers stage).
const MANAGED: &[&str] = &[
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Forwarded-Port",
    "X-Forwarded-Server",
    "X-Forwarded-Uri",
    "X-Forwarded-Method",
    "X-Forwarded-Prefix",
    "X-Forwarded-Tls-Client-Cert",
    "X-Forwarded-Tls-Client-Cert-Info",
    "X-Real-Ip",
];

/// From an untrusted peer, a managed header in any spelling (as is, lower case, with its
/// dashes or some of them written as underscores) never carries the client's value to the
/// backend; and a `Connection` header naming it cannot remove what the proxy sets.
fn spoofing() -> Vec<Case> {
    let mut cases = Vec::new();
    for name in MANAGED {
        let spellings = [
            name.to_string(),
            name.to_ascii_lowercase(),
            name.replace('-', "_"),
            name.replacen('-', "_", 1),
            name.rsplitn(2, '-')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("_"),
        ];
        let mut head = String::from("GET /spoofed HTTP/1.1\r\nHost: a\r\n");
        for spelling in spellings {
            head.push_str(&format!("{spelling}: 7.7.7.7\r\n"));
        }
        head.push_str(&format!(
            "Connection: keep-alive, {name}, {}\r\n\r\n",
            name.to_ascii_lowercase()
        ));
        cases.push(Case {
            name: Box::leak(format!("spoofed {name}").into_boxed_str()),
            parts: vec![head.into_bytes()],
            statuses: vec![200],
            closes: false,
            reach: Reach::Lines(&["GET /spoofed HTTP/1.1"]),
            marker: Some("7.7.7.7"),
            traefik_same: true,
        });
    }
    cases
}
