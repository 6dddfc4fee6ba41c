//! Static configuration: sources, precedence, Traefik's defaults, located errors.

use std::path::PathBuf;
use std::time::Duration;

use wharf_config::{load_static, StaticError, StaticInputs, StaticSource};

fn inputs(dir: &tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> StaticInputs {
    StaticInputs {
        args: args.iter().map(|s| s.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cwd: dir.path().to_path_buf(),
        home: None,
        xdg_config_home: None,
        etc_dir: dir.path().join("etc-traefik"),
    }
}

fn errors(err: StaticError) -> Vec<String> {
    match err {
        StaticError::Invalid(issues) => issues
            .iter()
            .filter(|i| i.is_error())
            .map(ToString::to_string)
            .collect(),
        other => vec![other.to_string()],
    }
}

#[test]
fn flags_in_traefik_dotted_form_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load_static(&inputs(
        &dir,
        &[
            "--entryPoints.web.address=:8081",
            "--ENTRYPOINTS.Adm.ADDRESS=127.0.0.1:9000",
            "--entrypoints.web.forwardedHeaders.trustedIPs=10.0.0.0/8,127.0.0.1",
            "--providers.file.filename",
            "/tmp/x.yml",
            "--api.insecure=true",
            "--ping",
            "--log.level=debug",
        ],
        &[("TRAEFIK_ENTRYPOINTS_IGNORED_ADDRESS", ":1")],
    ))
    .unwrap();
    assert_eq!(loaded.source, StaticSource::Flags);
    let c = loaded.config;
    assert_eq!(
        c.entry_points.keys().collect::<Vec<_>>(),
        ["Adm", "traefik", "web"]
    );
    assert_eq!(c.entry_points["web"].address.to_string(), "0.0.0.0:8081");
    assert_eq!(c.entry_points["Adm"].address.to_string(), "127.0.0.1:9000");
    assert_eq!(c.entry_points["traefik"].address.port(), 8080);
    assert_eq!(c.entry_points["web"].forwarded_headers.trusted_ips.len(), 2);
    assert!(c.api.unwrap().insecure);
    assert_eq!(c.ping.unwrap().entry_point, "traefik");
    assert_eq!(c.log.level, "DEBUG");
    assert!(matches!(
        c.providers.file,
        Some(wharf_model::FileProviderConfig::File { ref path, watch: true }) if path == &PathBuf::from("/tmp/x.yml")
    ));
}

#[test]
fn env_is_used_only_without_file_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load_static(&inputs(
        &dir,
        &[],
        &[
            ("TRAEFIK_ENTRYPOINTS_WEB_ADDRESS", ":8082"),
            ("TRAEFIK_PING", "true"),
            (
                "TRAEFIK_ENTRYPOINTS_WEB_TRANSPORT_LIFECYCLE_GRACETIMEOUT",
                "3s",
            ),
        ],
    ))
    .unwrap();
    assert_eq!(loaded.source, StaticSource::Env);
    assert_eq!(loaded.config.entry_points["web"].address.port(), 8082);
    assert_eq!(
        loaded.config.entry_points["web"].grace_timeout,
        Duration::from_secs(3)
    );
    assert!(loaded.config.ping.is_some());
}

#[test]
fn a_config_file_in_the_working_directory_wins_over_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("traefik.yml"),
        "entryPoints:\n  fromfile:\n    address: \":7000\"\n",
    )
    .unwrap();
    let loaded = load_static(&inputs(&dir, &["--entryPoints.web.address=:80"], &[])).unwrap();
    assert!(matches!(loaded.source, StaticSource::File(_)));
    assert_eq!(
        loaded.config.entry_points.keys().collect::<Vec<_>>(),
        ["fromfile"]
    );
}

#[test]
fn config_file_flag_and_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("static.yaml"),
        "providers:\n  providersThrottleDuration: 500ms\n  docker:\n    exposedByDefault: false\n",
    )
    .unwrap();
    let loaded = load_static(&inputs(&dir, &["--configfile", "static.yaml"], &[])).unwrap();
    let c = loaded.config;
    assert_eq!(c.entry_points.keys().collect::<Vec<_>>(), ["http"]);
    assert_eq!(c.entry_points["http"].address.port(), 80);
    assert_eq!(c.providers.throttle, Some(Duration::from_millis(500)));
    let docker = c.providers.docker.unwrap();
    assert!(!docker.exposed_by_default);
    assert_eq!(docker.endpoint, "unix:///var/run/docker.sock");
    assert_eq!(docker.default_rule, "Host(`{{ normalize .Name }}`)");
}

