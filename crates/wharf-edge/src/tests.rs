//! The reliability corpus (§1.5) against the head and chunked-body validators.

use crate::{BodyFraming, ChunkedBody, Head, HeadLimits, HeadScanner, Rejection};

const LIMITS: HeadLimits = HeadLimits {
    max_bytes: 8192,
    max_fields: 256,
};

fn head(bytes: &[u8]) -> Result<Option<Head>, Rejection> {
    HeadScanner::default().advance(bytes, LIMITS)
}

/// Fed one byte at a time, as a slow client sends it: the same verdict.
fn head_bytewise(bytes: &[u8]) -> Result<Option<Head>, Rejection> {
    let mut scanner = HeadScanner::default();
    for end in 1..bytes.len() {
        if let Some(done) = scanner.advance(&bytes[..end], LIMITS)? {
            return Ok(Some(done));
        }
    }
    scanner.advance(bytes, LIMITS)
}

/// The start of a request, for assertion messages.
fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned()
}

fn status(bytes: &[u8]) -> u16 {
    let whole = head(bytes)
        .map(|h| h.map_or(0, |_| 200))
        .unwrap_or_else(|r| r.status);
    let slow = head_bytewise(bytes)
        .map(|h| h.map_or(0, |_| 200))
        .unwrap_or_else(|r| r.status);
    assert_eq!(whole, slow, "{}", shown(bytes));
    whole
}

