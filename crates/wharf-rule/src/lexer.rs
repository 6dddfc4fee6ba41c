//! Tokens of the rule language, each with the byte offset where it starts.

use crate::parser::RuleError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Ident(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    And,
    Or,
    Not,
}

#[derive(Debug, Clone)]
pub(crate) struct Spanned {
    pub token: Token,
    pub offset: usize,
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Spanned>, RuleError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let token = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                Token::LParen
            }
            b')' => {
                i += 1;
                Token::RParen
            }
            b',' => {
                i += 1;
                Token::Comma
            }
            b'!' => {
                i += 1;
                Token::Not
            }
            b'&' | b'|' => {
                if bytes.get(i + 1) != Some(&c) {
                    let op = if c == b'&' { "&&" } else { "||" };
                    return Err(RuleError::at(
                        src,
                        start,
                        format!("unexpected `{}`", c as char),
                        Some(format!("use `{op}` to combine matchers")),
                    ));
                }
                i += 2;
                if c == b'&' {
                    Token::And
                } else {
                    Token::Or
                }
            }
            b'`' => {
                let rest = &src[i + 1..];
                let Some(end) = rest.find('`') else {
                    return Err(RuleError::at(
                        src,
                        start,
                        "unterminated backtick string".into(),
                        Some("close the value with a backtick: Host(`example.com`)".into()),
                    ));
                };
                i += end + 2;
                Token::Str(rest[..end].to_string())
            }
            b'"' => {
                let (value, len) = double_quoted(src, i)?;
                i += len;
                Token::Str(value)
            }
            b'\'' => {
                return Err(RuleError::at(
                    src,
                    start,
                    "single quotes are not allowed around values".into(),
                    Some("quote values with backticks, e.g. Host(`example.com`)".into()),
                ))
            }
            c if c.is_ascii_alphabetic() => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'.' | b'-'))
                {
                    i += 1;
                }
                Token::Ident(src[start..i].to_string())
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(RuleError::at(
                    src,
                    start,
                    format!("unexpected character `{ch}`"),
                    None,
                ));
            }
        };
        out.push(Spanned {
            token,
            offset: start,
        });
    }
    Ok(out)
}

/// A Go-style double-quoted string starting at `start`; returns the value and the bytes consumed.
fn double_quoted(src: &str, start: usize) -> Result<(String, usize), RuleError> {
    let mut value = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, ch)) = chars.next() {
        match ch {
            '"' => return Ok((value, off + 2)),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, c @ ('"' | '\\'))) => value.push(c),
                Some((_, c)) => {
                    return Err(RuleError::at(
                        src,
                        start + 1 + off,
                        format!("unknown escape sequence `\\{c}` in a double-quoted value"),
                        Some("use a backtick-quoted value to keep backslashes as written".into()),
                    ))
                }
                None => break,
            },
            c => value.push(c),
        }
    }
    Err(RuleError::at(
        src,
        start,
        "unterminated double-quoted string".into(),
        None,
    ))
}
