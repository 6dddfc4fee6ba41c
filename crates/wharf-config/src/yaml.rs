//! The one module that reads YAML. It builds a [`Node`] tree in which every key and value
//! carries its file:line:column, which serde-based parsers cannot report for valid input.
//! Swapping the YAML library means changing this file only.

use std::collections::HashMap;
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, ScanError};

use crate::node::{Key, Node, NodeValue};
use wharf_model::Origin;

/// A configuration document that cannot be read (YAML here, TOML in [`crate::toml`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: invalid {format}: {message}")]
pub struct DocumentError {
    /// `YAML` or `TOML`.
    pub format: &'static str,
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl DocumentError {
    pub fn origin(&self) -> Origin {
        Origin::file(&Arc::from(self.path.as_str()), self.line, self.column)
    }
}

/// The largest document read; a configuration file is far smaller.
pub const MAX_DOCUMENT_BYTES: usize = 16 << 20;
/// The most values a document may hold once its aliases are expanded.
pub const MAX_VALUES: usize = 1_000_000;
/// The most values that aliases may add (a few levels of nested aliases multiply quickly:
/// nine aliases of nine aliases, nine levels deep, is 387 million values from 1 KiB).
pub const MAX_ALIASED_VALUES: usize = 100_000;
/// The deepest nesting of maps and lists.
pub const MAX_DEPTH: usize = 100;

/// Parses one YAML document. An empty document gives an empty map.
pub fn parse(text: &str, path: &str) -> Result<Node, DocumentError> {
    let path: Arc<str> = Arc::from(path);
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError {
            format: "YAML",
            path: path.to_string(),
            line: 1,
            column: 1,
            message: format!(
                "the document is {} bytes; at most {MAX_DOCUMENT_BYTES} are read",
                text.len()
            ),
        });
    }
    let mut builder = Builder {
        path: path.clone(),
        stack: Vec::new(),
        root: None,
        anchors: HashMap::new(),
        error: None,
        values: 0,
        aliased: 0,
    };
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut builder, false)
        .map_err(|e: ScanError| DocumentError {
            format: "YAML",
            path: path.to_string(),
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder
        .root
        .unwrap_or_else(|| Node::empty_map(Origin::file(&path, 1, 1))))
}

enum Frame {
    Map {
        node: Node,
        anchor: usize,
        /// The document's value count before this frame: its size is what was counted since.
        values_before: usize,
        pending_key: Option<Key>,
        /// The position of each key in the map's entries: a duplicate is found without
        /// scanning them (a file of 10,000 routers made that quadratic).
        positions: HashMap<String, usize>,
    },
    Seq {
        node: Node,
        anchor: usize,
        values_before: usize,
    },
}

struct Builder {
    path: Arc<str>,
    stack: Vec<Frame>,
    root: Option<Node>,
    /// Anchored nodes with their sizes (values in the subtree).
    anchors: HashMap<usize, (Node, usize)>,
    error: Option<DocumentError>,
    /// Values in the document so far, aliases expanded.
    values: usize,
    /// Of those, values copied by aliases.
    aliased: usize,
}

impl Builder {
    fn origin(&self, mark: Marker) -> Origin {
        Origin::file(&self.path, mark.line(), mark.col() + 1)
    }

    fn fail(&mut self, origin: &Origin, message: String) {
        if self.error.is_none() {
            if let Origin::File { path, line, column } = origin {
                self.error = Some(DocumentError {
                    format: "YAML",
                    path: path.to_string(),
                    line: *line as usize,
                    column: *column as usize,
                    message,
                });
            }
        }
    }

