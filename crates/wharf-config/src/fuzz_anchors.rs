//! What the `yaml_anchors` fuzz target checks: YAML documents built from the fuzz input as
//! anchors and aliases nested in every shape (maps, lists, merge keys), so alias expansion is
//! what gets exercised rather than YAML syntax.

use crate::yaml;

/// Builds a document from `data` (each byte picks what the next line does) and parses it:
/// never a panic, a bounded size when accepted, and a refusal that names the limit.
pub fn yaml_anchors(data: &[u8]) {
    let mut doc = String::new();
    let mut anchors = 0usize;
    for (line, chunk) in data.chunks(3).take(64).enumerate() {
        let op = chunk[0] % 5;
        let width = usize::from(chunk.get(1).copied().unwrap_or(1) % 12) + 1;
        let pick = |k: usize| -> usize {
            if anchors == 0 {
                0
            } else {
                (usize::from(chunk.get(2).copied().unwrap_or(0)) + k) % anchors
            }
        };
        let aliases = |doc: &mut String| {
            for k in 0..width {
                if anchors == 0 {
                    doc.push_str("x, ");
                } else {
                    doc.push_str(&format!("*a{}, ", pick(k)));
                }
            }
        };
        match op {
            0 => {
                doc.push_str(&format!("k{line}: &a{anchors} ["));
                aliases(&mut doc);
                doc.push_str("]\n");
                anchors += 1;
            }
            1 => {
                doc.push_str(&format!("k{line}: &a{anchors} {{"));
                for k in 0..width {
                    if anchors == 0 {
                        doc.push_str(&format!("f{k}: x, "));
                    } else {
                        doc.push_str(&format!("f{k}: *a{}, ", pick(k)));
                    }
                }
                doc.push_str("}\n");
                anchors += 1;
            }
            2 if anchors > 0 => {
                doc.push_str(&format!("k{line}:\n  <<: *a{}\n  own: 1\n", pick(0)));
            }
            3 => {
                doc.push_str(&format!("k{line}: &a{anchors} plain\n"));
                anchors += 1;
            }
            _ => {
                doc.push_str(&format!("k{line}: ["));
                aliases(&mut doc);
                doc.push_str("]\n");
            }
        }
    }
    match yaml::parse(&doc, "anchors.yml") {
        Ok(root) => assert!(count(&root) <= yaml::MAX_VALUES, "over the limit"),
        Err(e) => assert!(
            !e.message.is_empty() && e.line >= 1,
            "a refusal says where and why: {e}"
        ),
    }
}

fn count(node: &crate::node::Node) -> usize {
    use crate::node::NodeValue;
    match &node.value {
        NodeValue::Map(entries) => 1 + entries.iter().map(|(_, v)| 1 + count(v)).sum::<usize>(),
        NodeValue::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        _ => 1,
    }
}
