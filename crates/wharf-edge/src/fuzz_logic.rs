//! What the `request_head` fuzz target checks, kept here so ordinary tests replay its corpus.

use crate::{BodyFraming, ChunkedBody, Head, HeadLimits, HeadScanner};

const LIMITS: HeadLimits = HeadLimits {
    max_bytes: 8192,
    max_fields: 64,
};

/// The verdict on a head: its length and framing, a refusal's status, or incomplete (0).
fn verdict(result: &Result<Option<Head>, crate::Rejection>) -> (u16, usize, Option<BodyFraming>) {
    match result {
        Ok(Some(h)) => (200, h.len, Some(h.body)),
        Ok(None) => (0, 0, None),
        Err(r) => (r.status, 0, None),
    }
}

/// Arbitrary bytes as a request: the verdict does not depend on how the bytes are split, an
/// accepted head is read by httparse (pingora's parser) to the same length, a rewritten head
/// is accepted as it is, and a chunked body gets the same verdict whole and byte by byte.
pub fn request(data: &[u8]) {
    let whole = HeadScanner::default().advance(data, LIMITS);
    let split = data.len() / 3;
    let mut scanner = HeadScanner::default();
    let parts = match scanner.advance(&data[..split], LIMITS) {
        Ok(None) => scanner.advance(data, LIMITS),
        done => done,
    };
    let (w, p) = (verdict(&whole), verdict(&parts));
    // A refusal found in the first part may be a different one than the whole's first
    // refusal only if both refuse.
    assert!(w == p || (w.0 >= 400 && p.0 >= 400), "{w:?} vs {p:?}");
    let Ok(Some(head)) = whole else { return };
    let forwarded = head.rewritten.as_deref().unwrap_or(&data[..head.len]);
    // pingora re-escapes a request line httparse refuses for obs-text (0x80+) in the target.
    let target_is_ascii = forwarded
        .split(|b| *b == b'\n')
        .find(|line| !line.is_empty() && *line != b"\r")
        .is_some_and(|line| line.is_ascii());
    if target_is_ascii {
        let mut fields = [httparse::EMPTY_HEADER; 80];
        let mut req = httparse::Request::new(&mut fields);
        match req.parse(forwarded) {
            Ok(httparse::Status::Complete(n)) => assert_eq!(n, forwarded.len()),
            other => panic!("httparse disagrees: {other:?}"),
        }
    }
    if let Some(rewritten) = &head.rewritten {
        let again = HeadScanner::default()
            .advance(rewritten, LIMITS)
            .expect("a rewritten head is valid")
            .expect("and complete");
        assert!(again.rewritten.is_none(), "rewriting is idempotent");
        assert_eq!(again.body, head.body);
    }
    if head.body == BodyFraming::Chunked {
        let body = &data[head.len..];
        let mut at_once = ChunkedBody::default();
        let once = at_once.feed(body).map(|n| (n, at_once.is_done()));
        let mut bytewise = ChunkedBody::default();
        let mut taken = 0;
        let mut slow = Ok(());
        for b in body {
            match bytewise.feed(std::slice::from_ref(b)) {
                Ok(n) => taken += n,
                Err(e) => {
                    slow = Err(e);
                    break;
                }
            }
            if bytewise.is_done() {
                break;
            }
        }
        let slow = slow.map(|()| (taken, bytewise.is_done()));
        assert_eq!(once.is_ok(), slow.is_ok(), "{once:?} vs {slow:?}");
        if let (Ok(a), Ok(b)) = (once, slow) {
            assert_eq!(a, b);
        }
    }
}
