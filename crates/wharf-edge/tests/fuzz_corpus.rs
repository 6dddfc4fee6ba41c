//! Replays the `request_head` fuzz corpus (seeds and saved regressions) on the stable
//! toolchain.

#[test]
fn request_head_corpus() {
    wharf_testkit::replay_corpus("request_head", wharf_edge::fuzz_logic::request);
}
