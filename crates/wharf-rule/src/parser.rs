//! Recursive-descent parser: `||` binds looser than `&&`, which binds looser than prefix `!`.
//! Every matcher's arguments are validated here, so a rule that parses also compiles.

use std::net::IpAddr;

use crate::ast::{BoolExpr, Expr, Matcher};
use crate::lexer::{tokenize, Spanned, Token};

/// A rule that cannot be used, with the 1-based column it points at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct RuleError {
    pub message: String,
    pub column: usize,
    pub hint: Option<String>,
}

impl RuleError {
    pub(crate) fn at(src: &str, offset: usize, message: String, hint: Option<String>) -> Self {
        let column = src[..offset.min(src.len())].chars().count() + 1;
        RuleError {
            message,
            column,
            hint,
        }
    }
}

const MATCHERS: &[&str] = &[
    "Host",
    "HostRegexp",
    "Path",
    "PathPrefix",
    "PathRegexp",
    "Method",
    "Header",
    "HeaderRegexp",
    "Query",
    "QueryRegexp",
    "ClientIP",
];

/// Parses a v3 rule.
pub fn parse(src: &str) -> Result<Expr, RuleError> {
    parse_with(src, MATCHERS, "matcher", build_matcher)
}

/// How a language turns a call `Name(args...)` into a leaf; `name` is one of its names.
pub(crate) type LeafBuilder<L> = fn(&str, Vec<String>) -> Result<L, BuildError>;

/// Parses `src` in the boolean language whose leaves are calls to `names`.
pub(crate) fn parse_with<L>(
    src: &str,
    names: &'static [&'static str],
    what: &'static str,
    build: LeafBuilder<L>,
) -> Result<BoolExpr<L>, RuleError> {
    let tokens = tokenize(src)?;
    if tokens.is_empty() {
        return Err(RuleError::at(
            src,
            0,
            "the rule is empty".into(),
            Some("write a matcher, e.g. Host(`example.com`)".into()),
        ));
    }
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        names,
        what,
        build,
    };
    let expr = p.or()?;
    if let Some(t) = p.peek() {
        let offset = t.offset;
        return Err(RuleError::at(
            src,
            offset,
            format!("unexpected {}", describe(&t.token)),
            Some("combine matchers with `&&` or `||`".into()),
        ));
    }
    Ok(expr)
}

struct Parser<'a, L> {
    src: &'a str,
    tokens: Vec<Spanned>,
    pos: usize,
    names: &'static [&'static str],
    what: &'static str,
    build: LeafBuilder<L>,
}

fn describe(t: &Token) -> String {
    match t {
        Token::Ident(s) => format!("`{s}`"),
        Token::Str(s) => format!("value `{s}`"),
        Token::LParen => "`(`".into(),
        Token::RParen => "`)`".into(),
        Token::Comma => "`,`".into(),
        Token::And => "`&&`".into(),
        Token::Or => "`||`".into(),
        Token::Not => "`!`".into(),
    }
}

