//! `certificatesResolvers.<name>.acme`, with Traefik's defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use wharf_model::{AcmeConfig, AcmeKeyType, CertResolverConfig, ConfigIssue, LETS_ENCRYPT};

use super::get_string;
use crate::decode::{check_keys, integer, join, list, nearest, section_enabled, Issues};
use crate::node::Node;

const KEY_TYPES: &[(&str, AcmeKeyType)] = &[
    ("EC256", AcmeKeyType::Ec256),
    ("EC384", AcmeKeyType::Ec384),
    ("RSA2048", AcmeKeyType::Rsa2048),
    ("RSA3072", AcmeKeyType::Rsa3072),
    ("RSA4096", AcmeKeyType::Rsa4096),
    ("RSA8192", AcmeKeyType::Rsa8192),
];

pub(super) fn cert_resolvers(
    n: &Node,
    issues: &mut Issues,
) -> BTreeMap<String, CertResolverConfig> {
    let mut out = BTreeMap::new();
    for (key, body) in n.entries() {
        let path = join("certificatesResolvers", &key.name);
        check_keys(body, &path, &["acme"], &["tailscale"], issues);
        let Some(acme) = body.get("acme") else {
            continue;
        };
        let before = issues.0.len();
        let config = decode(acme, &join(&path, "acme"), issues);
        if !issues.has_errors_since(before) {
            out.insert(
                key.name.clone(),
                CertResolverConfig {
                    name: key.name.clone(),
                    acme: config,
                    origin: key.origin.clone(),
                },
            );
        }
    }
    out
}

fn decode(n: &Node, path: &str, issues: &mut Issues) -> AcmeConfig {
    check_keys(
        n,
        path,
        &[
            "email",
            "caServer",
            "storage",
            "keyType",
            "certificatesDuration",
            "preferredChain",
            "profile",
            "eab",
            "httpChallenge",
            "tlsChallenge",
            "caCertificates",
        ],
        &[
            "dnsChallenge",
            "caSystemCertPool",
            "caServerName",
            "emailAddresses",
            "clientTimeout",
            "clientResponseHeaderTimeout",
        ],
        issues,
    );
    let storage = get_string(n, "storage", path, issues)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "acme.json".into());
    let mut config = AcmeConfig {
        email: get_string(n, "email", path, issues).unwrap_or_default(),
        ca_server: get_string(n, "caServer", path, issues)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| LETS_ENCRYPT.to_string()),
        storage: PathBuf::from(&storage),
        redis_storage: None,
        key_type: AcmeKeyType::Rsa4096,
        certificates_duration: Duration::from_secs(2160 * 3600),
        preferred_chain: get_string(n, "preferredChain", path, issues).filter(|s| !s.is_empty()),
        profile: get_string(n, "profile", path, issues).filter(|s| !s.is_empty()),
        eab: None,
        http_challenge: None,
        tls_challenge: false,
        ca_certificates: Vec::new(),
    };
    if storage.starts_with("redis://") || storage.starts_with("rediss://") {
        let origin = n.get("storage").map_or(&n.origin, |s| &s.origin);
        match redis_storage(&storage) {
            Ok(shared) => config.redis_storage = Some(shared),
            Err(why) => issues.push(
                ConfigIssue::error(
                    origin.clone(),
                    format!("`{}`: {why}", join(path, "storage")),
                )
                .with_hint("e.g. redis://:password@redis:6379/0?key=wharf/acme.json"),
            ),
        }
    }
    if let Some(k) = n.get("keyType") {
        let kp = join(path, "keyType");
        let written = crate::decode::string(k, &kp, issues).unwrap_or_default();
        match KEY_TYPES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&written))
        {
            Some((_, kind)) => config.key_type = *kind,
            None => issues.push(
                ConfigIssue::error(
                    k.origin.clone(),
                    format!("`{kp}`: unknown key type `{written}`"),
                )
                .with_hint(
                    nearest(&written, KEY_TYPES.iter().map(|(n, _)| *n)).map_or_else(
                        || "use EC256, EC384, RSA2048, RSA3072, RSA4096 or RSA8192".to_string(),
                        |n| format!("did you mean `{n}`?"),
                    ),
                ),
            ),
        }
    }
    if let Some(d) = n.get("certificatesDuration") {
        let dp = join(path, "certificatesDuration");
        match integer(d, &dp, issues).map(u64::try_from) {
            Some(Ok(hours)) if hours > 0 => match hours.checked_mul(3600) {
                Some(secs) => config.certificates_duration = Duration::from_secs(secs),
                None => issues.error(&d.origin, format!("`{dp}`: {hours} hours is too long")),
            },
            Some(_) => issues.error(
                &d.origin,
                format!("`{dp}` must be a positive number of hours"),
            ),
            None => {}
        }
    }
    if let Some(e) = n.get("eab") {
        let ep = join(path, "eab");
        check_keys(e, &ep, &["kid", "hmacEncoded"], &[], issues);
        let kid = get_string(e, "kid", &ep, issues).unwrap_or_default();
        let hmac = get_string(e, "hmacEncoded", &ep, issues).unwrap_or_default();
        if kid.is_empty() || hmac.is_empty() {
            issues.error(
                &e.origin,
                format!("`{ep}` needs both `kid` and `hmacEncoded`"),
            );
        } else {
            config.eab = Some((kid, hmac));
        }
    }
    if let Some(h) = n.get("httpChallenge") {
        let hp = join(path, "httpChallenge");
        check_keys(h, &hp, &["entryPoint"], &["delay"], issues);
        match get_string(h, "entryPoint", &hp, issues).filter(|s| !s.is_empty()) {
            Some(ep) => config.http_challenge = Some(ep),
            None => issues.error(&h.origin, format!("`{hp}.entryPoint` is required")),
        }
    }
    if let Some(t) = n.get("tlsChallenge") {
        config.tls_challenge = section_enabled(t, &join(path, "tlsChallenge"), issues);
    }
    if let Some(c) = n.get("caCertificates") {
        config.ca_certificates = list(c, &join(path, "caCertificates"), issues)
            .unwrap_or_default()
            .into_iter()
            .map(|(p, _)| PathBuf::from(p))
            .collect();
    }
    if config.http_challenge.is_none() && !config.tls_challenge {
        let dns = n.get("dnsChallenge").is_some();
        issues.push(
            ConfigIssue::error(
                n.origin.clone(),
                if dns {
                    format!("`{path}`: only `dnsChallenge` is set, which wharf does not implement yet; this resolver cannot obtain certificates")
                } else {
                    format!("`{path}` has no challenge")
                },
            )
            .with_hint("add `httpChallenge: {entryPoint: web}` or `tlsChallenge: {}`"),
        );
    }
    config
}

