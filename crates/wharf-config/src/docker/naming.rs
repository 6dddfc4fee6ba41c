//! Traefik's name normalization and the `defaultRule` template.

use super::container::ContainerInfo;

/// Replaces each run of characters that are not ASCII letters or digits with one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
            dash = false;
        } else if !dash {
            out.push('-');
            dash = true;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot render `{template}`: {message}")]
pub struct DefaultRuleError {
    pub template: String,
    pub message: String,
}

/// Renders the subset of Go templates `defaultRule` uses in practice: `{{ .Name }}`,
/// `{{ .ContainerName }}`, `{{ index .Labels "key" }}`, each optionally piped through or
/// prefixed by `normalize`, `lower`, `upper` or `trim`.
pub fn render_default_rule(
    template: &str,
    name: &str,
    c: &ContainerInfo,
) -> Result<String, DefaultRuleError> {
    let err = |message: String| DefaultRuleError {
        template: template.to_string(),
        message,
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| err("unclosed `{{`".into()))?;
        let action = after[..end]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        out.push_str(&eval_action(action, name, c).map_err(err)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn eval_action(action: &str, name: &str, c: &ContainerInfo) -> Result<String, String> {
    // `a | f | g` pipelines and `f a` calls.
    let mut stages = action.split('|').map(str::trim);
    let first = stages.next().unwrap_or("");
    let mut value = eval_call(first, name, c)?;
    for f in stages {
        value = apply(f, &value)?;
    }
    Ok(value)
}

fn eval_call(expr: &str, name: &str, c: &ContainerInfo) -> Result<String, String> {
    let words: Vec<&str> = split_words(expr);
    match words.as_slice() {
        [".Name"] => Ok(name.to_string()),
        [".ContainerName"] => Ok(c.name.clone()),
        ["index", ".Labels", key] => {
            let key = key.trim_matches('"').trim_matches('`');
            Ok(c.label(key).unwrap_or("").to_string())
        }
        [f, rest @ ..] if !rest.is_empty() => {
            let inner = eval_call(&rest.join(" "), name, c)?;
            apply(f, &inner)
        }
        [literal] if literal.starts_with('"') && literal.ends_with('"') && literal.len() >= 2 => {
            Ok(literal[1..literal.len() - 1].to_string())
        }
        _ => Err(format!(
            "`{{{{ {expr} }}}}` is not supported (use .Name, .ContainerName, index .Labels \"key\", with normalize, lower, upper or trim)"
        )),
    }
}

fn split_words(expr: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut rest = expr.trim();
    while !rest.is_empty() {
        if rest.starts_with('"') {
            let end = rest[1..].find('"').map_or(rest.len(), |e| e + 2);
            words.push(&rest[..end]);
            rest = rest[end..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            words.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
    }
    words
}

fn apply(f: &str, value: &str) -> Result<String, String> {
    match f {
        "normalize" => Ok(normalize(value)),
        "lower" => Ok(value.to_lowercase()),
        "upper" => Ok(value.to_uppercase()),
        "trim" => Ok(value.trim().to_string()),
        other => Err(format!("template function `{other}` is not supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_like_traefik() {
        assert_eq!(normalize("web_myapp"), "web-myapp");
        assert_eq!(normalize("my..odd__name!"), "my-odd-name-");
        assert_eq!(normalize("Web1"), "Web1");
    }

    #[test]
    fn default_rule_templates() {
        let mut c = ContainerInfo {
            name: "proj-web-1".into(),
            ..Default::default()
        };
        c.labels.insert("domain".into(), "example.com".into());
        let r = |t: &str| render_default_rule(t, "web-proj", &c);
        assert_eq!(
            r("Host(`{{ normalize .Name }}`)").unwrap(),
            "Host(`web-proj`)"
        );
        assert_eq!(
            r("Host(`{{ .Name }}.{{ index .Labels \"domain\" }}`)").unwrap(),
            "Host(`web-proj.example.com`)"
        );
        assert_eq!(
            r("Host(`{{ .ContainerName | upper }}`)").unwrap(),
            "Host(`PROJ-WEB-1`)"
        );
        assert!(r("Host(`{{ .Nope }}`)")
            .unwrap_err()
            .message
            .contains("not supported"));
        assert!(r("Host(`{{ .Name `)").is_err());
    }
}
