//! A servers transport's options (`http.serversTransports.<name>` or the static
//! `serversTransport`), with Traefik's defaults.

use wharf_model::{ConfigIssue, PemSource, QualifiedName, ServersTransportSpec};

use crate::decode::{boolean, check_keys, duration, integer, items, join, list, string, Issues};
use crate::node::Node;

/// Options that would weaken what the user asked for if ignored: refused.
const REFUSED: &[(&str, &str)] = &[(
    "spiffe",
    "SPIFFE identities need a SPIFFE workload API, which wharf does not talk to",
)];

/// Decodes one transport; None (reported) when it cannot be honoured.
pub(crate) fn transport(
    n: &Node,
    path: &str,
    name: QualifiedName,
    issues: &mut Issues,
) -> Option<ServersTransportSpec> {
    let mut known = vec![
        "serverName",
        "insecureSkipVerify",
        "rootCAs",
        "certificates",
        "maxIdleConnsPerHost",
        "disableHTTP2",
        "forwardingTimeouts",
        "minVersion",
        "maxVersion",
        "cipherSuites",
        "peerCertURI",
    ];
    known.extend(REFUSED.iter().map(|(k, _)| *k));
    if !check_keys(n, path, &known, &[], issues) {
        return None;
    }
    let before = issues.0.len();
    for (key, why) in REFUSED {
        if let Some(v) = n.get(key) {
            issues.push(
                ConfigIssue::error(
                    v.origin.clone(),
                    format!("`{}` is not supported by wharf: {why}", join(path, key)),
                )
                .with_hint("remove it, or keep Traefik for this service"),
            );
        }
    }
    let mut out = ServersTransportSpec::new(name, n.origin.clone());
    out.server_name = n
        .get("serverName")
        .and_then(|v| string(v, &join(path, "serverName"), issues))
        .filter(|s| !s.is_empty());
    let flag = |key: &str, issues: &mut Issues| {
        n.get(key)
            .and_then(|v| boolean(v, &join(path, key), issues))
            .unwrap_or(false)
    };
    out.insecure_skip_verify = flag("insecureSkipVerify", issues);
    let policy = crate::tls::tls_policy(n, path, &n.origin, issues);
    out.min_version = policy.min;
    out.max_version = policy.max;
    out.cipher_suites = policy.suites;
    out.peer_cert_uri = n
        .get("peerCertURI")
        .and_then(|v| string(v, &join(path, "peerCertURI"), issues))
        .filter(|s| !s.is_empty());
    out.disable_http2 = flag("disableHTTP2", issues);
    if let Some(v) = n.get("maxIdleConnsPerHost") {
        if let Some(max) = integer(v, &join(path, "maxIdleConnsPerHost"), issues) {
            out.max_idle_conns_per_host = max;
        }
    }
    if let Some(c) = n.get("rootCAs") {
        out.root_cas = list(c, &join(path, "rootCAs"), issues)
            .unwrap_or_default()
            .into_iter()
            .map(|(v, _)| PemSource::from_value(v.trim()))
            .collect();
    }
    if let Some(c) = n.get("certificates") {
        let cp = join(path, "certificates");
        for (i, item) in items(c, &cp, issues)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            if let Some(cert) = crate::tls::certificate(item, &format!("{cp}[{i}]"), issues) {
                out.certificates.push(cert);
            }
        }
    }
    if let Some(t) = n.get("forwardingTimeouts") {
        let tp = join(path, "forwardingTimeouts");
        check_keys(
            t,
            &tp,
            &[
                "dialTimeout",
                "responseHeaderTimeout",
                "idleConnTimeout",
                "readIdleTimeout",
                "pingTimeout",
            ],
            &[],
            issues,
        );
        let timeouts = &mut out.timeouts;
        for (key, slot) in [
            ("dialTimeout", &mut timeouts.dial),
            ("responseHeaderTimeout", &mut timeouts.response_header),
            ("idleConnTimeout", &mut timeouts.idle_conn),
            ("readIdleTimeout", &mut timeouts.read_idle),
            ("pingTimeout", &mut timeouts.ping),
        ] {
            if let Some(v) = t.get(key) {
                if let Some(d) = duration(v, &join(&tp, key), issues) {
                    *slot = d;
                }
            }
        }
    }
    if issues.has_errors_since(before) {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use wharf_model::{Origin, ProviderName};

    fn decode(doc: &str) -> (Option<ServersTransportSpec>, Vec<ConfigIssue>) {
        let root = crate::yaml::parse(doc, "t.yml").unwrap();
        let mut issues = Issues::default();
        let name = QualifiedName::new("t", &ProviderName::new("file"));
        let t = transport(&root, "http.serversTransports.t", name, &mut issues);
        (t, issues.0)
    }

    #[test]
    fn every_option_and_traefiks_defaults() {
        let (t, issues) = decode("serverName: backend.internal\ninsecureSkipVerify: true\nrootCAs: [/ca.pem]\ncertificates: [{certFile: /c.pem, keyFile: /k.pem}]\nmaxIdleConnsPerHost: -1\ndisableHTTP2: true\nforwardingTimeouts: {dialTimeout: 2s, responseHeaderTimeout: 1s}\n");
        let t = t.unwrap();
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(t.server_name.as_deref(), Some("backend.internal"));
        assert!(t.insecure_skip_verify && t.disable_http2);
        assert_eq!(t.root_cas, vec![PemSource::File("/ca.pem".into())]);
        assert_eq!(t.certificates.len(), 1);
        assert_eq!(t.max_idle_conns_per_host, -1);
        assert_eq!(t.timeouts.dial, Duration::from_secs(2));
        assert_eq!(t.timeouts.response_header, Duration::from_secs(1));
        assert_eq!(t.timeouts.idle_conn, Duration::from_secs(90));
        let (t, _) = decode("{}");
        assert_eq!(t.unwrap().max_idle_conns_per_host, 200);
    }

    #[test]
    fn tls_versions_suites_and_the_san_uri() {
        use wharf_model::{CipherSuite, TlsVersion};
        let (t, issues) = decode("minVersion: VersionTLS13\nmaxVersion: VersionTLS13\ncipherSuites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\npeerCertURI: spiffe://backend\n");
        assert!(issues.is_empty(), "{issues:?}");
        let t = t.unwrap();
        assert_eq!(
            (t.min_version, t.max_version),
            (TlsVersion::Tls13, TlsVersion::Tls13)
        );
        assert_eq!(t.cipher_suites, vec![CipherSuite::EcdheRsaAes128Gcm]);
        assert_eq!(t.peer_cert_uri.as_deref(), Some("spiffe://backend"));
        assert!(t.custom_tls());
        // TLS 1.0 as the minimum is raised to 1.2, said as a warning.
        let (t, issues) = decode("minVersion: VersionTLS10\n");
        assert_eq!(t.unwrap().min_version, TlsVersion::Tls12);
        assert!(!issues[0].is_error() && issues[0].message.contains("minVersion"));
    }

    #[test]
    fn any_ping_timeout_is_taken_without_a_word() {
        // Applied by pingora's pinger (5s) or wharf's own connection, pooled alike.
        for yaml in [
            "forwardingTimeouts: {readIdleTimeout: 10s}\n",
            "forwardingTimeouts: {readIdleTimeout: 10s, pingTimeout: 5s}\n",
            "forwardingTimeouts: {pingTimeout: 2s}\n",
        ] {
            let (t, issues) = decode(yaml);
            assert!(t.is_some() && issues.is_empty(), "{yaml}: {issues:?}");
        }
    }

    #[test]
    fn what_cannot_be_honoured_is_said() {
        let (t, issues) = decode("spiffe: {ids: [spiffe://x]}\n");
        assert!(t.is_none());
        assert!(issues[0].is_error() && matches!(issues[0].origin, Origin::File { .. }));
        for bad in [
            "minVersion: VersionTLS14\n",
            "maxVersion: VersionTLS11\n",
            "minVersion: VersionTLS13\nmaxVersion: VersionTLS12\n",
            "cipherSuites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA257]\n",
        ] {
            let (t, issues) = decode(bad);
            assert!(t.is_none(), "{bad}");
            assert!(issues.iter().any(|i| i.is_error()), "{bad}: {issues:?}");
        }
    }
}