#[test]
fn valid_heads_and_their_framing() {
    let h = head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap().unwrap();
    assert_eq!(h.body, BodyFraming::None);
    assert!(h.rewritten.is_none());
    let h = head(b"POST /x?y HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap()
        .unwrap();
    assert_eq!(h.body, BodyFraming::Length(5));
    assert_eq!(h.len, 50);
    let h = head(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked \r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(h.body, BodyFraming::Chunked);
    let h = head(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(h.upgrade);
    // HTTP/1.0 needs no Host; absolute-form, OPTIONS *, CONNECT authority-form are requests.
    for ok in [
        &b"GET / HTTP/1.0\r\n\r\n"[..],
        b"GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        b"CONNECT internal:22 HTTP/1.1\r\nHost: internal:22\r\n\r\n",
        b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\nX: \xff obs-text\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost:\r\nEmpty:\r\n\r\n",
    ] {
        assert_eq!(status(ok), 200, "{}", shown(ok));
    }
    assert!(
        head(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap().is_none(),
        "incomplete"
    );
}

#[test]
fn content_length_is_normalised_or_refused() {
    // Two identical lines: one goes on (Go does the same); a leading zero is rewritten.
    let h = head(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: y\r\nContent-Length: 5\r\n\r\n",
    )
    .unwrap()
    .unwrap();
    assert_eq!(h.body, BodyFraming::Length(5));
    assert_eq!(
        h.rewritten.as_deref(),
        Some(&b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: y\r\n\r\n"[..])
    );
    let h = head(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 010\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(h.body, BodyFraming::Length(10), "decimal, not octal");
    assert_eq!(
        h.rewritten.as_deref(),
        Some(&b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"[..])
    );
    for bad in [
        "Content-Length: 1\r\nContent-Length: 0",
        "Content-Length: 43, 43",
        "Content-Length: ",
        "Content-Length: +5",
        "Content-Length: -1",
        "Content-Length: 0x5",
        "Content-Length: 1Z",
        "Content-Length: 5 5",
        "Content-Length: 99999999999999999999",
        "Content-Length: 9223372036854775808",
        "Content-Length: 6\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: chunked\r\nContent-Length: 3",
    ] {
        let req = format!("POST / HTTP/1.1\r\nHost: a\r\n{bad}\r\n\r\n");
        assert_eq!(status(req.as_bytes()), 400, "{bad:?}");
    }
}

#[test]
fn transfer_encoding_is_one_chunked_or_nothing() {
    for bad in [
        &b"Transfer-Encoding: xchunked"[..],
        b"Transfer-Encoding: ,chunked",
        b"Transfer-Encoding: chunked, identity",
        b"Transfer-Encoding: identity",
        b"Transfer-Encoding: \xa0chunked",
        b"Transfer-Encoding: chunked\x85",
        b"Transfer-Encoding: gzip, chunked",
    ] {
        let mut req = b"POST / HTTP/1.1\r\nHost: a\r\n".to_vec();
        req.extend_from_slice(bad);
        req.extend_from_slice(b"\r\n\r\n");
        assert_eq!(status(&req), 501, "{}", shown(bad));
    }
    assert_eq!(
        status(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
        501
    );
    assert_eq!(
        status(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
        400,
        "HTTP/1.0 has no chunked framing"
    );
}

#[test]
fn header_syntax_is_strict() {
    for bad in [
        &b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 34\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\n\tContent-Length: 1\r\nHost: a\r\n\r\nX",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length\x85: 10\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nTe\nst: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length 10\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n: ignored\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\xefoo: bar\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\x00.evil\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: va\rlue\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rSmuggled: b\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"GET / HTTP/1.1\r\nHost: a\n\r\n",
        b"GET / HTTP/1.1\r\n\rZGET /evil: HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n",
    ] {
        assert_eq!(status(bad), 400, "{}", shown(bad));
    }
}

#[test]
fn request_lines_are_strict() {
    for bad in [
        &b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
        b"GET /public#/../admin HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET a HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET internal:22 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\r\n\r\n",
        b"G=\":<>(e),[T];?\" / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/4294967295.255\r\nHost: a\r\n\r\n",
        b"GET / http/1.1\r\nHost: a\r\n\r\n",
        b"\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        assert_eq!(status(bad), 400, "{}", shown(bad));
    }
    assert_eq!(status(b"GET / HTTP/1.32\r\nHost: a\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
    assert_eq!(status(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505);
}

#[test]
fn a_bare_cr_is_refused_however_the_bytes_arrive() {
    let req = b"\xff\xff\r\x00\x00\r";
    assert_eq!(head(req).unwrap_err().status, 400);
    assert_eq!(head_bytewise(req).unwrap_err().status, 400);
    assert!(
        head(b"GET / HTTP/1.1\r").unwrap().is_none(),
        "a CR awaiting its LF"
    );
}

#[test]
fn limits_answer_414_and_431() {
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    assert_eq!(status(long_line.as_bytes()), 414);
    let long_header = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "a".repeat(9000)
    );
    assert_eq!(status(long_header.as_bytes()), 431);
    let many: String = (0..257).map(|i| format!("X-{i}: v\r\n")).collect();
    let req = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
    let limits = HeadLimits {
        max_bytes: 1 << 20,
        max_fields: 256,
    };
    let verdict = HeadScanner::default().advance(req.as_bytes(), limits);
    assert_eq!(verdict.unwrap_err().status, 431);
    // 256 fields are fine.
    let fine: String = (0..255).map(|i| format!("X-{i}: v\r\n")).collect();
    let req = format!("GET / HTTP/1.1\r\nHost: a\r\n{fine}\r\n");
    assert!(HeadScanner::default()
        .advance(req.as_bytes(), limits)
        .unwrap()
        .is_some());
}

fn chunked(body: &[u8]) -> Result<(usize, bool), Rejection> {
    let mut c = ChunkedBody::default();
    let n = c.feed(body)?;
    // Byte by byte gives the same verdict.
    let mut slow = ChunkedBody::default();
    let mut taken = 0;
    for b in body {
        taken += slow.feed(std::slice::from_ref(b))?;
        if slow.is_done() {
            break;
        }
    }
    assert_eq!((taken, slow.is_done()), (n, c.is_done()));
    Ok((n, c.is_done()))
}

#[test]
fn chunked_bodies_are_strict() {
    assert_eq!(chunked(b"5\r\nhello\r\n0\r\n\r\nGET"), Ok((15, true)));
    assert_eq!(
        chunked(b"5;ext=1;q=\"x y\"\r\nhello\r\n0 \r\nTrailer-A: b\r\n\r\n"),
        Ok((44, true))
    );
    assert_eq!(
        chunked(b"00000A\r\n0123456789\r\n0\r\n\r\n"),
        Ok((25, true))
    );
    assert_eq!(chunked(b"5\r\nhel"), Ok((6, false)));
    // A trailer that looks like a request line is a trailer: it never becomes a request.
    assert_eq!(
        chunked(b"0\r\nX:POST / HTTP/1.1\r\n\r\nGET"),
        Ok((24, true))
    );
    for bad in [
        &b"\r\n"[..],
        b"0_2e\r\n\r\n",
        b"-0x0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"+5\r\nhello\r\n0\r\n\r\n",
        b"   0\r\n\r\n",
        b"1these-bytes\r\nZ",
        b"FFFFFFFFFFFFFFFFF1\r\n",
        b"a\r\n0123456789\n0\r\n\r\n",
        b"0\n\r\n",
        b"2\r\r;a\r\n",
        b"41;a=b\r\rXX",
        b"5\r\nAAAAAXX",
        b"0\r\n\r\r",
        b"5;a\nb\r\nhello\r\n",
        b"0\r\n bad: fold\r\n\r\n",
        b"0\r\nTrailer\r\n\r\n",
    ] {
        assert!(chunked(bad).is_err(), "{}", shown(bad));
    }
    let long_ext = format!("1;{}\r\n", "e".repeat(100 * 1024));
    assert!(chunked(long_ext.as_bytes()).is_err());
    let many_trailers: String = (0..1000).map(|i| format!("T{i}: v\r\n")).collect();
    let body = format!("0\r\n{many_trailers}\r\n");
    assert_eq!(chunked(body.as_bytes()).unwrap_err().status, 431);
}

#[test]
fn rejections_are_answered_as_go_answers_them() {
    let r = Rejection::bad_request("missing required Host header").response();
    assert_eq!(
        String::from_utf8(r).unwrap(),
        "HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header"
    );
}
