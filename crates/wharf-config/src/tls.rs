//! The `tls` parts of configuration: a router's (or an entrypoint's `http.tls`) request for
//! TLS, and a provider's `tls` section (certificates, the default store, options). Suite,
//! curve and version names are checked here against what wharf serves, each with its origin.

use std::collections::BTreeMap;

use wharf_model::{
    CertificateSpec, CipherSuite, ClientAuthSpec, ClientAuthType, ConfigIssue, Curve,
    GeneratedCertSpec, Origin, PemSource, TlsDomain, TlsOptionsSpec, TlsVersion,
};

use crate::decode::{boolean, check_keys, join, list, nearest, section_enabled, string, Issues};
use crate::dynamic::Sourced;
use crate::node::{Node, NodeValue};

/// A router's `tls` (or an entrypoint's `http.tls`), as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRouterTls {
    pub origin: Origin,
    pub options: Option<Sourced<String>>,
    pub cert_resolver: Option<Sourced<String>>,
    pub domains: Vec<TlsDomain>,
}

/// One provider's `tls` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawTls {
    pub certificates: Vec<CertificateSpec>,
    pub default_certificate: Option<CertificateSpec>,
    pub default_generated: Option<GeneratedCertSpec>,
    /// By name as written (unqualified).
    pub options: BTreeMap<String, TlsOptionsSpec>,
}

/// `tls: true`, `tls: {}` or `tls: {options, certResolver, domains}`; `None` when off.
pub fn router_tls(n: &Node, path: &str, issues: &mut Issues) -> Option<RawRouterTls> {
    if !section_enabled(n, path, issues) {
        return None;
    }
    let mut out = RawRouterTls {
        origin: n.origin.clone(),
        options: None,
        cert_resolver: None,
        domains: Vec::new(),
    };
    if !matches!(n.value, NodeValue::Map(_)) {
        return Some(out);
    }
    check_keys(
        n,
        path,
        &["options", "certResolver", "domains"],
        &[],
        issues,
    );
    let sourced = |key: &str, issues: &mut Issues| {
        let v = n.get(key)?;
        string(v, &join(path, key), issues)
            .filter(|s| !s.is_empty())
            .map(|value| Sourced {
                value,
                origin: v.origin.clone(),
            })
    };
    out.options = sourced("options", issues);
    out.cert_resolver = sourced("certResolver", issues);
    if let Some(d) = n.get("domains") {
        out.domains = domains(d, &join(path, "domains"), issues);
    }
    Some(out)
}

fn domains(n: &Node, path: &str, issues: &mut Issues) -> Vec<TlsDomain> {
    let items: Vec<(String, &Node)> = match &n.value {
        NodeValue::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| (format!("{path}[{i}]"), item))
            .collect(),
        // Labels and flags: `domains[0].main` lowered as key "0".
        NodeValue::Map(entries) => entries
            .iter()
            .map(|(k, item)| (format!("{path}[{}]", k.name), item))
            .collect(),
        NodeValue::Null => Vec::new(),
        NodeValue::Scalar(_) => {
            issues.error(
                &n.origin,
                format!("`{path}` must be a list of {{main, sans}}"),
            );
            Vec::new()
        }
    };
    items
        .into_iter()
        .filter_map(|(p, item)| domain(item, &p, issues))
        .collect()
}

fn domain(n: &Node, path: &str, issues: &mut Issues) -> Option<TlsDomain> {
    check_keys(n, path, &["main", "sans"], &[], issues);
    let main = n
        .get("main")
        .and_then(|m| string(m, &join(path, "main"), issues))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let sans: Vec<String> = n
        .get("sans")
        .and_then(|s| list(s, &join(path, "sans"), issues))
        .unwrap_or_default()
        .into_iter()
        .map(|(s, _)| s.to_ascii_lowercase())
        .collect();
    if main.is_empty() && sans.is_empty() {
        issues.error(&n.origin, format!("`{path}` names no domain (set `main`)"));
        return None;
    }
    Some(TlsDomain { main, sans })
}

