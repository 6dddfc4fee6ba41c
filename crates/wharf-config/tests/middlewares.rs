//! Middleware definitions: Traefik's defaults, and impossible values reported where written.

use std::collections::BTreeMap;

use wharf_model::{MiddlewareKind, ProviderName};

/// Validates one file's middlewares: the valid ones by name, and every issue as text.
fn decode(yaml: &str) -> (BTreeMap<String, MiddlewareKind>, Vec<String>) {
    let root = wharf_config::yaml::parse(yaml, "mw.yml").unwrap();
    let (raw, mut issues) = wharf_config::decode_dynamic(&root);
    let (statics, _) = wharf_config::decode_static(&wharf_config::flags_to_node(&[]));
    let providers = [wharf_config::ProviderConfig {
        provider: ProviderName::new("file"),
        raw,
    }];
    let (config, more) = wharf_config::validate(&providers, &statics);
    issues.extend(more);
    let valid = config
        .middlewares
        .into_iter()
        .map(|(name, spec)| (name.name().to_string(), spec.kind))
        .collect();
    (valid, issues.iter().map(ToString::to_string).collect())
}

fn has(text: &[String], prefix: &str) -> bool {
    text.iter().any(|t| t.starts_with(prefix))
}

#[test]
fn compress_defaults_and_bad_values() {
    let (valid, text) = decode(
        "http:\n  middlewares:\n    gz:\n      compress: {}\n    both:\n      compress:\n        excludedContentTypes: [text/plain]\n        includedContentTypes: [text/html]\n    enc:\n      compress:\n        encodings: [gzip, deflate]\n    def:\n      compress:\n        encodings: [zstd]\n        defaultEncoding: br\n    mt:\n      compress:\n        excludedContentTypes: [\"not a type\"]\n    tuned:\n      compress:\n        minResponseBodyBytes: 10\n        includedContentTypes: [\"text/html; charset=utf-8\"]\n",
    );
    assert!(has(&text, "mw.yml:8:31: error: `http.middlewares.both.compress`: excludedContentTypes and includedContentTypes are mutually exclusive"), "{text:#?}");
    assert!(has(&text, "mw.yml:11:20: error: `http.middlewares.enc.compress.encodings`: unsupported encoding `deflate`"), "{text:#?}");
    assert!(has(&text, "mw.yml:15:26: error: `http.middlewares.def.compress.defaultEncoding`: `br` is not one of the encodings"), "{text:#?}");
    assert!(has(&text, "mw.yml:18:31: error: `http.middlewares.mt.compress.excludedContentTypes`: `not a type` is not a media type"), "{text:#?}");
    let names: Vec<&str> = valid.keys().map(String::as_str).collect();
    assert_eq!(names, ["gz", "tuned"], "invalid middlewares are dropped");
    let MiddlewareKind::Compress(tuned) = &valid["tuned"] else {
        panic!("{:?}", valid["tuned"])
    };
    assert_eq!(tuned.min_response_body_bytes, 10);
    assert_eq!(tuned.excluded_content_types, ["application/grpc"]);
}

#[test]
fn compress_from_a_label_switches_it_on_with_defaults() {
    let (valid, text) = decode("http:\n  middlewares:\n    gz:\n      compress: \"true\"\n");
    assert!(text.is_empty(), "{text:#?}");
    assert_eq!(valid["gz"], MiddlewareKind::Compress(Box::default()));
}