#[test]
fn misspelt_keys_name_the_file_line_and_nearest_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("traefik.yml"),
        "entryPoints:\n  web:\n    adress: \":80\"\nprovders:\n  file: {}\n",
    )
    .unwrap();
    let errs = errors(load_static(&inputs(&dir, &[], &[])).unwrap_err());
    let file = dir.path().join("traefik.yml").display().to_string();
    assert!(
        errs.iter().any(|e| e.starts_with(&format!(
            "{file}:3:5: error: unknown key `entryPoints.web.adress`"
        )) && e.contains("did you mean `entryPoints.web.address`?")),
        "{errs:#?}"
    );
    assert!(
        errs.iter().any(
            |e| e.starts_with(&format!("{file}:4:1: error: unknown key `provders`"))
                && e.contains("did you mean `providers`?")
        ),
        "{errs:#?}"
    );
}

#[test]
fn unimplemented_sections_warn_once_each() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("traefik.yml"),
        "hostResolver: {}\ntracing: {}\nentryPoints:\n  web:\n    address: \":80\"\n    http2:\n      maxConcurrentStreams: 10\n",
    )
    .unwrap();
    let loaded = load_static(&inputs(&dir, &[], &[])).unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(warnings[0].contains("`hostResolver` is not implemented by wharf yet"));
    assert_eq!(
        loaded.config.entry_points["web"].http2_max_concurrent_streams,
        10
    );
}

