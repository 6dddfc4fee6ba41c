//! [`IpText`]: an IP address as `Display` writes it, on the stack. The request path writes the
//! client's address into X-Forwarded-For, X-Real-Ip and the access log at every request, where
//! the general formatter cost more than the rest of the header work.

use std::io::Write as _;
use std::net::IpAddr;

/// The longest IPv6 text (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`).
const MAX_LEN: usize = 45;

/// An IP address's text.
#[derive(Clone, Copy)]
pub struct IpText {
    buf: [u8; MAX_LEN],
    len: usize,
}

impl IpText {
    pub fn new(ip: IpAddr) -> IpText {
        let mut text = IpText {
            buf: [0; MAX_LEN],
            len: 0,
        };
        match ip {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b'.');
                    }
                    if octet >= 100 {
                        text.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        text.push(b'0' + octet / 10 % 10);
                    }
                    text.push(b'0' + octet % 10);
                }
            }
            IpAddr::V6(v6) => {
                let mut cursor = std::io::Cursor::new(&mut text.buf[..]);
                // The buffer holds the longest IPv6 text.
                if write!(cursor, "{v6}").is_ok() {
                    text.len = usize::try_from(cursor.position()).unwrap_or(0);
                }
            }
        }
        text
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written.
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl std::fmt::Debug for IpText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_display_writes() {
        for ip in [
            "0.0.0.0",
            "1.2.3.4",
            "10.20.30.40",
            "255.255.255.255",
            "100.9.99.199",
            "::",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:1.2.3.4",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::1:2:3:4",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
        }
    }
}
