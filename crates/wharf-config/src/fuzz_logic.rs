//! What the fuzz targets check, kept in the crate so ordinary tests can replay the corpus.

use wharf_model::ProviderName;

use crate::{decode_dynamic, decode_static, flags_to_node, validate, yaml, ProviderConfig};

/// A dynamic file of arbitrary bytes: parse, decode and validate must never panic, and every
/// reported position must lie inside the document.
pub fn dynamic_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // YAML breaks lines at \n, \r\n and a lone \r.
    let lines = text.replace("\r\n", "\n").matches(['\n', '\r']).count() + 2;
    match yaml::parse(text, "fuzz.yml") {
        Err(e) => assert!(e.line <= lines, "line {} of {lines}", e.line),
        Ok(root) => {
            let (raw, _issues) = decode_dynamic(&root);
            let statics = decode_static(&yaml::parse("", "s.yml").expect("empty")).0;
            let _validated = validate(
                &[ProviderConfig {
                    provider: ProviderName::new("file"),
                    raw,
                }],
                &statics,
            );
        }
    }
}

/// Arbitrary command-line flags (one per line) must decode or be rejected, never panic.
pub fn static_flags(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<String> = text.lines().map(str::to_string).collect();
    let _decoded = decode_static(&flags_to_node(&args));
}