#[test]
fn acme_resolvers_get_traefiks_defaults_and_need_a_challenge() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("traefik.yml"),
        "entryPoints:\n  web:\n    address: \":80\"\ncertificatesResolvers:\n  le:\n    acme:\n      email: a@b.c\n      httpChallenge: {entryPoint: web}\n",
    )
    .unwrap();
    let loaded = load_static(&inputs(&dir, &[], &[])).unwrap();
    let acme = &loaded.config.cert_resolvers["le"].acme;
    assert_eq!(acme.ca_server, wharf_model::LETS_ENCRYPT);
    assert_eq!(acme.storage, std::path::PathBuf::from("acme.json"));
    assert_eq!(acme.key_type, wharf_model::AcmeKeyType::Rsa4096);
    assert_eq!(acme.certificates_duration.as_secs(), 2160 * 3600);
    assert_eq!(acme.http_challenge.as_deref(), Some("web"));

    std::fs::write(
        dir.path().join("traefik.yml"),
        "entryPoints:\n  web:\n    address: \":80\"\ncertificatesResolvers:\n  le:\n    acme:\n      keyType: RSA1024\n  other:\n    acme:\n      httpChallenge: {entryPoint: webb}\n",
    )
    .unwrap();
    let err = load_static(&inputs(&dir, &[], &[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown key type `RSA1024`"), "{err}");
    assert!(
        err.contains("`certificatesResolvers.le.acme` has no challenge"),
        "{err}"
    );
    assert!(
        err.contains("httpChallenge entrypoint `webb` does not exist"),
        "{err}"
    );
}

#[test]
fn an_acme_storage_in_redis_is_shared_and_a_bad_url_is_reported_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let resolver = |storage: &str| {
        format!("entryPoints:\n  web:\n    address: \":80\"\ncertificatesResolvers:\n  le:\n    acme:\n      storage: {storage}\n      httpChallenge: {{entryPoint: web}}\n")
    };
    std::fs::write(
        dir.path().join("traefik.yml"),
        resolver("redis://:pw@redis:6379/1?key=edge/acme.json"),
    )
    .unwrap();
    let loaded = load_static(&inputs(&dir, &[], &[])).unwrap();
    let shared = loaded.config.cert_resolvers["le"]
        .acme
        .redis_storage
        .clone()
        .expect("shared");
    assert_eq!(shared.connection.endpoint, "redis:6379");
    assert_eq!(shared.connection.password.as_deref(), Some("pw"));
    assert_eq!(shared.connection.db, 1);
    assert_eq!(shared.key, "edge/acme.json");

    std::fs::write(dir.path().join("traefik.yml"), resolver("redis://redis")).unwrap();
    let err = load_static(&inputs(&dir, &[], &[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("traefik.yml:7:16: error: `certificatesResolvers.le.acme.storage`: `redis` is not host:port"),
        "{err}"
    );
}

#[test]
fn bad_values_are_errors_with_origins() {
    let dir = tempfile::tempdir().unwrap();
    let errs = errors(
        load_static(&inputs(
            &dir,
            &[
                "--entryPoints.web.address=:http",
                "--entryPoints.b.address=:81",
                "--entryPoints.b.transport.respondingTimeouts.readTimeout=10parsecs",
                "--entryPoints.c.address=:82",
                "--entryPoints.c.http.redirections.entryPoint.to=websecur",
                "--entryPoints.websecure.address=:443",
                "--ping.entryPoint=nope",
            ],
            &[],
        ))
        .unwrap_err(),
    );
    let all = errs.join("\n");
    assert!(all.contains("flag --entryPoints.web.address: error: `entryPoints.web.address`: `http` is not a valid port"), "{all}");
    assert!(all.contains("unknown unit `parsecs`"), "{all}");
    assert!(
        all.contains("names `websecur`, which is neither an entrypoint nor `:port`"),
        "{all}"
    );
    assert!(all.contains("did you mean `websecure`?"), "{all}");
    assert!(all.contains("`ping.entryPoint` names `nope`"), "{all}");
}

#[test]
fn redirect_port_comes_from_the_target_entrypoint() {
    let dir = tempfile::tempdir().unwrap();
    let c = load_static(&inputs(
        &dir,
        &[
            "--entryPoints.web.address=:8000",
            "--entryPoints.web.http.redirections.entryPoint.to=websecure",
            "--entryPoints.websecure.address=:8443",
            "--entryPoints.other.address=:8001",
            "--entryPoints.other.http.redirections.entryPoint.to=:443",
            "--entryPoints.other.http.redirections.entryPoint.permanent=false",
        ],
        &[],
    ))
    .unwrap()
    .config;
    let r = c.entry_points["web"].redirect.clone().unwrap();
    assert_eq!(
        (r.port, r.scheme.as_str(), r.permanent),
        (8443, "https", true)
    );
    let r = c.entry_points["other"].redirect.clone().unwrap();
    assert_eq!((r.port, r.permanent), (443, false));
}

#[test]
fn middleware_options_are_checked_where_they_are_written() {
    let root = wharf_config::yaml::parse(
        "http:\n  middlewares:\n    sec:\n      headers:\n        frameDeny: true\n        stsSecond: 10\n    fa:\n      forwardAuth:\n        address: http://auth\n        tls:\n          insecureSkipVerfy: true\n    ok:\n      stripPrefix:\n        prefixes: [/api]\n    rl:\n      rateLimit:\n        sourceCriterion:\n          ipStrategy:\n            dept: 1\n",
        "mw.yml",
    )
    .unwrap();
    let (raw, issues) = wharf_config::decode_dynamic(&root);
    let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
    assert!(text.iter().any(|t| t.starts_with("mw.yml:6:9: error: unknown key `http.middlewares.sec.headers.stsSecond` (hint: did you mean `http.middlewares.sec.headers.stsSeconds`?)")), "{text:#?}");
    assert!(text.iter().any(|t| t.starts_with("mw.yml:11:11: error: unknown key `http.middlewares.fa.forwardAuth.tls.insecureSkipVerfy`")), "{text:#?}");
    assert!(text.iter().any(|t| t.starts_with("mw.yml:19:13: error: unknown key `http.middlewares.rl.rateLimit.sourceCriterion.ipStrategy.dept`")), "{text:#?}");
    assert_eq!(
        raw.middlewares.keys().collect::<Vec<_>>(),
        ["ok"],
        "invalid middlewares are dropped"
    );
}

#[test]
fn access_log_and_metrics_options_decode_with_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("traefik.yml"),
        "accessLog:\n  format: json\n  bufferingSize: 50\n  filters:\n    statusCodes: [\"404\", \"500-599\"]\n    minDuration: 10ms\n  fields:\n    defaultMode: keep\n    names: {ClientUsername: drop}\n    headers:\n      defaultMode: keep\n      names: {Authorization: redact}\nmetrics:\n  prometheus:\n    headerLabels: {tenant: X-Tenant}\nlog:\n  filePath: /tmp/w.log\n  maxSize: 10\n",
    )
    .unwrap();
    let loaded = load_static(&inputs(&dir, &[], &[])).expect("valid");
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("`log.maxSize` is not implemented by wharf")),
        "{warnings:?}"
    );
    assert_eq!(
        loaded.config.log.file_path,
        Some(PathBuf::from("/tmp/w.log"))
    );
    let log = loaded.config.access_log.expect("accessLog");
    assert_eq!(log.format, wharf_model::AccessLogFormat::Json);
    assert_eq!(log.buffering_size, 50);
    assert_eq!(log.filters.status_codes, vec![(404, 404), (500, 599)]);
    assert_eq!(log.filters.min_duration, Duration::from_millis(10));
    assert_eq!(
        log.fields.names,
        vec![("clientusername".to_string(), false)]
    );
    assert_eq!(
        log.fields.headers,
        vec![("authorization".to_string(), wharf_model::HeaderMode::Redact)]
    );
    let metrics = loaded.config.metrics.expect("metrics");
    assert_eq!(
        metrics.header_labels,
        vec![("tenant".into(), "X-Tenant".into())]
    );

    std::fs::write(
        dir.path().join("traefik.yml"),
        "accessLog:\n  filters:\n    statusCodes: [\"600-500\"]\n  fields:\n    headers:\n      names: {Cookie: hide}\nmetrics:\n  prometheus:\n    headerLabels: {code: X-Code}\n",
    )
    .unwrap();
    let all = errors(load_static(&inputs(&dir, &[], &[])).unwrap_err()).join("\n");
    assert!(
        all.contains("traefik.yml:3:") && all.contains("`600-500` is not a status code or a range"),
        "{all}"
    );
    assert!(
        all.contains("traefik.yml:6:")
            && all.contains("`accessLog.fields.headers.names.Cookie`: unknown mode `hide`"),
        "{all}"
    );
    assert!(
        all.contains("the label `code` is already one of Traefik's own labels"),
        "{all}"
    );
}