/// A provider's top-level `tls` section.
pub fn decode_tls(n: &Node, issues: &mut Issues) -> RawTls {
    let mut out = RawTls::default();
    if !check_keys(
        n,
        "tls",
        &["certificates", "options", "stores"],
        &[],
        issues,
    ) {
        return out;
    }
    if let Some(certs) = n.get("certificates") {
        match &certs.value {
            NodeValue::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("tls.certificates[{i}]");
                    check_keys(item, &p, &["certFile", "keyFile", "stores"], &[], issues);
                    if let Some(stores) = item.get("stores") {
                        for (store, origin) in
                            list(stores, &join(&p, "stores"), issues).unwrap_or_default()
                        {
                            if store != "default" {
                                issues.push(ConfigIssue::warning(origin, format!("`{p}.stores`: only the `default` store exists (as in Traefik); `{store}` is ignored and the certificate goes to `default`")));
                            }
                        }
                    }
                    if let Some(c) = certificate(item, &p, issues) {
                        out.certificates.push(c);
                    }
                }
            }
            NodeValue::Null => {}
            _ => issues.error(
                &certs.origin,
                "`tls.certificates` must be a list of {certFile, keyFile}",
            ),
        }
    }
    if let Some(stores) = n.get("stores") {
        for (key, store) in stores.entries() {
            let p = join("tls.stores", &key.name);
            if key.name != "default" {
                issues.push(ConfigIssue::warning(
                    key.origin.clone(),
                    format!(
                        "`{p}`: only the `default` store is used (as in Traefik); it is ignored"
                    ),
                ));
                continue;
            }
            check_keys(
                store,
                &p,
                &["defaultCertificate", "defaultGeneratedCert"],
                &[],
                issues,
            );
            if let Some(c) = store.get("defaultCertificate") {
                let cp = join(&p, "defaultCertificate");
                check_keys(c, &cp, &["certFile", "keyFile"], &[], issues);
                out.default_certificate = certificate(c, &cp, issues);
            }
            if let Some(g) = store.get("defaultGeneratedCert") {
                let gp = join(&p, "defaultGeneratedCert");
                check_keys(g, &gp, &["resolver", "domain"], &[], issues);
                let resolver = g
                    .get("resolver")
                    .and_then(|r| string(r, &join(&gp, "resolver"), issues))
                    .unwrap_or_default();
                let domain = g
                    .get("domain")
                    .and_then(|d| domain(d, &join(&gp, "domain"), issues));
                match (resolver.is_empty(), domain) {
                    (false, Some(domain)) => {
                        out.default_generated = Some(GeneratedCertSpec {
                            resolver,
                            domain,
                            origin: g.origin.clone(),
                        })
                    }
                    _ => issues.error(
                        &g.origin,
                        format!("`{gp}` needs both `resolver` and `domain.main`"),
                    ),
                }
            }
        }
    }
    if let Some(options) = n.get("options") {
        for (key, body) in options.entries() {
            let p = join("tls.options", &key.name);
            let mut local = Issues::default();
            let spec = options_spec(&key.name, body, &key.origin, &p, &mut local);
            if local.has_errors() {
                local.push(ConfigIssue::error(
                    key.origin.clone(),
                    format!("TLS options `{}` are dropped because of the error(s) above; routers that use them are disabled", key.name),
                ));
            } else {
                out.options.insert(key.name.clone(), spec);
            }
            issues.0.extend(local.0);
        }
    }
    out
}

pub(crate) fn certificate(n: &Node, path: &str, issues: &mut Issues) -> Option<CertificateSpec> {
    let mut pem = |key: &str| {
        let v = n.get(key);
        let s = v.and_then(|v| string(v, &join(path, key), issues));
        match s {
            Some(s) if !s.trim().is_empty() => Some(PemSource::from_value(s.trim())),
            _ => {
                issues.error(
                    &n.origin,
                    format!("`{path}.{key}` is required (a path or the PEM itself)"),
                );
                None
            }
        }
    };
    let cert = pem("certFile");
    let key = pem("keyFile");
    Some(CertificateSpec {
        cert: cert?,
        key: key?,
        origin: n.origin.clone(),
    })
}

fn version(n: &Node, path: &str, issues: &mut Issues) -> Option<TlsVersion> {
    let s = string(n, path, issues)?;
    let v = match s.as_str() {
        "VersionTLS10" => TlsVersion::Tls10,
        "VersionTLS11" => TlsVersion::Tls11,
        "VersionTLS12" => TlsVersion::Tls12,
        "VersionTLS13" => TlsVersion::Tls13,
        other => {
            let names = [
                "VersionTLS10",
                "VersionTLS11",
                "VersionTLS12",
                "VersionTLS13",
            ];
            let hint = nearest(other, names).map(|n| format!("did you mean `{n}`?"));
            issues.push(
                ConfigIssue::error(
                    n.origin.clone(),
                    format!("`{path}`: unknown TLS version `{other}`"),
                )
                .with_hint(hint.unwrap_or_else(|| format!("use one of {}", names.join(", ")))),
            );
            return None;
        }
    };
    Some(v)
}