#[test]
fn errors_need_their_service_and_valid_statuses() {
    let (valid, text) = decode(
        "http:\n  services:\n    pages:\n      loadBalancer:\n        servers: [{url: \"http://127.0.0.1:1\"}]\n  middlewares:\n    ok:\n      errors:\n        status: [\"500-599\", \"404,418\"]\n        service: pages\n        query: /{status}.html\n        statusRewrites: {\"502-504\": 500}\n    nosvc:\n      errors:\n        status: [\"500\"]\n        service: nowhere\n    badstatus:\n      errors:\n        status: [\"5xx\"]\n        service: pages\n    badrewrite:\n      errors:\n        status: [\"500\"]\n        service: pages\n        statusRewrites: {\"500\": 999}\n",
    );
    assert!(has(&text, "mw.yml:14:7: error: middleware `nosvc@file`: its service `nowhere@file` does not exist"), "{text:#?}");
    assert!(has(&text, "mw.yml:19:17: error: `http.middlewares.badstatus.errors.status`: `5xx` is neither a status code nor a range"), "{text:#?}");
    assert!(has(&text, "mw.yml:25:33: error: `http.middlewares.badrewrite.errors.statusRewrites.500` must be a status code (100-599)"), "{text:#?}");
    let names: Vec<&str> = valid.keys().map(String::as_str).collect();
    assert_eq!(names, ["ok"]);
    let MiddlewareKind::Errors(ok) = &valid["ok"] else {
        panic!("{:?}", valid["ok"])
    };
    assert_eq!(ok.status, [(500, 599), (404, 404), (418, 418)]);
    assert_eq!(ok.status_rewrites, [((502, 504), 500)]);
    assert_eq!(ok.service.as_str(), "pages@file");
}

#[test]
fn circuit_breaker_expressions_are_parsed_at_load() {
    let (valid, text) = decode(
        "http:\n  middlewares:\n    ok:\n      circuitBreaker:\n        expression: \"NetworkErrorRatio() > 0.5 || LatencyAtQuantileMS(50.0) > 100\"\n        fallbackDuration: 5s\n    typo:\n      circuitBreaker:\n        expression: \"NetworkErrorRate() > 0.5\"\n    code:\n      circuitBreaker:\n        expression: \"NetworkErrorRatio() > 0.5\"\n        responseCode: 1000\n    missing:\n      circuitBreaker: {}\n",
    );
    assert!(has(&text, "mw.yml:9:21: error: `http.middlewares.typo.circuitBreaker.expression`: invalid expression `NetworkErrorRate() > 0.5`"), "{text:#?}");
    assert!(
        text.iter()
            .any(|t| t.contains("unknown function `NetworkErrorRate`")
                && t.contains("NetworkErrorRatio()")),
        "{text:#?}"
    );
    assert!(has(&text, "mw.yml:13:23: error: `http.middlewares.code.circuitBreaker.responseCode` must be a status code"), "{text:#?}");
    assert!(
        has(
            &text,
            "mw.yml:15:23: error: `http.middlewares.missing.circuitBreaker.expression` is required"
        ),
        "{text:#?}"
    );
    let names: Vec<&str> = valid.keys().map(String::as_str).collect();
    assert_eq!(names, ["ok"]);
    let MiddlewareKind::CircuitBreaker(ok) = &valid["ok"] else {
        panic!("{:?}", valid["ok"])
    };
    assert_eq!(
        (
            ok.check_period_ms,
            ok.fallback_ms,
            ok.recovery_ms,
            ok.response_code
        ),
        (100, 5_000, 10_000, 503)
    );
}

#[test]
fn ipv6_subnet_is_a_prefix_length() {
    let (valid, text) = decode(
        "http:\n  middlewares:\n    ok:\n      ipAllowList:\n        sourceRange: [\"2001:db8::/64\"]\n        ipStrategy: {ipv6Subnet: 64}\n    bad:\n      rateLimit:\n        average: 5\n        sourceCriterion:\n          ipStrategy: {ipv6Subnet: 129}\n",
    );
    assert!(has(&text, "mw.yml:11:36: error: `http.middlewares.bad.rateLimit.sourceCriterion.ipStrategy.ipv6Subnet` must be a prefix length from 0 to 128"), "{text:#?}");
    let MiddlewareKind::IpAllowList { ipv6_subnet, .. } = &valid["ok"] else {
        panic!("{:?}", valid["ok"])
    };
    assert_eq!(*ipv6_subnet, Some(64));
    assert!(!valid.contains_key("bad"));
}

