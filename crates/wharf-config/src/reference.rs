//! The configuration reference, generated from the decoders themselves: while a recording is on,
//! every [`crate::decode::check_keys`] call notes the section it checked (its path, the keys it
//! accepts, the keys it accepts but does not implement) and the source line of the call. Decoding
//! a sample that uses every section then yields the list of every key wharf reads, and the call
//! sites it did not reach show where the sample is incomplete. `docs/configuration-reference.md`
//! is made this way, and a test fails when it no longer matches the code.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// One checked section: the keys accepted there, and those accepted but not implemented.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub keys: BTreeSet<String>,
    pub unimplemented: BTreeSet<String>,
}

/// What a recording saw: sections by path, and the call sites (`file:line`) that checked them.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    pub sections: BTreeMap<String, Section>,
    pub call_sites: BTreeSet<String>,
}

thread_local! {
    static RECORDING: RefCell<Option<Recording>> = const { RefCell::new(None) };
}

/// Runs `decode` with recording on and returns what it checked.
pub fn record(decode: impl FnOnce()) -> Recording {
    RECORDING.with(|r| *r.borrow_mut() = Some(Recording::default()));
    decode();
    RECORDING.with(|r| r.borrow_mut().take().unwrap_or_default())
}

/// Called by `check_keys`: a no-op unless a recording is on (one thread-local read).
pub(crate) fn note(
    path: &str,
    known: &[&str],
    unimplemented: &[&str],
    site: &std::panic::Location<'_>,
) {
    RECORDING.with(|r| {
        if let Some(rec) = r.borrow_mut().as_mut() {
            let section = rec.sections.entry(path.to_string()).or_default();
            section.keys.extend(known.iter().map(|k| k.to_string()));
            section
                .unimplemented
                .extend(unimplemented.iter().map(|k| k.to_string()));
            rec.call_sites
                .insert(format!("{}:{}", site.file(), site.line()));
        }
    });
}

impl Recording {
    /// The reference as markdown: one line per section, its keys in order.
    pub fn markdown(&self, title: &str, key_prefix: &str) -> String {
        let mut out = format!("## {title}\n\n");
        for (path, section) in &self.sections {
            if section.keys.is_empty() && section.unimplemented.is_empty() {
                continue;
            }
            let name = if path.is_empty() {
                "(top level)".to_string()
            } else {
                format!("`{key_prefix}{path}`")
            };
            let keys: Vec<String> = section.keys.iter().map(|k| format!("`{k}`")).collect();
            out.push_str(&format!("- {name}: {}", keys.join(", ")));
            let later: Vec<&String> = section
                .unimplemented
                .iter()
                .filter(|k| !section.keys.contains(*k))
                .collect();
            if !later.is_empty() {
                let later: Vec<String> = later.iter().map(|k| format!("`{k}`")).collect();
                out.push_str(&format!(
                    " — accepted, not implemented (warned): {}",
                    later.join(", ")
                ));
            }
            out.push('\n');
        }
        out.push('\n');
        out
    }
}
