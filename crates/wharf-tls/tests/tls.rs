//! wharf-tls without a network: loading and checking certificates, the generated default
//! certificate's shape, SNI lookups, options sets and the per-SNI options map.

use std::time::{Duration, SystemTime};

use wharf_model::{
    CertificateSpec, ClientAuthSpec, ClientAuthType, Origin, PemSource, TlsConfig, TlsOptionsSpec,
};
use wharf_testkit::pki::{self_signed, KeyKind};
use wharf_tls::{load, traefik_default_certificate, CertError, Selected, TlsRegistry};

fn inline(cert: &str, key: &str) -> CertificateSpec {
    CertificateSpec {
        cert: PemSource::Inline(cert.to_string()),
        key: PemSource::Inline(key.to_string()),
        origin: Origin::Default,
    }
}

#[test]
fn the_generated_default_certificate_has_traefiks_shape() {
    let now = SystemTime::now();
    let cert = traefik_default_certificate(now).expect("generated");
    let info = &cert.info;
    assert_eq!(info.common_name, "TRAEFIK DEFAULT CERT");
    assert_eq!(info.issuer_common_name, "TRAEFIK DEFAULT CERT");
    assert_eq!(info.names.len(), 1);
    let san = &info.names[0];
    let parts: Vec<&str> = san.split('.').collect();
    assert_eq!(parts.len(), 4, "{san}");
    assert!(parts[0].len() == 32 && parts[1].len() == 32, "{san}");
    assert!(san.ends_with(".traefik.default"));
    let year = info.not_after - info.not_before;
    assert_eq!(year, 365 * 24 * 3600);
    let der = cert.key.cert[0].as_ref();
    let (_, x509) = x509_parser::parse_x509_certificate(der).expect("x509");
    assert_eq!(
        x509.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.113549.1.1.11"
    );
    let key_bits = match x509.public_key().parsed().expect("key") {
        x509_parser::public_key::PublicKey::RSA(rsa) => rsa.key_size(),
        other => panic!("not RSA: {other:?}"),
    };
    assert_eq!(key_bits, 2048);
    let ku = x509.key_usage().expect("ku").expect("key usage").value;
    assert!(
        ku.digital_signature()
            && ku.key_encipherment()
            && ku.data_encipherment()
            && ku.key_agreement()
    );
    let eku = x509
        .extended_key_usage()
        .expect("eku")
        .expect("extended key usage")
        .value;
    assert!(eku.server_auth);
    let bc = x509
        .basic_constraints()
        .expect("bc")
        .expect("basic constraints")
        .value;
    assert!(!bc.ca);
    // A new one each time.
    let again = traefik_default_certificate(now).expect("generated");
    assert_ne!(again.info.names, cert.info.names);
}

#[test]
fn certificates_load_with_their_names_and_bad_ones_say_why() {
    let (cert, key) = self_signed(&["a.test", "*.b.test"], "a.test", KeyKind::EcdsaP256);
    let loaded = load(&inline(&cert, &key), SystemTime::now()).expect("valid");
    assert_eq!(loaded.info.names, vec!["a.test", "*.b.test"]);
    assert_eq!(loaded.info.common_name, "a.test");

    let (_, other_key) = self_signed(&["a.test"], "a.test", KeyKind::EcdsaP256);
    let err = load(&inline(&cert, &other_key), SystemTime::now()).unwrap_err();
    assert!(matches!(err, CertError::KeyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("does not belong"), "{err}");

    let err = load(
        &inline(
            "-----BEGIN CERTIFICATE-----\ngarbage!\n-----END CERTIFICATE-----\n",
            &key,
        ),
        SystemTime::now(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            CertError::BadPem { .. } | CertError::NoCertificate { .. } | CertError::Parse { .. }
        ),
        "{err}"
    );

    let err = load(
        &inline(
            &cert,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ),
        SystemTime::now(),
    )
    .unwrap_err();
    assert!(matches!(err, CertError::NoKey { .. }), "{err}");

    let missing = CertificateSpec {
        cert: PemSource::File("/nonexistent/a.crt".into()),
        key: PemSource::File("/nonexistent/a.key".into()),
        origin: Origin::Default,
    };
    let err = load(&missing, SystemTime::now()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/a.crt"), "{err}");

    // rcgen certificates are valid until 4096.
    let later = SystemTime::now() + Duration::from_secs(3000 * 365 * 24 * 3600);
    let err = load(&inline(&cert, &key), later).unwrap_err();
    assert!(matches!(err, CertError::Expired { .. }), "{err}");
}

fn config(certs: Vec<CertificateSpec>) -> TlsConfig {
    TlsConfig {
        certificates: certs,
        ..TlsConfig::default()
    }
}

#[test]
fn the_store_serves_exact_then_wildcard_then_default() {
    let (a, ak) = self_signed(&["a.test"], "a.test", KeyKind::EcdsaP256);
    let (w, wk) = self_signed(&["*.b.test"], "*.b.test", KeyKind::EcdsaP256);
    let (x, xk) = self_signed(&["x.b.test"], "x.b.test", KeyKind::EcdsaP256);
    let mut registry = TlsRegistry::new().expect("registry");
    let (snapshot, issues) = registry.build(&config(vec![
        inline(&a, &ak),
        inline(&w, &wk),
        inline(&x, &xk),
    ]));
    assert!(issues.is_empty(), "{issues:?}");
    let cn = |name: Option<&str>| {
        let key = snapshot.store.resolve(name);
        let (_, c) = x509_parser::parse_x509_certificate(key.cert[0].as_ref()).unwrap();
        let cn = c
            .subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        cn
    };
    assert_eq!(cn(Some("a.test")), "a.test");
    assert_eq!(cn(Some("a.test.")), "a.test");
    assert_eq!(cn(Some("y.b.test")), "*.b.test");
    assert_eq!(
        cn(Some("x.b.test")),
        "x.b.test",
        "an exact name wins over a wildcard"
    );
    assert_eq!(
        cn(Some("z.y.b.test")),
        "TRAEFIK DEFAULT CERT",
        "a wildcard covers one label"
    );
    assert_eq!(cn(None), "TRAEFIK DEFAULT CERT");
    assert_eq!(snapshot.store.configured().len(), 3);
}

#[test]
fn a_certificate_that_turns_bad_keeps_its_last_good_version() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(&["a.test"], "a.test", KeyKind::EcdsaP256);
    let cert_path = dir.path().join("a.crt");
    let key_path = dir.path().join("a.key");
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let spec = CertificateSpec {
        cert: PemSource::File(cert_path.clone()),
        key: PemSource::File(key_path.clone()),
        origin: Origin::Default,
    };
    let mut registry = TlsRegistry::new().unwrap();
    let (first, issues) = registry.build(&config(vec![spec.clone()]));
    assert!(issues.is_empty());
    assert!(first.store.find("a.test").is_some());

    std::fs::write(&cert_path, "not a certificate at all, longer than before").unwrap();
    let (second, issues) = registry.build(&config(vec![spec.clone()]));
    let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("a.crt") && t.contains("previous version stays")),
        "{text:?}"
    );
    assert!(
        second.store.find("a.test").is_some(),
        "the last good certificate is still served"
    );

    let (renewed, renewed_key) = self_signed(&["a.test"], "a.test", KeyKind::EcdsaP256);
    std::fs::write(&cert_path, &renewed).unwrap();
    std::fs::write(&key_path, &renewed_key).unwrap();
    let (third, issues) = registry.build(&config(vec![spec]));
    assert!(issues.is_empty(), "{issues:?}");
    let served = third.store.find("a.test").unwrap().cert[0]
        .as_ref()
        .to_vec();
    let expected: Vec<u8> = rustls_pki_types::pem::PemObject::from_pem_slice(renewed.as_bytes())
        .map(|c: rustls_pki_types::CertificateDer<'static>| c.as_ref().to_vec())
        .unwrap();
    assert_eq!(served, expected, "the renewed certificate is served");
}