impl<L> Parser<'_, L> {
    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.pos)
    }

    fn end_offset(&self) -> usize {
        self.src.len()
    }

    fn err_here(&self, message: String, hint: Option<String>) -> RuleError {
        let offset = self.peek().map_or(self.end_offset(), |t| t.offset);
        RuleError::at(self.src, offset, message, hint)
    }

    fn or(&mut self) -> Result<BoolExpr<L>, RuleError> {
        let mut left = self.and()?;
        while matches!(
            self.peek(),
            Some(Spanned {
                token: Token::Or,
                ..
            })
        ) {
            self.pos += 1;
            let right = self.and()?;
            left = BoolExpr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<BoolExpr<L>, RuleError> {
        let mut left = self.unary()?;
        while matches!(
            self.peek(),
            Some(Spanned {
                token: Token::And,
                ..
            })
        ) {
            self.pos += 1;
            let right = self.unary()?;
            left = BoolExpr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<BoolExpr<L>, RuleError> {
        match self.peek().map(|t| &t.token) {
            Some(Token::Not) => {
                self.pos += 1;
                Ok(BoolExpr::Not(Box::new(self.unary()?)))
            }
            Some(Token::LParen) => {
                self.pos += 1;
                let inner = self.or()?;
                self.expect_rparen("close the group with `)`")?;
                Ok(inner)
            }
            Some(Token::Ident(_)) => self.matcher(),
            Some(other) => Err(self.err_here(
                format!("expected a {}, found {}", self.what, describe(other)),
                None,
            )),
            None => Err(self.err_here(
                format!("the expression ends where a {} was expected", self.what),
                None,
            )),
        }
    }

    fn expect_rparen(&mut self, hint: &str) -> Result<(), RuleError> {
        match self.peek() {
            Some(Spanned {
                token: Token::RParen,
                ..
            }) => {
                self.pos += 1;
                Ok(())
            }
            Some(t) => Err(self.err_here(
                format!("expected `)`, found {}", describe(&t.token)),
                Some(hint.into()),
            )),
            None => Err(self.err_here("missing `)`".into(), Some(hint.into()))),
        }
    }

    fn matcher(&mut self) -> Result<BoolExpr<L>, RuleError> {
        let Some(Spanned {
            token: Token::Ident(name),
            offset,
        }) = self.peek().cloned()
        else {
            unreachable!("matcher() is called on an identifier");
        };
        self.pos += 1;
        if !self.names.contains(&name.as_str()) {
            let v2 = match name.as_str() {
                "Headers" => Some("Header"),
                "HeadersRegexp" => Some("HeaderRegexp"),
                "HostHeader" => Some("Host"),
                _ => None,
            }
            .filter(|v3| self.names.contains(v3))
            .map(|v3| format!("a v2 rule: `{name}` is `{v3}` in v3"));
            let hint = v2.or_else(|| {
                nearest_name(&name, self.names).map(|m| format!("did you mean `{m}`?"))
            });
            return Err(RuleError::at(
                self.src,
                offset,
                format!("unknown {} `{name}`", self.what),
                hint.or_else(|| Some(format!("known: {}", self.names.join(", ")))),
            ));
        }
        match self.peek() {
            Some(Spanned {
                token: Token::LParen,
                ..
            }) => self.pos += 1,
            _ => {
                return Err(self.err_here(
                    format!("expected `(` after `{name}`"),
                    Some(format!("write {name}(`value`)")),
                ))
            }
        }
        let mut args = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Spanned {
                    token: Token::Str(s),
                    ..
                }) => {
                    args.push(s);
                    self.pos += 1;
                    match self.peek().map(|t| &t.token) {
                        Some(Token::Comma) => self.pos += 1,
                        Some(Token::RParen) => {
                            self.pos += 1;
                            break;
                        }
                        None => {
                            return Err(
                                self.err_here(format!("missing `)` to close `{name}(`"), None)
                            )
                        }
                        _ => {
                            return Err(self.err_here(
                                format!("expected `,` or `)` in the arguments of `{name}`"),
                                None,
                            ))
                        }
                    }
                }
                Some(Spanned {
                    token: Token::RParen,
                    ..
                }) if args.is_empty() => {
                    self.pos += 1;
                    break;
                }
                Some(Spanned {
                    token: Token::Ident(word),
                    ..
                }) => {
                    return Err(self.err_here(
                        format!("the argument `{word}` of `{name}` is not quoted"),
                        Some(format!("quote it with backticks: {name}(`{word}`)")),
                    ))
                }
                _ => {
                    return Err(self.err_here(
                        format!("expected a quoted value in the arguments of `{name}`"),
                        Some(format!("write {name}(`value`)")),
                    ))
                }
            }
        }
        (self.build)(&name, args)
            .map(BoolExpr::Leaf)
            .map_err(|(message, hint)| RuleError::at(self.src, offset, message, hint))
    }
}

fn nearest_name(name: &str, names: &'static [&'static str]) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    names
        .iter()
        .map(|m| (m, levenshtein(&lower, &m.to_ascii_lowercase())))
        .filter(|(_, d)| *d <= 3)
        .min_by_key(|(_, d)| *d)
        .map(|(m, _)| *m)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

pub(crate) type BuildError = (String, Option<String>);

pub(crate) fn arity(name: &str, args: &[String], allowed: &[usize]) -> Result<(), BuildError> {
    if allowed.contains(&args.len()) {
        return Ok(());
    }
    let expected = allowed
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(" or ");
    let hint = if args.len() > 1 && matches!(name, "Host" | "Path" | "PathPrefix" | "Method") {
        Some(format!(
            "a v2 rule: v3 {name} takes one value: combine several with `||`, e.g. {name}(`{}`) || {name}(`{}`)",
            args[0], args[1]
        ))
    } else {
        None
    };
    Err((
        format!("`{name}` takes {expected} argument(s), got {}", args.len()),
        hint,
    ))
}

