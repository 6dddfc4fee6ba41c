//! Provider constraints (`providers.docker.constraints`): the rule grammar with the leaves
//! ``Label(`key`, `value`)`` and ``LabelRegex(`key`, `regex`)``.

use std::fmt;

use regex::Regex;

use crate::ast::BoolExpr;
use crate::parser::{arity, check_regex, parse_with, BuildError, RuleError};

#[derive(Debug, Clone)]
pub enum Constraint {
    Label(String, String),
    /// Anchored like Go's `regexp.MatchString`: unanchored.
    LabelRegex(String, Regex),
}

impl PartialEq for Constraint {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Constraint::Label(a, b), Constraint::Label(c, d)) => a == c && b == d,
            (Constraint::LabelRegex(a, b), Constraint::LabelRegex(c, d)) => {
                a == c && b.as_str() == d.as_str()
            }
            _ => false,
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::Label(k, v) => write!(f, "Label(`{k}`, `{v}`)"),
            Constraint::LabelRegex(k, re) => write!(f, "LabelRegex(`{k}`, `{}`)", re.as_str()),
        }
    }
}

pub type ConstraintExpr = BoolExpr<Constraint>;

const NAMES: &[&str] = &["Label", "LabelRegex"];

fn build(name: &str, args: Vec<String>) -> Result<Constraint, BuildError> {
    arity(name, &args, &[2])?;
    let (key, value) = (args[0].clone(), args[1].clone());
    if key.to_ascii_lowercase().starts_with("traefik.") {
        return Err((
            format!("`{name}` cannot test `{key}`: labels under `traefik.` are not available to constraints"),
            Some("constrain on your own labels, e.g. Label(`com.example.expose`, `true`)".into()),
        ));
    }
    if name == "Label" {
        return Ok(Constraint::Label(key, value));
    }
    check_regex(name, &value)?;
    let re = Regex::new(&value).map_err(|e| (e.to_string(), None))?;
    Ok(Constraint::LabelRegex(key, re))
}

/// Parses a constraints expression.
pub fn parse_constraints(src: &str) -> Result<ConstraintExpr, RuleError> {
    parse_with(src, NAMES, "constraint", build)
}

impl ConstraintExpr {
    /// Whether a container with these labels satisfies the constraints.
    pub fn accepts(&self, label: &dyn Fn(&str) -> Option<String>) -> bool {
        self.eval(&mut |c| match c {
            Constraint::Label(k, v) => label(k).is_some_and(|l| &l == v),
            Constraint::LabelRegex(k, re) => label(k).is_some_and(|l| re.is_match(&l)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_parse_and_evaluate() {
        let c = parse_constraints("Label(`a`, `1`) && !LabelRegex(`env`, `^dev`)").unwrap();
        let labels = |a: Option<&str>, env: Option<&str>| {
            let (a, env) = (a.map(str::to_string), env.map(str::to_string));
            move |k: &str| match k {
                "a" => a.clone(),
                "env" => env.clone(),
                _ => None,
            }
        };
        assert!(c.accepts(&labels(Some("1"), Some("prod"))));
        assert!(!c.accepts(&labels(Some("1"), Some("dev-2"))));
        assert!(!c.accepts(&labels(None, None)));
        let err = parse_constraints("Label(`traefik.enable`, `true`)").unwrap_err();
        assert!(err.message.contains("cannot test `traefik.enable`"));
        let err = parse_constraints("Lable(`a`, `b`)").unwrap_err();
        assert_eq!(err.message, "unknown constraint `Lable`");
        assert_eq!(err.hint.as_deref(), Some("did you mean `Label`?"));
    }
}
