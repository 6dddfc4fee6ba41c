//! The raw configuration tree every source lowers into (YAML file, flags, env, labels):
//! string leaves, maps with ordered keys, sequences; every key and value keeps its origin.

use wharf_model::Origin;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub origin: Origin,
    pub value: NodeValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Map(Vec<(Key, Node)>),
    Seq(Vec<Node>),
    /// A scalar as written (YAML types are resolved by the decoder that knows the field).
    Scalar(String),
    /// YAML `~`/`null` or an empty value: present, with no content (`ping:` enables ping).
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub origin: Origin,
}

impl Node {
    pub fn new(origin: Origin, value: NodeValue) -> Self {
        Node { origin, value }
    }

    pub fn empty_map(origin: Origin) -> Self {
        Node::new(origin, NodeValue::Map(Vec::new()))
    }

    pub fn scalar(origin: Origin, value: impl Into<String>) -> Self {
        Node::new(origin, NodeValue::Scalar(value.into()))
    }

    /// Equal content, wherever it came from (origins ignored; map order ignored).
    pub fn same_content(&self, other: &Node) -> bool {
        match (&self.value, &other.value) {
            (NodeValue::Scalar(a), NodeValue::Scalar(b)) => a == b,
            (NodeValue::Null, NodeValue::Null) => true,
            (NodeValue::Seq(a), NodeValue::Seq(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_content(y))
            }
            (NodeValue::Map(a), NodeValue::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| other.get(&k.name).is_some_and(|w| v.same_content(w)))
            }
            _ => false,
        }
    }

    /// The child under `name` (case-insensitive), if this is a map.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Node> {
        match &mut self.value {
            NodeValue::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.name.eq_ignore_ascii_case(name))
                .map(|(_, n)| n),
            _ => None,
        }
    }

    /// Removes and returns the child under `name` (case-insensitive).
    pub fn remove(&mut self, name: &str) -> Option<Node> {
        match &mut self.value {
            NodeValue::Map(entries) => {
                let idx = entries
                    .iter()
                    .position(|(k, _)| k.name.eq_ignore_ascii_case(name))?;
                Some(entries.remove(idx).1)
            }
            _ => None,
        }
    }

    /// Sets `name` to `value`, replacing an existing child (case-insensitive).
    pub fn set(&mut self, name: &str, value: Node) {
        if !matches!(self.value, NodeValue::Map(_)) {
            self.value = NodeValue::Map(Vec::new());
        }
        if let Some(existing) = self.get_mut(name) {
            *existing = value;
            return;
        }
        if let NodeValue::Map(entries) = &mut self.value {
            entries.push((
                Key {
                    name: name.to_string(),
                    origin: value.origin.clone(),
                },
                value,
            ));
        }
    }

    pub fn entries(&self) -> &[(Key, Node)] {
        match &self.value {
            NodeValue::Map(m) => m,
            _ => &[],
        }
    }

    /// Case-insensitive child lookup (Traefik matches keys without case).
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|(k, _)| k.name.eq_ignore_ascii_case(name))
            .map(|(_, n)| n)
    }

    /// Inserts a value at a dotted path of keys, creating maps on the way (flags, env, labels).
    /// Existing scalars on the way are replaced by maps: the deeper, more specific key wins.
    pub fn insert_path(&mut self, path: &[&str], leaf: Node) {
        let Some((first, rest)) = path.split_first() else {
            *self = leaf;
            return;
        };
        if !matches!(self.value, NodeValue::Map(_)) {
            self.value = NodeValue::Map(Vec::new());
        }
        let origin = leaf.origin.clone();
        let NodeValue::Map(entries) = &mut self.value else {
            unreachable!()
        };
        let idx = match entries
            .iter()
            .position(|(k, _)| k.name.eq_ignore_ascii_case(first))
        {
            Some(i) => i,
            None => {
                entries.push((
                    Key {
                        name: (*first).to_string(),
                        origin: origin.clone(),
                    },
                    Node::empty_map(origin),
                ));
                entries.len() - 1
            }
        };
        entries[idx].1.insert_path(rest, leaf);
    }

    /// The scalar text, if this is a scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self.value {
            NodeValue::Map(_) => "a map",
            NodeValue::Seq(_) => "a list",
            NodeValue::Scalar(_) => "a value",
            NodeValue::Null => "empty",
        }
    }
}

/// Splits a dotted key (label, flag) `a.b[0].c` into `a`, `b`, `0`, `c`.
pub fn key_segments(key: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for part in key.split('.') {
        match part.find('[') {
            Some(open) if part.ends_with(']') => {
                out.push(&part[..open]);
                out.push(&part[open + 1..part.len() - 1]);
            }
            _ => out.push(part),
        }
    }
    out
}
