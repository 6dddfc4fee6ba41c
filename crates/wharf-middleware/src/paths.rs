//! stripPrefix, stripPrefixRegex, addPrefix, replacePath, replacePathRegex.

use pingora::http::RequestHeader;
use regex::Regex;

use crate::{regex, set_path, BuildError, Flow, Middleware, RequestContext};

fn with_leading_slash(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

fn set_header(req: &mut RequestHeader, name: &'static str, value: &str) {
    // A value that came from the request path is always a valid header value.
    let _ignored = req.insert_header(name, value);
}

/// Removes the first matching prefix (a plain string prefix, as Traefik).
#[derive(Debug)]
pub(crate) struct StripPrefix {
    prefixes: Vec<String>,
}

impl StripPrefix {
    pub(crate) fn new(prefixes: &[String]) -> Self {
        StripPrefix {
            prefixes: prefixes.to_vec(),
        }
    }
}

impl Middleware for StripPrefix {
    fn request(&self, req: &mut RequestHeader, _cx: &RequestContext) -> Flow {
        let path = req.uri.path().to_string();
        if let Some(prefix) = self.prefixes.iter().find(|p| path.starts_with(p.as_str())) {
            let rest = with_leading_slash(&path[prefix.len()..]);
            set_path(req, &rest);
            set_header(req, "X-Forwarded-Prefix", prefix);
        }
        Flow::Continue
    }
}

/// Removes the first regex match at the start of the path.
#[derive(Debug)]
pub(crate) struct StripPrefixRegex {
    regexes: Vec<Regex>,
}

impl StripPrefixRegex {
    pub(crate) fn new(regexes: &[String]) -> Result<Self, BuildError> {
        Ok(StripPrefixRegex {
            regexes: regexes.iter().map(|r| regex(r)).collect::<Result<_, _>>()?,
        })
    }
}

impl Middleware for StripPrefixRegex {
    fn request(&self, req: &mut RequestHeader, _cx: &RequestContext) -> Flow {
        let path = req.uri.path().to_string();
        for re in &self.regexes {
            if let Some(m) = re.find(&path).filter(|m| m.start() == 0) {
                let prefix = m.as_str().to_string();
                set_path(req, &with_leading_slash(&path[prefix.len()..]));
                set_header(req, "X-Forwarded-Prefix", &prefix);
                break;
            }
        }
        Flow::Continue
    }
}

#[derive(Debug)]
pub(crate) struct AddPrefix {
    prefix: String,
}

impl AddPrefix {
    pub(crate) fn new(prefix: &str) -> Self {
        AddPrefix {
            prefix: prefix.to_string(),
        }
    }
}

impl Middleware for AddPrefix {
    fn request(&self, req: &mut RequestHeader, _cx: &RequestContext) -> Flow {
        let path = format!("{}{}", self.prefix, req.uri.path());
        set_path(req, &path);
        Flow::Continue
    }
}

#[derive(Debug)]
pub(crate) struct ReplacePath {
    path: String,
}

impl ReplacePath {
    pub(crate) fn new(path: &str) -> Self {
        ReplacePath {
            path: path.to_string(),
        }
    }
}

impl Middleware for ReplacePath {
    fn request(&self, req: &mut RequestHeader, _cx: &RequestContext) -> Flow {
        let original = req.uri.path().to_string();
        set_path(req, &self.path);
        set_header(req, "X-Replaced-Path", &original);
        Flow::Continue
    }
}

#[derive(Debug)]
pub(crate) struct ReplacePathRegex {
    regex: Regex,
    replacement: String,
}

impl ReplacePathRegex {
    pub(crate) fn new(re: &str, replacement: &str) -> Result<Self, BuildError> {
        Ok(ReplacePathRegex {
            regex: regex(re)?,
            replacement: replacement.to_string(),
        })
    }
}

impl Middleware for ReplacePathRegex {
    fn request(&self, req: &mut RequestHeader, _cx: &RequestContext) -> Flow {
        let original = req.uri.path().to_string();
        if self.regex.is_match(&original) {
            let path = self
                .regex
                .replace_all(&original, self.replacement.as_str())
                .into_owned();
            set_path(req, &path);
            set_header(req, "X-Replaced-Path", &original);
        }
        Flow::Continue
    }
}

/// Rejects request paths containing percent-encoded characters the router does not allow.
#[derive(Debug)]
pub(crate) struct EncodedCharacters {
    /// Decoded bytes that are forbidden in encoded form.
    forbidden: Vec<u8>,
}

impl EncodedCharacters {
    pub(crate) fn new(allowed: [(u8, bool); 7]) -> Self {
        EncodedCharacters {
            forbidden: allowed
                .iter()
                .filter(|(_, ok)| !ok)
                .map(|(b, _)| *b)
                .collect(),
        }
    }
}

impl Middleware for EncodedCharacters {
    fn request(&self, req: &mut RequestHeader, _cx: &RequestContext) -> Flow {
        let path = req.uri.path().as_bytes();
        let bad = path.windows(3).any(|w| {
            w[0] == b'%'
                && std::str::from_utf8(&w[1..])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .is_some_and(|b| self.forbidden.contains(&b))
        });
        if bad {
            return Flow::Respond(crate::Reply {
                status: 400,
                headers: Vec::new(),
                body: bytes::Bytes::new(),
            });
        }
        Flow::Continue
    }
}
