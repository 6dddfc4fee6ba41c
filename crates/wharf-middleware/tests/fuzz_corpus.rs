//! Replays the fuzz corpus of the middlewares' request parsers on the stable toolchain.

use wharf_testkit::replay_corpus as replay;

#[test]
fn accept_encoding_corpus() {
    replay(
        "accept_encoding",
        wharf_middleware::fuzz_logic::accept_encoding,
    );
}

#[test]
fn grpc_web_text_corpus() {
    replay("grpc_web_text", wharf_middleware::fuzz_logic::grpc_web_text);
}

#[test]
fn client_certificate_corpus() {
    replay(
        "client_certificate",
        wharf_middleware::fuzz_logic::client_certificate,
    );
}