fn options(name: &str) -> TlsOptionsSpec {
    TlsOptionsSpec::traefik_default(name, Origin::Default)
}

#[test]
fn sni_maps_to_options_and_conflicts_fall_back_to_default() {
    let mut tls = TlsConfig::default();
    tls.options.insert("default".into(), options("default"));
    tls.options.insert(
        "strict@file".into(),
        TlsOptionsSpec {
            sni_strict: true,
            ..options("strict@file")
        },
    );
    tls.options
        .insert("other@file".into(), options("other@file"));
    let mut registry = TlsRegistry::new().unwrap();
    let (snapshot, issues) = registry.build(&tls);
    assert!(issues.is_empty(), "{issues:?}");
    let (sni, warnings) = snapshot.sni_options([
        ("s.test", "strict@file", "r1@file"),
        ("both.test", "strict@file", "r2@file"),
        ("both.test", "other@file", "r3@file"),
        ("gone.test", "missing@file", ""),
    ]);
    let name = |s: Option<&str>| match sni.for_sni(s) {
        Selected::Options(set) => set.name.to_string(),
        Selected::Refused => "refused".to_string(),
    };
    assert_eq!(name(Some("s.test")), "strict@file");
    assert_eq!(name(Some("both.test")), "default");
    assert_eq!(name(Some("gone.test")), "refused");
    assert_eq!(name(Some("elsewhere.test")), "default");
    assert_eq!(name(None), "default");
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("both.test"), "{warnings:?}");
    assert_eq!(sni.name_for_host("s.test."), "strict@file");
    assert_eq!(sni.name_for_host("both.test"), "default");
    assert_eq!(sni.name_for_host("gone.test"), "");
}

#[test]
fn broken_options_are_reported_and_refused_not_weakened() {
    let mut tls = TlsConfig::default();
    tls.options.insert(
        "mtls@file".into(),
        TlsOptionsSpec {
            client_auth: ClientAuthSpec {
                kind: ClientAuthType::RequireAndVerifyClientCert,
                ca_files: vec![PemSource::File("/nonexistent/ca.pem".into())],
            },
            ..options("mtls@file")
        },
    );
    let mut registry = TlsRegistry::new().unwrap();
    let (snapshot, issues) = registry.build(&tls);
    let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("mtls@file") && t.contains("/nonexistent/ca.pem")),
        "{text:?}"
    );
    let (sni, _) = snapshot.sni_options([("m.test", "mtls@file", "m@file")]);
    assert!(matches!(sni.for_sni(Some("m.test")), Selected::Refused));
}

/// The certificate `<name>.crt` and key `<name>.key` of tests/fixtures.
fn fixture(name: &str) -> CertificateSpec {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    CertificateSpec {
        cert: PemSource::File(dir.join(format!("{name}.crt"))),
        key: PemSource::File(dir.join(format!("{name}.key"))),
        origin: Origin::Default,
    }
}

#[test]
fn a_key_of_a_type_rustls_cannot_sign_with_is_named() {
    // A P-521 key (and its certificate): ring signs with P-256, P-384, RSA and Ed25519 only.
    let err = load(&fixture("p521"), SystemTime::now()).unwrap_err();
    assert!(matches!(err, CertError::KeyType { .. }), "{err}");
    assert!(err.to_string().contains("p521.key"), "{err}");
}
