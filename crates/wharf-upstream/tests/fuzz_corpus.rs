//! Replays the fuzz corpus of what the balancer reads from outside on the stable toolchain.

#[test]
fn upstream_answers_corpus() {
    wharf_testkit::replay_corpus(
        "upstream_answers",
        wharf_upstream::fuzz_logic::upstream_answers,
    );
}
