//! The one module that reads TOML (`traefik.toml`, `.toml` dynamic files). toml_edit's
//! `Document` keeps the byte span of every key and value; they become file:line:column origins
//! in the same [`Node`] tree YAML lowers into, so decoding, errors and hints are shared.
//! Scalars are kept as written text, as YAML's are (`true`, `42`, `1.5`, strings unquoted).

use std::sync::Arc;

use toml_edit::{Item, Table, Value};
use wharf_model::Origin;

use crate::node::{Key, Node, NodeValue};
use crate::yaml::{DocumentError, MAX_DEPTH, MAX_DOCUMENT_BYTES};

/// Byte offset -> 1-based line and column (in characters).
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
    path: Arc<str>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str, path: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines {
            text,
            starts,
            path: Arc::from(path),
        }
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset.min(self.text.len()))
            .map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }

    fn origin(&self, span: Option<std::ops::Range<usize>>, fallback: &Origin) -> Origin {
        match span {
            Some(r) => {
                let (line, column) = self.position(r.start);
                Origin::file(&self.path, line, column)
            }
            None => fallback.clone(),
        }
    }
}

/// Parses one TOML document into a [`Node`] map.
pub fn parse(text: &str, path: &str) -> Result<Node, DocumentError> {
    let lines = Lines::new(text, path);
    let error = |offset: usize, message: String| {
        let (line, column) = lines.position(offset);
        DocumentError {
            format: "TOML",
            path: path.to_string(),
            line,
            column,
            message,
        }
    };
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(error(
            0,
            format!("the document is over {MAX_DOCUMENT_BYTES} bytes"),
        ));
    }
    let doc = toml_edit::Document::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |r| r.start);
        // The message's first line; toml_edit adds a rendering of the source after it.
        let message = e.message().lines().next().unwrap_or("").trim().to_string();
        error(offset, message)
    })?;
    let root = Origin::file(&lines.path, 1, 1);
    let table = doc
        .as_item()
        .as_table()
        .ok_or_else(|| error(0, "the document is not a table".into()))?;
    table_node(table, &lines, &root, 0)
        .map_err(|offset| error(offset, format!("nesting deeper than {MAX_DEPTH} levels")))
}

/// Depth errors carry the offset where the limit was crossed.
type Lowered = Result<Node, usize>;

fn table_node(table: &Table, lines: &Lines<'_>, origin: &Origin, depth: usize) -> Lowered {
    if depth > MAX_DEPTH {
        return Err(table.span().map_or(0, |r| r.start));
    }
    let mut entries = Vec::new();
    for (name, item) in table.iter() {
        let key_origin = lines.origin(table.key(name).and_then(|k| k.span()), origin);
        let value = item_node(item, lines, &key_origin, depth + 1)?;
        entries.push((
            Key {
                name: name.to_string(),
                origin: key_origin,
            },
            value,
        ));
    }
    Ok(Node::new(origin.clone(), NodeValue::Map(entries)))
}

fn item_node(item: &Item, lines: &Lines<'_>, key_origin: &Origin, depth: usize) -> Lowered {
    match item {
        Item::None => Ok(Node::new(key_origin.clone(), NodeValue::Null)),
        Item::Value(v) => value_node(v, lines, key_origin, depth),
        Item::Table(t) => table_node(t, lines, key_origin, depth),
        Item::ArrayOfTables(list) => {
            let mut items = Vec::new();
            for t in list.iter() {
                let origin = lines.origin(t.span(), key_origin);
                items.push(table_node(t, lines, &origin, depth + 1)?);
            }
            Ok(Node::new(key_origin.clone(), NodeValue::Seq(items)))
        }
    }
}

fn value_node(v: &Value, lines: &Lines<'_>, key_origin: &Origin, depth: usize) -> Lowered {
    if depth > MAX_DEPTH {
        return Err(v.span().map_or(0, |r| r.start));
    }
    let origin = lines.origin(v.span(), key_origin);
    let scalar = |text: String| Ok(Node::scalar(origin.clone(), text));
    match v {
        Value::String(s) => scalar(s.value().clone()),
        Value::Integer(i) => scalar(i.value().to_string()),
        Value::Float(f) => scalar(f.value().to_string()),
        Value::Boolean(b) => scalar(b.value().to_string()),
        Value::Datetime(d) => scalar(d.value().to_string()),
        Value::Array(a) => {
            let mut items = Vec::new();
            for item in a.iter() {
                items.push(value_node(item, lines, &origin, depth + 1)?);
            }
            Ok(Node::new(origin.clone(), NodeValue::Seq(items)))
        }
        Value::InlineTable(t) => {
            let mut entries = Vec::new();
            for (name, value) in t.iter() {
                let key_origin = lines.origin(t.key(name).and_then(|k| k.span()), &origin);
                let node = value_node(value, lines, &key_origin, depth + 1)?;
                entries.push((
                    Key {
                        name: name.to_string(),
                        origin: key_origin,
                    },
                    node,
                ));
            }
            Ok(Node::new(origin.clone(), NodeValue::Map(entries)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_keep_their_positions() {
        let text = "[entryPoints.web]\naddress = \":80\"\n\n[http.routers.r]\nrule = \"Host(`a`)\"\nentryPoints = [\"web\", \"websecure\"]\npriority = 10\ntls = {}\n";
        let root = parse(text, "t.toml").expect("toml");
        let web = root
            .get("entryPoints")
            .and_then(|e| e.get("web"))
            .expect("web");
        let address = web.get("address").expect("address");
        assert_eq!(address.as_scalar(), Some(":80"));
        assert_eq!(address.origin.to_string(), "t.toml:2:11");
        let (key, _) = &web.entries()[0];
        assert_eq!(key.origin.to_string(), "t.toml:2:1");
        let router = root
            .get("http")
            .and_then(|h| h.get("routers"))
            .and_then(|r| r.get("r"))
            .expect("r");
        assert_eq!(router.get("priority").and_then(Node::as_scalar), Some("10"));
        assert!(
            matches!(&router.get("entryPoints").expect("eps").value, NodeValue::Seq(v) if v.len() == 2)
        );
        assert!(
            matches!(&router.get("tls").expect("tls").value, NodeValue::Map(m) if m.is_empty())
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse("[a]\nb = \n", "bad.toml").expect_err("invalid");
        assert_eq!((err.line, err.format), (2, "TOML"));
        assert!(err.to_string().starts_with("bad.toml:2:"), "{err}");
    }

    #[test]
    fn arrays_of_tables_become_lists_of_maps() {
        let root = parse(
            "[[http.services.s.loadBalancer.servers]]\nurl = \"http://a\"\n[[http.services.s.loadBalancer.servers]]\nurl = \"http://b\"\n",
            "s.toml",
        )
        .expect("toml");
        let servers = root
            .get("http")
            .and_then(|h| h.get("services"))
            .and_then(|s| s.get("s"))
            .and_then(|s| s.get("loadBalancer"))
            .and_then(|l| l.get("servers"))
            .expect("servers");
        match &servers.value {
            NodeValue::Seq(items) => {
                let urls: Vec<_> = items
                    .iter()
                    .filter_map(|i| i.get("url")?.as_scalar())
                    .collect();
                assert_eq!(urls, ["http://a", "http://b"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
