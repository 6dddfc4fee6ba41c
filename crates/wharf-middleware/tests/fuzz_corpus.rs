//! Replays the fuzz corpus of the middlewares' request parsers on the stable toolchain.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        check(&std::fs::read(entry.unwrap().path()).unwrap());
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
}

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