    /// Counts `size` more values in the document; false (and an error) beyond the limits.
    fn count(&mut self, size: usize, aliased: bool, origin: &Origin) -> bool {
        self.values = self.values.saturating_add(size);
        if aliased {
            self.aliased = self.aliased.saturating_add(size);
        }
        if self.aliased > MAX_ALIASED_VALUES {
            self.fail(
                origin,
                format!("aliases expand to more than {MAX_ALIASED_VALUES} values (an alias bomb?); write the values out or use fewer nested aliases"),
            );
            return false;
        }
        if self.values > MAX_VALUES {
            self.fail(
                origin,
                format!(
                    "the document holds more than {MAX_VALUES} values; split it into several files"
                ),
            );
            return false;
        }
        true
    }

    /// Opens a map or a list, unless that nests too deep.
    fn open(&mut self, frame: Frame, origin: &Origin) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(
                origin,
                format!("maps and lists nest more than {MAX_DEPTH} levels deep"),
            );
            return;
        }
        if self.count(1, false, origin) {
            self.stack.push(frame);
        }
    }

    /// Attaches a finished node of `size` values to its parent (or makes it the root).
    fn attach(&mut self, node: Node, anchor: usize, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { node: seq, .. }) => {
                if let NodeValue::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map {
                node: map,
                pending_key,
                positions,
                ..
            }) => match pending_key.take() {
                None => {
                    // This node is a key.
                    let name = match &node.value {
                        NodeValue::Scalar(s) => s.clone(),
                        NodeValue::Null => String::new(),
                        _ => {
                            let origin = node.origin.clone();
                            self.fail(&origin, "a map key must be a plain value".into());
                            return;
                        }
                    };
                    *pending_key = Some(Key {
                        name,
                        origin: node.origin,
                    });
                }
                Some(key) => {
                    if let NodeValue::Map(entries) = &mut map.value {
                        if key.name == "<<" {
                            // YAML merge key: copy entries not already set.
                            let merged: Vec<(Key, Node)> = match node.value {
                                NodeValue::Map(m) => m,
                                NodeValue::Seq(items) => items
                                    .into_iter()
                                    .flat_map(|n| match n.value {
                                        NodeValue::Map(m) => m,
                                        _ => Vec::new(),
                                    })
                                    .collect(),
                                _ => Vec::new(),
                            };
                            for (k, v) in merged {
                                if !positions.contains_key(&k.name) {
                                    positions.insert(k.name.clone(), entries.len());
                                    entries.push((k, v));
                                }
                            }
                            return;
                        }
                        if let Some((dup, _)) =
                            positions.get(&key.name).and_then(|&i| entries.get(i))
                        {
                            let msg = format!(
                                "duplicate key `{}` (first defined at {})",
                                key.name, dup.origin
                            );
                            let origin = key.origin.clone();
                            self.fail(&origin, msg);
                            return;
                        }
                        positions.insert(key.name.clone(), entries.len());
                        entries.push((key, node));
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let origin = self.origin(mark);
        match ev {
            Event::Scalar(value, style, anchor, _tag) => {
                let plain = matches!(style, yaml_rust2::scanner::TScalarStyle::Plain);
                let node_value =
                    if plain && matches!(value.as_str(), "~" | "null" | "Null" | "NULL" | "") {
                        NodeValue::Null
                    } else {
                        NodeValue::Scalar(value)
                    };
                if self.count(1, false, &origin) {
                    self.attach(Node::new(origin, node_value), anchor, 1);
                }
            }
            Event::SequenceStart(anchor, _) => self.open(
                Frame::Seq {
                    node: Node::new(origin.clone(), NodeValue::Seq(Vec::new())),
                    anchor,
                    values_before: self.values,
                },
                &origin,
            ),
            Event::MappingStart(anchor, _) => self.open(
                Frame::Map {
                    node: Node::new(origin.clone(), NodeValue::Map(Vec::new())),
                    anchor,
                    values_before: self.values,
                    pending_key: None,
                    positions: HashMap::new(),
                },
                &origin,
            ),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    let (node, anchor, values_before) = match frame {
                        Frame::Map {
                            node,
                            anchor,
                            values_before,
                            ..
                        }
                        | Frame::Seq {
                            node,
                            anchor,
                            values_before,
                        } => (node, anchor, values_before),
                    };
                    // Aliases inside were counted expanded: the subtree's full size.
                    let size = self.values - values_before;
                    self.attach(node, anchor, size);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).map(|(_, size)| *size) {
                // Counted before it is copied: a bomb is refused before it takes memory.
                Some(size) => {
                    if self.count(size, true, &origin) {
                        if let Some((node, _)) = self.anchors.get(&id).cloned() {
                            self.attach(node, 0, size);
                        }
                    }
                }
                None => self.fail(&origin, "alias to an unknown anchor".into()),
            },
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd
            | Event::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_kept() {
        let doc = "http:\n  routers:\n    r1:\n      rule: \"Host(`a`)\"\n";
        let root = parse(doc, "d.yml").unwrap();
        let r1 = root
            .get("http")
            .unwrap()
            .get("routers")
            .unwrap()
            .get("r1")
            .unwrap();
        let rule = r1.get("rule").unwrap();
        assert_eq!(rule.as_scalar(), Some("Host(`a`)"));
        assert_eq!(rule.origin.to_string(), "d.yml:4:13");
        let key = &root.get("http").unwrap().get("routers").unwrap().entries()[0].0;
        assert_eq!(key.origin.to_string(), "d.yml:3:5");
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = parse("http: [broken", "bad.yml").unwrap_err();
        assert_eq!(err.path, "bad.yml");
        assert!(
            err.to_string()
                .starts_with(&format!("bad.yml:{}:", err.line)),
            "{err}"
        );
        let err = parse("a: 1\n  b: [\nc: d\n", "bad2.yml").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse("a: 1\na: 2\n", "dup.yml").unwrap_err();
        assert!(err.message.contains("duplicate key `a`"), "{err}");
        assert_eq!(err.line, 2);
    }

    #[test]
    fn empty_document_and_nulls() {
        assert_eq!(parse("", "e.yml").unwrap().entries().len(), 0);
        let root = parse("ping:\napi: ~\n", "n.yml").unwrap();
        assert_eq!(root.get("ping").unwrap().value, NodeValue::Null);
        assert_eq!(root.get("API").unwrap().value, NodeValue::Null);
    }

    #[test]
    fn anchors_and_merge_keys() {
        let root = parse("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "m.yml").unwrap();
        let other = root.get("other").unwrap();
        assert_eq!(other.get("x").unwrap().as_scalar(), Some("1"));
        assert_eq!(other.get("y").unwrap().as_scalar(), Some("2"));
    }

    #[test]
    fn alias_bombs_are_refused_before_they_take_memory() {
        // Nine levels of nine aliases: 387 million values from under 1 KiB.
        let bomb = include_str!("../../../fuzz/corpus/dynamic_yaml/seed-alias-bomb");
        let err = parse(bomb, "bomb.yml").unwrap_err();
        assert!(err.message.contains("alias bomb"), "{err}");
        assert!(
            err.line >= 5,
            "located at the alias that crosses the limit: {err}"
        );
        // Ordinary aliasing is fine.
        let root = parse("a: &a {x: 1}\nb: *a\nc: [*a, *a]\n", "ok.yml").unwrap();
        assert_eq!(
            root.get("b").unwrap().get("x").unwrap().as_scalar(),
            Some("1")
        );
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(&deep, "deep.yml").unwrap_err();
        assert!(
            err.message.contains("nest more than") || err.message.contains("recursion limit"),
            "{err}"
        );
        let nested_maps: String = (0..150)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect();
        let err = parse(&nested_maps, "maps.yml").unwrap_err();
        assert!(err.message.contains("nest more than"), "{err}");
        let big = "#".repeat(MAX_DOCUMENT_BYTES + 1);
        let err = parse(&big, "big.yml").unwrap_err();
        assert!(err.message.contains("at most"), "{err}");
    }
}