/// Go's suite names: what wharf serves, what it knows but does not serve (TLS 1.3 names are
/// always on, as in Go, so they are accepted and change nothing).
fn cipher(name: &str) -> Result<Option<CipherSuite>, &'static str> {
    use CipherSuite::*;
    Ok(Some(match name {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => EcdheEcdsaAes128Gcm,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => EcdheEcdsaAes256Gcm,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => EcdheEcdsaChacha20,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => EcdheRsaAes128Gcm,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => EcdheRsaAes256Gcm,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
            EcdheRsaChacha20
        }
        "TLS_AES_128_GCM_SHA256"
        | "TLS_AES_256_GCM_SHA384"
        | "TLS_CHACHA20_POLY1305_SHA256"
        | "TLS_FALLBACK_SCSV" => return Ok(None),
        "TLS_RSA_WITH_RC4_128_SHA"
        | "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
        | "TLS_RSA_WITH_AES_128_CBC_SHA"
        | "TLS_RSA_WITH_AES_256_CBC_SHA"
        | "TLS_RSA_WITH_AES_128_CBC_SHA256"
        | "TLS_RSA_WITH_AES_128_GCM_SHA256"
        | "TLS_RSA_WITH_AES_256_GCM_SHA384"
        | "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"
        | "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
        | "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_RC4_128_SHA"
        | "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
        | "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
        | "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" => return Err("unserved"),
        _ => return Err("unknown"),
    }))
}

const SERVED_SUITES: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// `minVersion`, `maxVersion` and `cipherSuites`, of a TLS options set or a servers transport.
pub(crate) struct TlsPolicy {
    pub min: TlsVersion,
    pub max: TlsVersion,
    pub suites: Vec<CipherSuite>,
}

/// Decodes the versions and suites at `n` (absent: TLS 1.2 to 1.3, the default suites).
pub(crate) fn tls_policy(n: &Node, path: &str, origin: &Origin, issues: &mut Issues) -> TlsPolicy {
    let mut out = TlsPolicy {
        min: TlsVersion::Tls12,
        max: TlsVersion::Tls13,
        suites: Vec::new(),
    };
    if let Some(v) = n
        .get("minVersion")
        .and_then(|v| version(v, &join(path, "minVersion"), issues))
    {
        if v < TlsVersion::Tls12 {
            issues.push(ConfigIssue::warning(
                n.get("minVersion").map_or(origin.clone(), |m| m.origin.clone()),
                format!("`{path}.minVersion`: wharf speaks TLS 1.2 and 1.3 only (TLS 1.0 and 1.1 are broken); TLS 1.2 is the minimum"),
            ));
        }
        out.min = v.max(TlsVersion::Tls12);
    }
    if let Some(m) = n.get("maxVersion") {
        if let Some(v) = version(m, &join(path, "maxVersion"), issues) {
            if v < TlsVersion::Tls12 {
                issues.error(
                    &m.origin,
                    format!("`{path}.maxVersion`: wharf speaks TLS 1.2 and 1.3 only, so no version is left"),
                );
            }
            out.max = v;
        }
    }
    if out.max < out.min {
        issues.error(
            origin,
            format!("`{path}`: maxVersion is below minVersion, so no TLS version is left"),
        );
    }
    if let Some(c) = n.get("cipherSuites") {
        let cp = join(path, "cipherSuites");
        for (name, o) in list(c, &cp, issues).unwrap_or_default() {
            match cipher(&name) {
                Ok(Some(suite)) => out.suites.push(suite),
                Ok(None) => {}
                Err("unserved") => issues.push(
                    ConfigIssue::warning(o, format!("`{cp}`: `{name}` is not offered: wharf's TLS library (rustls) implements only forward-secret AEAD suites"))
                        .with_hint(format!("TLS 1.2 suites wharf offers: {}", SERVED_SUITES.join(", "))),
                ),
                Err(_) => issues.push(
                    ConfigIssue::error(o, format!("`{cp}`: unknown cipher suite `{name}`"))
                        .with_hint_opt(nearest(&name, SERVED_SUITES.iter().copied()).map(|n| format!("did you mean `{n}`?"))),
                ),
            }
        }
    }
    out
}

