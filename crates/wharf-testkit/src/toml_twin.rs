//! A YAML configuration's TOML twin, for differential tests that feed the same configuration to
//! wharf and Traefik in both formats. Every top-level key becomes one line holding an inline
//! table, so any YAML document of maps, lists and scalars has a faithful twin; YAML's types are
//! kept (integers, floats and booleans unquoted, everything else a string).

use yaml_rust2::{Yaml, YamlLoader};

/// The TOML twin of `yaml` (one document). Panics on invalid YAML: test input only.
pub fn yaml_to_toml(yaml: &str) -> String {
    let docs = YamlLoader::load_from_str(yaml).expect("valid YAML");
    let mut out = String::new();
    if let Some(Yaml::Hash(root)) = docs.first() {
        for (k, v) in root {
            out.push_str(&format!("{} = {}\n", key(k), value(v)));
        }
    }
    out
}

fn key(k: &Yaml) -> String {
    let text = match k {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        _ => String::new(),
    };
    let bare = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        text
    } else {
        string(&text)
    }
}

fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn value(v: &Yaml) -> String {
    match v {
        Yaml::Hash(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", key(k), value(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Yaml::Array(list) => {
            let items: Vec<String> = list.iter().map(value).collect();
            format!("[{}]", items.join(", "))
        }
        Yaml::String(s) => string(s),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Real(r) => r.clone(),
        Yaml::Boolean(b) => b.to_string(),
        // YAML's `key:` with nothing (an empty section): an empty table.
        _ => "{}".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lists_and_types_survive() {
        let yaml = "http:\n  routers:\n    r:\n      rule: \"Host(`a`) && Path(`/\\\"q`)\"\n      priority: 10\n      tls: {}\n      entryPoints: [web, \"web secure\"]\n  services:\n    s: {loadBalancer: {passHostHeader: false, servers: [{url: \"http://a\"}]}}\n";
        assert_eq!(
            yaml_to_toml(yaml),
            "http = {routers = {r = {rule = \"Host(`a`) && Path(`/\\\"q`)\", priority = 10, tls = {}, entryPoints = [\"web\", \"web secure\"]}}, services = {s = {loadBalancer = {passHostHeader = false, servers = [{url = \"http://a\"}]}}}}\n"
        );
    }
}
