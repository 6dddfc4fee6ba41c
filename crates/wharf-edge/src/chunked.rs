//! A strict validator of chunked request bodies (RFC 9112 §7.1): hexadecimal sizes that fit
//! in 64 bits, CRLF and only CRLF, bounded extensions and trailers. Bytes are checked as they
//! stream; chunk data is skipped in bulk.

use crate::head::{is_field_value_byte, is_tchar};
use crate::Rejection;

/// Longest chunk-size line, extensions included (Go's limit).
const MAX_SIZE_LINE: usize = 4096;
/// Largest trailer section, and most trailer fields.
const MAX_TRAILER_BYTES: usize = 64 * 1024;
const MAX_TRAILER_FIELDS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size.
    Size {
        value: u64,
        digits: u8,
    },
    /// Whitespace after the size, before `;` or CR.
    SizeSpace {
        value: u64,
    },
    /// A chunk extension, up to CR.
    Extension {
        value: u64,
    },
    /// The LF ending a size line.
    SizeLf {
        value: u64,
    },
    Data {
        left: u64,
    },
    DataCr,
    DataLf,
    /// The start of a trailer line (or of the final CRLF).
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    FinalLf,
    Done,
}

#[derive(Debug)]
pub struct ChunkedBody {
    state: State,
    line_len: usize,
    trailer_bytes: usize,
    trailer_fields: usize,
}

impl Default for ChunkedBody {
    fn default() -> Self {
        ChunkedBody {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            line_len: 0,
            trailer_bytes: 0,
            trailer_fields: 0,
        }
    }
}

fn bad(reason: &'static str) -> Rejection {
    Rejection::bad_request(reason)
}

impl ChunkedBody {
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Checks the next bytes of the body. Returns how many belong to it (all of `input`
    /// unless the body ends inside it).
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, Rejection> {
        let mut i = 0;
        while i < input.len() {
            if let State::Data { left } = self.state {
                let take = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(input.len() - i);
                i += take;
                let left = left - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data { left }
                };
                continue;
            }
            if self.state == State::Done {
                return Ok(i);
            }
            let b = input[i];
            i += 1;
            self.state = self.step(b)?;
        }
        Ok(i)
    }

    fn step(&mut self, b: u8) -> Result<State, Rejection> {
        Ok(match self.state {
            State::Size { value, digits } => {
                self.line_len += 1;
                if self.line_len > MAX_SIZE_LINE {
                    return Err(bad("chunk size line too long"));
                }
                match b {
                    _ if b.is_ascii_hexdigit() => {
                        if digits >= 16 {
                            return Err(bad("chunk size too large"));
                        }
                        let digit = u64::from((b as char).to_digit(16).unwrap_or(0));
                        State::Size {
                            value: value
                                .checked_mul(16)
                                .and_then(|v| v.checked_add(digit))
                                .ok_or_else(|| bad("chunk size too large"))?,
                            digits: digits + 1,
                        }
                    }
                    _ if digits == 0 => return Err(bad("invalid chunk size")),
                    b' ' | b'\t' => State::SizeSpace { value },
                    b';' => State::Extension { value },
                    b'\r' => State::SizeLf { value },
                    _ => return Err(bad("invalid chunk size")),
                }
            }
            State::SizeSpace { value } | State::Extension { value } => {
                self.line_len += 1;
                if self.line_len > MAX_SIZE_LINE {
                    return Err(bad("chunk extension too long"));
                }
                match (self.state, b) {
                    (_, b'\r') => State::SizeLf { value },
                    (State::SizeSpace { .. }, b' ' | b'\t') => State::SizeSpace { value },
                    (State::SizeSpace { .. }, b';') => State::Extension { value },
                    (State::Extension { .. }, _) if is_field_value_byte(b) => {
                        State::Extension { value }
                    }
                    _ => return Err(bad("invalid chunk extension")),
                }
            }
            State::SizeLf { value } => {
                if b != b'\n' {
                    return Err(bad("chunk size line without CRLF"));
                }
                self.line_len = 0;
                if value == 0 {
                    State::TrailerStart
                } else {
                    State::Data { left: value }
                }
            }
            State::DataCr => match b {
                b'\r' => State::DataLf,
                _ => return Err(bad("chunk data without CRLF")),
            },
            State::DataLf => match b {
                b'\n' => State::Size {
                    value: 0,
                    digits: 0,
                },
                _ => return Err(bad("chunk data without CRLF")),
            },
            State::TrailerStart | State::TrailerName | State::TrailerValue => {
                self.trailer_bytes += 1;
                if self.trailer_bytes > MAX_TRAILER_BYTES {
                    return Err(Rejection::header_too_large());
                }
                match (self.state, b) {
                    (State::TrailerStart, b'\r') => State::FinalLf,
                    (State::TrailerStart, _) if is_tchar(b) => {
                        self.trailer_fields += 1;
                        if self.trailer_fields > MAX_TRAILER_FIELDS {
                            return Err(Rejection::header_too_large());
                        }
                        State::TrailerName
                    }
                    (State::TrailerName, b':') => State::TrailerValue,
                    (State::TrailerName, _) if is_tchar(b) => State::TrailerName,
                    (State::TrailerValue, b'\r') => State::TrailerLf,
                    (State::TrailerValue, _) if is_field_value_byte(b) => State::TrailerValue,
                    _ => return Err(bad("invalid trailer")),
                }
            }
            State::TrailerLf => match b {
                b'\n' => State::TrailerStart,
                _ => return Err(bad("trailer without CRLF")),
            },
            State::FinalLf => match b {
                b'\n' => State::Done,
                _ => return Err(bad("chunked body without its final CRLF")),
            },
            State::Data { .. } | State::Done => self.state,
        })
    }
}
