//! A strict, incremental reader of HTTP/1 request heads (RFC 9112): each line is checked once,
//! when its CRLF arrives, so a byte-at-a-time client costs no rescans, and a head that can never
//! be valid (a bare LF, a control byte, a line over the limit) is refused at once.

use crate::Rejection;

/// How a request's body is framed, once its head is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// An accepted head.
#[derive(Debug)]
pub struct Head {
    /// Bytes of the input the head took, its final CRLF included.
    pub len: usize,
    /// The head to forward instead of the input's bytes, when they had to be normalised
    /// (repeated identical Content-Length lines, a Content-Length with leading zeros).
    pub rewritten: Option<Vec<u8>>,
    pub body: BodyFraming,
    /// The request asks for a protocol upgrade (only a 101 answer switches to a tunnel).
    pub upgrade: bool,
}

/// The per-entrypoint limits the head is checked against.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// Request line and header lines together (`http.maxHeaderBytes`).
    pub max_bytes: usize,
    /// Header lines (pingora keeps at most 256).
    pub max_fields: usize,
}

/// RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A field-value byte: visible ASCII, SP, HTAB or obs-text; never a control byte.
pub(crate) fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

#[derive(Debug, Default)]
pub struct HeadScanner {
    /// Where scanning resumes in the input.
    scanned: usize,
    /// Start of the line being read.
    line_start: usize,
    /// Where the request line starts, once it has been read.
    request_line: Option<usize>,
    /// Header lines read so far.
    fields: usize,
    /// Empty lines before the request line.
    empty_lines: u8,
    /// Bytes of the unfinished line already checked for a bare CR.
    cr_checked: usize,
}

impl HeadScanner {
    /// Reads what has arrived of a head in `input` (which starts at the head). `Ok(None)`:
    /// complete lines so far are valid, more is needed.
    pub fn advance(&mut self, input: &[u8], limits: HeadLimits) -> Result<Option<Head>, Rejection> {
        while let Some(offset) = input[self.scanned..].iter().position(|b| *b == b'\n') {
            let lf = self.scanned + offset;
            self.scanned = lf + 1;
            if self.scanned > limits.max_bytes {
                return Err(self.too_large());
            }
            if lf == self.line_start || input[lf - 1] != b'\r' {
                return Err(Rejection::bad_request("bare LF"));
            }
            let line = &input[self.line_start..lf - 1];
            let line_start = std::mem::replace(&mut self.line_start, lf + 1);
            match self.request_line {
                None if line.is_empty() => {
                    // RFC 9112 §2.2: a CRLF before the request line (after a body, from old
                    // clients) is ignored; a few of them, not an endless stream.
                    self.empty_lines += 1;
                    if self.empty_lines > 4 {
                        return Err(Rejection::bad_request("malformed HTTP request"));
                    }
                }
                None => {
                    check_request_line(line)?;
                    self.request_line = Some(line_start);
                }
                Some(start) if line.is_empty() => {
                    return parse(input, start, self.scanned).map(Some);
                }
                Some(_) => {
                    check_field_line(line)?;
                    self.fields += 1;
                    if self.fields > limits.max_fields {
                        return Err(Rejection::header_too_large());
                    }
                }
            }
        }
        self.scanned = input.len();
        // In the unfinished line a CR may only be the last byte (its LF still to come). Only
        // bytes not examined before are looked at: a slow client costs no rescans.
        let upto = input.len().saturating_sub(1);
        let from = self.cr_checked.max(self.line_start).min(upto);
        if input[from..upto].contains(&b'\r') {
            return Err(Rejection::bad_request("bare CR"));
        }
        self.cr_checked = upto;
        if input.len() > limits.max_bytes {
            return Err(self.too_large());
        }
        Ok(None)
    }

    /// Over the limit: 414 while still in the request line, 431 after it.
    fn too_large(&self) -> Rejection {
        if self.request_line.is_none() {
            Rejection::uri_too_long()
        } else {
            Rejection::header_too_large()
        }
    }
}

fn check_request_line(line: &[u8]) -> Result<(), Rejection> {
    let malformed = || Rejection::bad_request("malformed HTTP request");
    let mut parts = line.split(|b| *b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    if method.is_empty() || !method.iter().all(|b| is_tchar(*b)) {
        return Err(Rejection::bad_request("invalid method"));
    }
    match version {
        b"HTTP/1.1" | b"HTTP/1.0" => {}
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(Rejection::version_not_supported());
        }
        _ => return Err(Rejection::bad_request("malformed HTTP version")),
    }
    // No control bytes, no space, no fragment; obs-text (0x80+) is left to the path rules.
    if target.is_empty()
        || target
            .iter()
            .any(|b| *b <= b' ' || *b == 0x7f || *b == b'#')
    {
        return Err(Rejection::bad_request("invalid request target"));
    }
    let connect = method == b"CONNECT";
    let form_ok = match target[0] {
        b'/' => !connect,
        b'*' => target == b"*" && method == b"OPTIONS",
        _ if connect => true,
        _ => {
            let lower = target.to_ascii_lowercase();
            lower.starts_with(b"http://") || lower.starts_with(b"https://")
        }
    };
    if !form_ok {
        return Err(Rejection::bad_request("invalid request target"));
    }
    Ok(())
}

