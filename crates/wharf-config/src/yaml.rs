//! The one module that reads YAML. It builds a [`Node`] tree in which every key and value
//! carries its file:line:column, which serde-based parsers cannot report for valid input.
//! Swapping the YAML library means changing this file only.

use std::collections::HashMap;
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, ScanError};

use crate::node::{Key, Node, NodeValue};
use wharf_model::Origin;

/// A document that is not valid YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: invalid YAML: {message}")]
pub struct YamlError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl YamlError {
    pub fn origin(&self) -> Origin {
        Origin::file(&Arc::from(self.path.as_str()), self.line, self.column)
    }
}

/// Parses one YAML document. An empty document gives an empty map.
pub fn parse(text: &str, path: &str) -> Result<Node, YamlError> {
    let path: Arc<str> = Arc::from(path);
    let mut builder = Builder {
        path: path.clone(),
        stack: Vec::new(),
        root: None,
        anchors: HashMap::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut builder, false)
        .map_err(|e: ScanError| YamlError {
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
        pending_key: Option<Key>,
    },
    Seq {
        node: Node,
        anchor: usize,
    },
}

struct Builder {
    path: Arc<str>,
    stack: Vec<Frame>,
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    error: Option<YamlError>,
}

impl Builder {
    fn origin(&self, mark: Marker) -> Origin {
        Origin::file(&self.path, mark.line(), mark.col() + 1)
    }

    fn fail(&mut self, origin: &Origin, message: String) {
        if self.error.is_none() {
            if let Origin::File { path, line, column } = origin {
                self.error = Some(YamlError {
                    path: path.to_string(),
                    line: *line as usize,
                    column: *column as usize,
                    message,
                });
            }
        }
    }

    /// Attaches a finished node to its parent (or makes it the root).
    fn attach(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
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
                                if !entries.iter().any(|(e, _)| e.name == k.name) {
                                    entries.push((k, v));
                                }
                            }
                            return;
                        }
                        if let Some((dup, _)) = entries.iter().find(|(k, _)| k.name == key.name) {
                            let msg = format!(
                                "duplicate key `{}` (first defined at {})",
                                key.name, dup.origin
                            );
                            let origin = key.origin.clone();
                            self.fail(&origin, msg);
                            return;
                        }
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
                self.attach(Node::new(origin, node_value), anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                node: Node::new(origin, NodeValue::Seq(Vec::new())),
                anchor,
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                node: Node::new(origin, NodeValue::Map(Vec::new())),
                anchor,
                pending_key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    let (node, anchor) = match frame {
                        Frame::Map { node, anchor, .. } | Frame::Seq { node, anchor } => {
                            (node, anchor)
                        }
                    };
                    self.attach(node, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => self.attach(node, 0),
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
}
