//! What the fuzz target `upstream_answers` checks, kept in the crate so ordinary tests replay
//! its corpus: what reaches the balancer from outside (a gRPC health answer from a backend,
//! a request's Cookie header naming a sticky server, the HTTP/2 frames a backend sends
//! through wharf's PING health check) never panics, and the frames come out the same however
//! they were split.

use wharf_model::{ServerSpec, UpstreamScheme};

use crate::server::Server;

/// The first line as a Cookie header, the rest as a gRPC health answer.
pub fn upstream_answers(data: &[u8]) {
    let (cookie, answer) = data
        .iter()
        .position(|b| *b == b'\n')
        .map_or((&data[..0], data), |i| (&data[..i], &data[i + 1..]));
    let (whole, answered) = crate::h2_keepalive::filter_in_pieces(answer, answer.len());
    for piece in [1, 7, 9, 17] {
        assert_eq!(
            crate::h2_keepalive::filter_in_pieces(answer, piece),
            (whole.clone(), answered)
        );
        assert_eq!(
            crate::h2_keepalive::ends_at_boundary(answer, piece),
            crate::h2_keepalive::ends_at_boundary(answer, answer.len())
        );
    }
    // Only whole frames of wharf's are taken out.
    assert!(whole.len() <= answer.len());
    if let Some(status) = crate::health::serving_status(answer) {
        // A varint decodes to at most 64 bits.
        let _fits: u64 = status;
    }
    if let Ok(value) = http::HeaderValue::from_bytes(cookie) {
        let headers = [value];
        if let Some(v) = crate::sticky::request_cookie(&headers, "_2c04d") {
            let server = Server::from_spec(&ServerSpec {
                url: "http://10.0.0.1:80".into(),
                scheme: UpstreamScheme::Http,
                host: "10.0.0.1".into(),
                port: 80,
                weight: 1,
                path_prefix: String::new(),
            });
            if let Some((index, _)) = crate::sticky::find(std::slice::from_ref(&server), v) {
                assert_eq!(index, 0);
            }
        }
    }
}