fn check_field_line(line: &[u8]) -> Result<(), Rejection> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(Rejection::bad_request("obsolete line folding"));
    }
    let Some(colon) = line.iter().position(|b| *b == b':') else {
        return Err(Rejection::bad_request("malformed MIME header line"));
    };
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|b| is_tchar(*b)) {
        return Err(Rejection::bad_request("invalid header name"));
    }
    if !line[colon + 1..].iter().all(|b| is_field_value_byte(*b)) {
        return Err(Rejection::bad_request("invalid header value"));
    }
    Ok(())
}

fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !matches!(b, b' ' | b'\t'));
    let end = v.iter().rposition(|b| !matches!(b, b' ' | b'\t'));
    match (start, end) {
        (Some(s), Some(e)) => &v[s..=e],
        _ => &[],
    }
}

/// Characters Go accepts in a Host header (`httpguts.ValidHostHeader`).
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!$%&'()*+,-.:;=@[]_~".contains(&b) || b >= 0x80
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| trim_ows(t).eq_ignore_ascii_case(token))
}

/// The lines of a complete, already checked head from its request line on (`len`: where the
/// head ends, its final empty line included), without their CRLF.
fn lines(input: &[u8], start: usize, len: usize) -> impl Iterator<Item = &[u8]> {
    input[start..len - 4]
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

/// The complete head: framing and Host rules on the whole field set.
fn parse(input: &[u8], start: usize, len: usize) -> Result<Head, Rejection> {
    let http10 = lines(input, start, len)
        .next()
        .is_some_and(|request_line| request_line.ends_with(b"HTTP/1.0"));
    let mut hosts = 0;
    let mut lengths: Vec<(usize, u64, bool)> = Vec::new();
    let mut transfer_encodings = 0;
    let mut chunked = false;
    let mut upgrade_header = false;
    let mut connection_upgrade = false;
    for (i, line) in lines(input, start, len).enumerate().skip(1) {
        let colon = line.iter().position(|b| *b == b':').unwrap_or(0);
        let name = &line[..colon];
        let value = trim_ows(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if !value.iter().all(|b| is_host_byte(*b)) {
                return Err(Rejection::bad_request("malformed Host header"));
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let canonical = !value.is_empty() && value.iter().all(u8::is_ascii_digit);
            let parsed = std::str::from_utf8(value)
                .ok()
                .filter(|_| canonical)
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|v| i64::try_from(*v).is_ok());
            let Some(n) = parsed else {
                return Err(Rejection::bad_request("bad Content-Length"));
            };
            // A leading zero is rewritten: `010` is ten bytes, whatever a backend reads.
            let plain = value.len() == 1 || value[0] != b'0';
            lengths.push((i, n, plain));
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encodings += 1;
            chunked = value.eq_ignore_ascii_case(b"chunked");
            if !chunked {
                return Err(Rejection::unsupported_transfer_encoding());
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade_header = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            connection_upgrade |= has_token(value, b"upgrade");
        }
    }
    if hosts > 1 {
        return Err(Rejection::bad_request("too many Host headers"));
    }
    if hosts == 0 && !http10 {
        return Err(Rejection::bad_request("missing required Host header"));
    }
    if transfer_encodings > 0 {
        if http10 {
            return Err(Rejection::bad_request(
                "Transfer-Encoding is not allowed in HTTP/1.0",
            ));
        }
        if transfer_encodings > 1 {
            // Go: "too many transfer encodings", as an unsupported one.
            return Err(Rejection::unsupported_transfer_encoding());
        }
        if !lengths.is_empty() {
            return Err(Rejection::bad_request(
                "both Transfer-Encoding and Content-Length",
            ));
        }
    }
    let length = match lengths.first() {
        None => None,
        Some(&(_, first, _)) => {
            if lengths.iter().any(|(_, n, _)| *n != first) {
                return Err(Rejection::bad_request(
                    "message cannot contain multiple Content-Length headers",
                ));
            }
            Some(first)
        }
    };
    let body = match (chunked, length) {
        (true, _) => BodyFraming::Chunked,
        (false, Some(0) | None) => BodyFraming::None,
        (false, Some(n)) => BodyFraming::Length(n),
    };
    // One Content-Length line, written plainly: forwarded as received. Otherwise, rewritten
    // with a single canonical line, as Go does.
    let rewritten = (lengths.len() > 1 || lengths.iter().any(|(_, _, plain)| !plain)).then(|| {
        let mut out = Vec::with_capacity(len);
        let mut wrote_length = false;
        for (i, line) in lines(input, start, len).enumerate() {
            if lengths.iter().any(|(l, _, _)| *l == i) {
                if wrote_length {
                    continue;
                }
                wrote_length = true;
                out.extend_from_slice(b"Content-Length: ");
                out.extend_from_slice(length.unwrap_or(0).to_string().as_bytes());
            } else {
                out.extend_from_slice(line);
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    });
    Ok(Head {
        len,
        rewritten,
        body,
        upgrade: upgrade_header && connection_upgrade && !http10,
    })
}