pub(crate) fn check_regex(name: &str, re: &str) -> Result<(), BuildError> {
    regex::Regex::new(re).map(|_| ()).map_err(|e| {
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or("").trim().to_string();
        (
            format!("`{name}` has an invalid regular expression `{re}`: {last}"),
            v2_placeholder_hint(name, re),
        )
    })
}

/// The v3 form of a regular expression written with v2's `{name:regex}` placeholders.
fn v2_placeholder_hint(name: &str, re: &str) -> Option<String> {
    let plain = crate::v2_placeholders_as_regex(re)?;
    let v3 = match name {
        "HostRegexp" => format!("HostRegexp(`^{plain}$`)"),
        _ => format!("{name}(`{plain}`)"),
    };
    Some(format!(
        "a v2 rule: `{{name:regex}}` placeholders are gone in v3, whose matcher takes a plain regular expression, e.g. {v3}"
    ))
}

fn build_matcher(name: &str, mut args: Vec<String>) -> Result<Matcher, BuildError> {
    let two = |args: &mut Vec<String>| {
        let b = args.pop().unwrap_or_default();
        let a = args.pop().unwrap_or_default();
        (a, b)
    };
    match name {
        "Host" => {
            arity(name, &args, &[1])?;
            let host = args.remove(0);
            if !host.is_ascii() {
                return Err((
                    format!("`Host` value `{host}` is not ASCII"),
                    Some("write international domain names in punycode (xn--...)".into()),
                ));
            }
            if host.is_empty() {
                return Err(("`Host` needs a non-empty host".into(), None));
            }
            Ok(Matcher::Host(host))
        }
        "HostRegexp" | "PathRegexp" => {
            arity(name, &args, &[1])?;
            let re = args.remove(0);
            check_regex(name, &re)?;
            Ok(if name == "HostRegexp" {
                Matcher::HostRegexp(re)
            } else {
                Matcher::PathRegexp(re)
            })
        }
        "Path" | "PathPrefix" => {
            arity(name, &args, &[1])?;
            let path = args.remove(0);
            if !path.starts_with('/') {
                return Err((
                    format!("`{name}` value `{path}` must start with `/`"),
                    Some(format!("write {name}(`/{path}`)")),
                ));
            }
            Ok(if name == "Path" {
                Matcher::Path(path)
            } else {
                Matcher::PathPrefix(path)
            })
        }
        "Method" => {
            arity(name, &args, &[1])?;
            let m = args.remove(0);
            if m.is_empty() {
                return Err(("`Method` needs a method name".into(), None));
            }
            Ok(Matcher::Method(m.to_ascii_uppercase()))
        }
        "Header" | "HeaderRegexp" => {
            arity(name, &args, &[2])?;
            let (k, v) = two(&mut args);
            if k.is_empty() {
                return Err((format!("`{name}` needs a header name"), None));
            }
            if name == "Header" {
                Ok(Matcher::Header(k, v))
            } else {
                check_regex(name, &v)?;
                Ok(Matcher::HeaderRegexp(k, v))
            }
        }
        "Query" => {
            arity(name, &args, &[1, 2])?;
            if args.len() == 1 {
                Ok(Matcher::Query(args.remove(0), None))
            } else {
                let (k, v) = two(&mut args);
                Ok(Matcher::Query(k, Some(v)))
            }
        }
        "QueryRegexp" => {
            arity(name, &args, &[1, 2])?;
            if args.len() == 1 {
                return Ok(Matcher::Query(args.remove(0), None));
            }
            let (k, v) = two(&mut args);
            check_regex(name, &v)?;
            Ok(Matcher::QueryRegexp(k, v))
        }
        "ClientIP" => {
            arity(name, &args, &[1])?;
            let ip = args.remove(0);
            if ip.parse::<IpAddr>().is_err() && ip.parse::<ipnet::IpNet>().is_err() {
                return Err((
                    format!("`ClientIP` value `{ip}` is neither an IP address nor a CIDR range"),
                    Some("write e.g. ClientIP(`10.0.0.0/8`) or ClientIP(`::1`)".into()),
                ));
            }
            Ok(Matcher::ClientIP(ip))
        }
        _ => unreachable!("names are checked against MATCHERS"),
    }
}

#[cfg(test)]
mod tests;