/// `redis://[[user]:password@]host:port[/db][?key=<key>]`: a storage document in Redis;
/// `rediss://` for TLS, where `ca=<PEM file>` names the CAs to trust (default: the system's);
/// `redis://s1:26379,s2:26379/0?sentinel=<masterName>` through Sentinels.
pub(crate) fn redis_storage(url: &str) -> Result<wharf_model::AcmeRedisStorage, String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| format!("`{s}` is not UTF-8 once percent-decoded"))
    };
    let (rest, tls) = match url.strip_prefix("rediss://") {
        Some(rest) => (rest, Some(wharf_model::RedisTls::default())),
        None => (url.strip_prefix("redis://").unwrap_or(url), None),
    };
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let mut hosts = Vec::new();
    for one in host_port.split(',') {
        let parsed = one
            .parse::<http::uri::Authority>()
            .ok()
            .filter(|a| a.port_u16().is_some() && !a.host().is_empty())
            .ok_or_else(|| format!("`{one}` is not host:port"))?;
        hosts.push(parsed.as_str().to_string());
    }
    let mut connection = wharf_model::RedisConnection {
        endpoint: hosts.first().cloned().unwrap_or_default(),
        tls,
        ..wharf_model::RedisConnection::default()
    };
    if let Some(userinfo) = userinfo {
        let (user, password) = userinfo.split_once(':').unwrap_or(("", userinfo));
        connection.username = Some(decode(user)?).filter(|u| !u.is_empty());
        connection.password = Some(decode(password)?).filter(|p| !p.is_empty());
    }
    if !db.is_empty() {
        connection.db = db
            .parse()
            .map_err(|_| format!("`{db}` is not a database number"))?;
    }
    let mut key = "wharf/acme.json".to_string();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("key", k)) if !k.is_empty() => key = decode(k)?,
            Some(("ca", ca)) if !ca.is_empty() => match connection.tls.as_mut() {
                Some(tls) => tls.ca = Some(std::path::PathBuf::from(decode(ca)?)),
                None => return Err("`ca` needs TLS: rediss://".into()),
            },
            Some(("sentinel", master)) if !master.is_empty() => {
                connection.sentinel = Some(wharf_model::RedisSentinel {
                    master_name: decode(master)?,
                    sentinels: hosts.clone(),
                    username: None,
                    password: None,
                });
            }
            _ => {
                return Err(format!(
                    "unknown parameter `{pair}` (known: `key`, `sentinel`, and `ca` with rediss://)"
                ))
            }
        }
    }
    if hosts.len() > 1 && connection.sentinel.is_none() {
        return Err(
            "several hosts are Sentinels: name the primary with `?sentinel=<masterName>`".into(),
        );
    }
    Ok(wharf_model::AcmeRedisStorage { connection, key })
}

#[cfg(test)]
mod tests {
    use super::redis_storage;

    #[test]
    fn redis_storage_urls() {
        let s = redis_storage("redis://:s%40cret@redis:6380/2?key=edge/acme").expect("valid");
        assert_eq!(s.connection.endpoint, "redis:6380");
        assert_eq!(s.connection.password.as_deref(), Some("s@cret"));
        assert_eq!(s.connection.username, None);
        assert_eq!(s.connection.db, 2);
        assert_eq!(s.key, "edge/acme");
        let s = redis_storage("redis://ops:pw@127.0.0.1:6379").expect("valid");
        assert_eq!(s.connection.username.as_deref(), Some("ops"));
        assert_eq!(s.key, "wharf/acme.json");
        assert!(redis_storage("redis://redis").is_err());
        assert!(redis_storage("redis://redis:6379/x").is_err());
        assert!(redis_storage("redis://redis:6379?db=1").is_err());
        let s = redis_storage("rediss://redis:6380?ca=/certs/ca.pem").expect("valid");
        let tls = s.connection.tls.expect("TLS");
        assert_eq!(tls.ca, Some(std::path::PathBuf::from("/certs/ca.pem")));
        assert!(redis_storage("redis://redis:6380?ca=/certs/ca.pem").is_err());
        let s = redis_storage("redis://s1:26379,s2:26379/0?sentinel=edge").expect("valid");
        let sentinel = s.connection.sentinel.expect("sentinel");
        assert_eq!(sentinel.master_name, "edge");
        assert_eq!(sentinel.sentinels, ["s1:26379", "s2:26379"]);
        assert!(redis_storage("redis://s1:26379,s2:26379/0").is_err());
    }
}