#[test]
fn content_type_is_accepted_with_a_warning_and_pass_tls_client_cert_decodes() {
    let (valid, text) = decode(
        "http:\n  middlewares:\n    ct:\n      contentType: {}\n    cert:\n      passTLSClientCert:\n        pem: true\n        info:\n          notAfter: true\n          subject: {commonName: true, organization: true}\n",
    );
    assert!(
        has(
            &text,
            "mw.yml:4:20: warning: `http.middlewares.ct.contentType`: wharf does not sniff"
        ),
        "{text:#?}"
    );
    assert!(!has(&text, "passTLSClientCert"), "{text:#?}");
    assert_eq!(valid["ct"], MiddlewareKind::ContentType);
    let MiddlewareKind::PassTlsClientCert(spec) = &valid["cert"] else {
        panic!("{:?}", valid["cert"]);
    };
    assert!(spec.pem);
    let info = spec.info.as_ref().expect("info");
    assert!(info.not_after && !info.not_before);
    let subject = info.subject.as_ref().expect("subject");
    assert!(subject.common_name && subject.organization && !subject.country);
}

#[test]
fn forward_auth_tls_files_are_checked_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "nothing here\n").unwrap();
    let yaml = format!(
        "http:\n  middlewares:\n    missing:\n      forwardAuth:\n        address: https://auth\n        tls: {{ca: /nonexistent/ca.pem}}\n    bad:\n      forwardAuth:\n        address: https://auth\n        tls: {{ca: \"{g}\"}}\n    nokey:\n      forwardAuth:\n        address: https://auth\n        tls: {{cert: \"{e}\"}}\n",
        g = garbage.display(),
        e = empty.display()
    );
    let (valid, text) = decode(&yaml);
    assert!(has(&text, "mw.yml:6:19: error: `http.middlewares.missing.forwardAuth.tls.ca`: cannot read `/nonexistent/ca.pem`"), "{text:#?}");
    assert!(has(&text, "mw.yml:10:19: error: `http.middlewares.bad.forwardAuth.tls.ca`: the file holds a certificate that is not valid X.509"), "{text:#?}");
    assert!(has(&text, "mw.yml:14:21: error: `http.middlewares.nokey.forwardAuth.tls.cert`: the file holds no certificate"), "{text:#?}");
    assert!(valid.is_empty(), "{valid:?}");
}

#[test]
fn rate_limit_redis_decodes_and_a_bad_endpoint_is_reported_where_it_is() {
    let (valid, text) = decode(
        "http:\n  middlewares:\n    shared:\n      rateLimit:\n        average: 5\n        redis:\n          endpoints: [\"redis:6380\"]\n          db: 2\n          readTimeout: 250ms\n          poolSize: 4\n          tls: {insecureSkipVerify: true}\n    bad:\n      rateLimit:\n        average: 5\n        redis:\n          endpoints: [redis]\n",
    );
    let MiddlewareKind::RateLimit {
        redis: Some(redis), ..
    } = &valid["shared"]
    else {
        panic!("{:?}", valid["shared"])
    };
    assert_eq!(redis.connection.endpoint, "redis:6380");
    assert_eq!(redis.connection.db, 2);
    assert_eq!(redis.read_timeout, std::time::Duration::from_millis(250));
    assert_eq!(redis.dial_timeout, std::time::Duration::from_secs(5));
    assert_eq!(
        redis.connection.tls,
        Some(wharf_model::RedisTls {
            insecure_skip_verify: true,
            ..Default::default()
        })
    );
    assert!(has(&text, "mw.yml:16:23: error: `http.middlewares.bad.rateLimit.redis.endpoints`: `redis` is not host:port; the middleware is disabled"), "{text:#?}");
    assert!(!valid.contains_key("bad"));
}
