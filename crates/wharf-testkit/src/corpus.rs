//! Replays a fuzz target's corpus (its seeds and any saved regressions) through its check, so
//! every test run exercises the fuzz logic on the stable toolchain.

use std::path::Path;

/// Runs `check` on every file of `fuzz/corpus/<target>` (which must not be empty).
pub fn replay_corpus(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        check(&std::fs::read(entry.expect("corpus entry").path()).expect("corpus file"));
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
}
