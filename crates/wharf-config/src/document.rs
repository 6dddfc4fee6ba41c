//! A configuration file's text into a [`Node`] tree, by its extension: `.toml` is TOML, anything
//! else YAML (as Traefik reads `traefik.toml`, `traefik.yml` and the file provider's files).

use std::path::Path;

use crate::node::Node;
use crate::yaml::DocumentError;

pub fn parse_document(text: &str, path: &Path) -> Result<Node, DocumentError> {
    let name = path.display().to_string();
    let toml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    if toml {
        crate::toml::parse(text, &name)
    } else {
        crate::yaml::parse(text, &name)
    }
}