fn options_spec(
    name: &str,
    n: &Node,
    origin: &Origin,
    path: &str,
    issues: &mut Issues,
) -> TlsOptionsSpec {
    let mut spec = TlsOptionsSpec::traefik_default(name, origin.clone());
    check_keys(
        n,
        path,
        &[
            "minVersion",
            "maxVersion",
            "cipherSuites",
            "curvePreferences",
            "sniStrict",
            "alpnProtocols",
            "clientAuth",
            "disableSessionTickets",
            "preferServerCipherSuites",
        ],
        &[],
        issues,
    );
    if let Some(p) = n.get("preferServerCipherSuites") {
        issues.push(ConfigIssue::warning(
            p.origin.clone(),
            format!("`{path}.preferServerCipherSuites` was removed in Traefik v3; it is ignored"),
        ));
    }
    let policy = tls_policy(n, path, origin, issues);
    spec.min_version = policy.min;
    spec.max_version = policy.max;
    spec.cipher_suites = policy.suites;
    if let Some(c) = n.get("curvePreferences") {
        let cp = join(path, "curvePreferences");
        for (name, o) in list(c, &cp, issues).unwrap_or_default() {
            match name.as_str() {
                "X25519" => spec.curves.push(Curve::X25519),
                "CurveP256" | "secp256r1" => spec.curves.push(Curve::P256),
                "CurveP384" | "secp384r1" => spec.curves.push(Curve::P384),
                "CurveP521" | "secp521r1" | "X25519MLKEM768" => issues.push(ConfigIssue::warning(
                    o,
                    format!("`{cp}`: `{name}` is not offered: wharf's TLS library (rustls with ring) implements X25519, CurveP256 and CurveP384"),
                )),
                other => issues.push(
                    ConfigIssue::error(o, format!("`{cp}`: unknown curve `{other}`"))
                        .with_hint("use X25519, CurveP256, CurveP384"),
                ),
            }
        }
    }
    if let Some(s) = n.get("sniStrict") {
        spec.sni_strict = boolean(s, &join(path, "sniStrict"), issues).unwrap_or(false);
    }
    if let Some(s) = n.get("disableSessionTickets") {
        spec.disable_session_tickets =
            boolean(s, &join(path, "disableSessionTickets"), issues).unwrap_or(false);
    }
    if let Some(a) = n.get("alpnProtocols") {
        spec.alpn = list(a, &join(path, "alpnProtocols"), issues)
            .unwrap_or_default()
            .into_iter()
            .map(|(p, _)| p)
            .collect();
    }
    if let Some(c) = n.get("clientAuth") {
        spec.client_auth = client_auth(c, &join(path, "clientAuth"), issues);
    }
    spec
}

fn client_auth(n: &Node, path: &str, issues: &mut Issues) -> ClientAuthSpec {
    check_keys(n, path, &["caFiles", "clientAuthType"], &[], issues);
    let mut out = ClientAuthSpec::default();
    if let Some(t) = n.get("clientAuthType") {
        let tp = join(path, "clientAuthType");
        out.kind = match string(t, &tp, issues).as_deref() {
            Some("NoClientCert") | Some("") | None => ClientAuthType::NoClientCert,
            Some("RequestClientCert") => ClientAuthType::RequestClientCert,
            Some("RequireAnyClientCert") => ClientAuthType::RequireAnyClientCert,
            Some("VerifyClientCertIfGiven") => ClientAuthType::VerifyClientCertIfGiven,
            Some("RequireAndVerifyClientCert") => ClientAuthType::RequireAndVerifyClientCert,
            Some(other) => {
                let names = [
                    "NoClientCert",
                    "RequestClientCert",
                    "RequireAnyClientCert",
                    "VerifyClientCertIfGiven",
                    "RequireAndVerifyClientCert",
                ];
                issues.push(
                    ConfigIssue::error(
                        t.origin.clone(),
                        format!("`{tp}`: unknown client auth type `{other}`"),
                    )
                    .with_hint(nearest(other, names).map_or_else(
                        || format!("use one of {}", names.join(", ")),
                        |n| format!("did you mean `{n}`?"),
                    )),
                );
                ClientAuthType::NoClientCert
            }
        };
    }
    if let Some(c) = n.get("caFiles") {
        out.ca_files = list(c, &join(path, "caFiles"), issues)
            .unwrap_or_default()
            .into_iter()
            .map(|(v, _)| PemSource::from_value(v.trim()))
            .collect();
    }
    let verifies = matches!(
        out.kind,
        ClientAuthType::VerifyClientCertIfGiven | ClientAuthType::RequireAndVerifyClientCert
    );
    if verifies && out.ca_files.is_empty() {
        issues.error(
            &n.origin,
            format!("`{path}`: verifying client certificates needs `caFiles`"),
        );
    }
    out
}
