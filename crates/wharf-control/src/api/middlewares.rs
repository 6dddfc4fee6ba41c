//! Middlewares in the API: each as written (its options, with scalar types inferred: `true`
//! is a boolean, `100` a number), enabled or disabled, and the routers that use it.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use wharf_config::{Node, NodeValue};
use wharf_model::QualifiedName;
use wharf_router::ApiItem;

use super::{item, problems, ApiInputs};

/// A node as JSON: maps, lists, and scalars typed as YAML would type them.
fn to_json(n: &Node) -> Value {
    match &n.value {
        NodeValue::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        NodeValue::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        NodeValue::Null => Value::Object(Map::new()),
        NodeValue::Scalar(s) => match s.as_str() {
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            _ => s
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| {
                    s.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite() && s.contains('.'))
                        .map(Value::from)
                        .ok_or(())
                })
                .unwrap_or_else(|()| Value::from(s.clone())),
        },
    }
}

/// Middlewares (qualified) -> the routers (and entrypoints' routers) that use them.
fn used_by(routers: &[ApiItem]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in routers {
        for m in &r.middlewares {
            out.entry(m.clone()).or_default().push(r.name.clone());
        }
    }
    for list in out.values_mut() {
        list.sort();
        list.dedup();
    }
    out
}

pub(super) fn render(inputs: &ApiInputs<'_>, routers: &[ApiItem]) -> Vec<ApiItem> {
    let used = used_by(routers);
    let mut out = Vec::new();
    for p in inputs.raw {
        for (name, raw) in &p.raw.middlewares {
            let qualified = QualifiedName::new(name, &p.provider);
            let dropped = !inputs.config.middlewares.contains_key(&qualified);
            let mut v = json!({
                "name": qualified.as_str(),
                "provider": p.provider.as_str(),
                "type": raw.kind.to_ascii_lowercase(),
            });
            v[raw.kind.as_str()] = to_json(&raw.body);
            if let Some(by) = used.get(qualified.as_str()) {
                v["usedBy"] = json!(by);
            }
            problems(inputs.issues, "middleware", qualified.as_str(), dropped).apply(&mut v);
            out.push(item(qualified.as_str(), v));
        }
    }
    if inputs
        .statics
        .api
        .as_ref()
        .is_some_and(|a| a.insecure && a.dashboard)
    {
        out.extend(dashboard_middlewares(&used));
    }
    out
}

/// The dashboard router's two middlewares, as Traefik lists them.
fn dashboard_middlewares(used: &BTreeMap<String, Vec<String>>) -> Vec<ApiItem> {
    let mut redirect = json!({
        "redirectRegex": {
            "regex": r"^(http:\/\/(\[[\w:.]+\]|[\w\._-]+)(:\d+)?)\/$",
            "replacement": "${1}/dashboard/",
            "permanent": true,
        },
        "status": "enabled",
        "name": "dashboard_redirect@internal",
        "provider": "internal",
        "type": "redirectregex",
    });
    let mut strip = json!({
        "stripPrefix": { "prefixes": ["/dashboard/", "/dashboard"] },
        "status": "enabled",
        "name": "dashboard_stripprefix@internal",
        "provider": "internal",
        "type": "stripprefix",
    });
    for v in [&mut redirect, &mut strip] {
        let name = v["name"].as_str().unwrap_or_default().to_string();
        if let Some(by) = used.get(&name) {
            v["usedBy"] = json!(by);
        }
    }
    vec![
        item("dashboard_redirect@internal", redirect),
        item("dashboard_stripprefix@internal", strip),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_model::Origin;

    #[test]
    fn scalars_are_typed_as_yaml_would() {
        let s = |v: &str| Node::scalar(Origin::Default, v);
        assert_eq!(to_json(&s("true")), json!(true));
        assert_eq!(to_json(&s("100")), json!(100));
        assert_eq!(to_json(&s("-1")), json!(-1));
        assert_eq!(to_json(&s("0.5")), json!(0.5));
        assert_eq!(to_json(&s("inf")), json!("inf"));
        assert_eq!(to_json(&s("10s")), json!("10s"));
    }
}
