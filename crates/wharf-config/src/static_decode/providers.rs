//! `providers`: file, docker, swarm, redis, throttle.

use std::path::PathBuf;

use wharf_model::{
    ConfigIssue, DockerProviderConfig, FileProviderConfig, ProvidersConfig, RedisConnection,
    RedisProviderConfig, RedisSentinel, RedisTls, SwarmProviderConfig,
};

use super::{get_bool, get_duration, get_string};
use crate::decode::{check_keys, duration, integer, list, section_enabled, Issues};
use crate::node::Node;

pub(super) fn providers(n: Option<&Node>, issues: &mut Issues) -> ProvidersConfig {
    let mut out = ProvidersConfig::default();
    let Some(n) = n else { return out };
    check_keys(
        n,
        "providers",
        &[
            "providersThrottleDuration",
            "file",
            "docker",
            "swarm",
            "redis",
        ],
        &[
            "kubernetesCRD",
            "kubernetesIngress",
            "kubernetesIngressNGINX",
            "kubernetesGateway",
            "knative",
            "consul",
            "consulCatalog",
            "nomad",
            "ecs",
            "etcd",
            "http",
            "zooKeeper",
            "rest",
            "plugin",
            "precedence",
        ],
        issues,
    );
    out.throttle = get_duration(n, "providersThrottleDuration", "providers", issues);
    if let Some(f) = n
        .get("file")
        .filter(|f| section_enabled(f, "providers.file", issues))
    {
        let fp = "providers.file";
        check_keys(
            f,
            fp,
            &[
                "filename",
                "directory",
                "watch",
                "debugLogGeneratedTemplate",
            ],
            &[],
            issues,
        );
        let watch = get_bool(f, "watch", fp, issues).unwrap_or(true);
        let filename = get_string(f, "filename", fp, issues).filter(|s| !s.is_empty());
        let directory = get_string(f, "directory", fp, issues).filter(|s| !s.is_empty());
        out.file = match (filename, directory) {
            (Some(_), Some(_)) => {
                issues.push(
                    ConfigIssue::error(
                        f.origin.clone(),
                        "`providers.file.filename` and `providers.file.directory` are mutually exclusive",
                    )
                    .with_hint("keep one of them (Traefik's docs recommend `directory`)"),
                );
                None
            }
            (Some(p), None) => Some(FileProviderConfig::File {
                path: PathBuf::from(p),
                watch,
            }),
            (None, Some(p)) => Some(FileProviderConfig::Directory {
                path: PathBuf::from(p),
                watch,
            }),
            (None, None) => {
                issues.push(
                    ConfigIssue::error(
                        f.origin.clone(),
                        "`providers.file` needs `filename` or `directory`",
                    )
                    .with_hint("e.g. `providers.file.directory: /etc/traefik/dynamic`"),
                );
                None
            }
        };
    }
    if let Some(d) = n
        .get("docker")
        .filter(|d| section_enabled(d, "providers.docker", issues))
    {
        out.docker = Some(docker_like(d, "providers.docker", &[], issues));
    }
    if let Some(d) = n
        .get("swarm")
        .filter(|d| section_enabled(d, "providers.swarm", issues))
    {
        let defaults = SwarmProviderConfig::default();
        let refresh = get_duration(d, "refreshSeconds", "providers.swarm", issues)
            .filter(|r| !r.is_zero())
            .unwrap_or(defaults.refresh);
        out.swarm = Some(SwarmProviderConfig {
            shared: docker_like(d, "providers.swarm", &["refreshSeconds"], issues),
            refresh,
        });
    }
    if let Some(r) = n
        .get("redis")
        .filter(|r| section_enabled(r, "providers.redis", issues))
    {
        out.redis = redis(r, issues);
    }
    out
}

/// `providers.redis`; None (reported) when it cannot be used at all.
fn redis(r: &Node, issues: &mut Issues) -> Option<RedisProviderConfig> {
    let rp = "providers.redis";
    check_keys(
        r,
        rp,
        &[
            "endpoints",
            "rootKey",
            "username",
            "password",
            "db",
            "tls",
            "sentinel",
        ],
        &[],
        issues,
    );
    let defaults = RedisProviderConfig::default();
    let connection = redis_connection(r, rp, "the provider is disabled", issues)?;
    let root_key = get_string(r, "rootKey", rp, issues)
        .map(|k| k.trim_matches('/').to_string())
        .filter(|k| !k.is_empty())
        .unwrap_or(defaults.root_key);
    Some(RedisProviderConfig {
        connection,
        root_key,
    })
}

/// `endpoints`, `username`, `password`, `db` of a Redis client section at `path`; None
/// (reported, saying `consequence`: what is then disabled) when it cannot be used.
pub(crate) fn redis_connection(
    r: &Node,
    path: &str,
    consequence: &str,
    issues: &mut Issues,
) -> Option<RedisConnection> {
    let defaults = RedisConnection::default();
    let endpoints = r
        .get("endpoints")
        .and_then(|e| list(e, &format!("{path}.endpoints"), issues))
        .unwrap_or_default();
    let sentinel_section = r.get("sentinel");
    let mut sentinels = Vec::new();
    for (one, origin) in &endpoints {
        let authority = one.parse::<http::uri::Authority>().ok();
        if authority.and_then(|a| a.port_u16()).is_none() {
            issues.push(
                ConfigIssue::error(
                    origin.clone(),
                    format!("`{path}.endpoints`: `{one}` is not host:port; {consequence}"),
                )
                .with_hint("e.g. `redis:6379`"),
            );
            return None;
        }
        sentinels.push(one.clone());
    }
    if let ([_, (_, second), ..], None) = (endpoints.as_slice(), sentinel_section) {
        issues.push(
            ConfigIssue::error(
                second.clone(),
                format!("`{path}.endpoints`: several endpoints are Redis Sentinels, and need `sentinel.masterName` (Traefik refuses them without it too); {consequence}"),
            )
            .with_hint("list the one Redis primary, or add `sentinel: {masterName: mymaster}`"),
        );
        return None;
    }
    let endpoint = sentinels.first().cloned().unwrap_or(defaults.endpoint);
    let sentinel = match sentinel_section {
        None => None,
        Some(s) => Some(redis_sentinel(
            s,
            &format!("{path}.sentinel"),
            sentinels,
            consequence,
            issues,
        )?),
    };
    let db = match r.get("db") {
        None => 0,
        Some(d) => match integer(d, &format!("{path}.db"), issues).map(u32::try_from) {
            None => 0,
            Some(Ok(db)) => db,
            Some(Err(_)) => {
                issues.error(
                    &d.origin,
                    format!("`{path}.db` must be a database number from 0; {consequence}"),
                );
                return None;
            }
        },
    };
    let text =
        |key: &str, issues: &mut Issues| get_string(r, key, path, issues).filter(|s| !s.is_empty());
    let tls = r
        .get("tls")
        .map(|t| redis_tls(t, &format!("{path}.tls"), issues));
    Some(RedisConnection {
        endpoint,
        username: text("username", issues),
        password: text("password", issues),
        db,
        tls,
        sentinel,
    })
}

/// A Redis client's `sentinel` section; the connection's endpoints are the Sentinels.
fn redis_sentinel(
    s: &Node,
    path: &str,
    sentinels: Vec<String>,
    consequence: &str,
    issues: &mut Issues,
) -> Option<RedisSentinel> {
    check_keys(
        s,
        path,
        &["masterName", "username", "password"],
        &[
            "latencyStrategy",
            "randomStrategy",
            "replicaStrategy",
            "useDisconnectedReplicas",
        ],
        issues,
    );
    let text =
        |key: &str, issues: &mut Issues| get_string(s, key, path, issues).filter(|v| !v.is_empty());
    let Some(master_name) = text("masterName", issues) else {
        issues.push(
            ConfigIssue::error(
                s.origin.clone(),
                format!("`{path}.masterName` is required: the name the Sentinels know the primary by; {consequence}"),
            )
            .with_hint("e.g. `masterName: mymaster`"),
        );
        return None;
    };
    Some(RedisSentinel {
        master_name,
        sentinels,
        username: text("username", issues),
        password: text("password", issues),
    })
}

/// A Redis client's `tls` section.
fn redis_tls(t: &Node, path: &str, issues: &mut Issues) -> RedisTls {
    check_keys(
        t,
        path,
        &["ca", "cert", "key", "insecureSkipVerify"],
        &[],
        issues,
    );
    let file = |key: &str, issues: &mut Issues| {
        get_string(t, key, path, issues)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    let tls = RedisTls {
        ca: file("ca", issues),
        cert: file("cert", issues),
        key: file("key", issues),
        insecure_skip_verify: get_bool(t, "insecureSkipVerify", path, issues).unwrap_or(false),
    };
    if tls.cert.is_some() != tls.key.is_some() {
        issues.error(
            &t.origin,
            format!("`{path}`: `cert` and `key` go together (a client certificate needs its key); no client certificate is sent"),
        );
    }
    tls
}

/// The options `providers.docker` and `providers.swarm` share (`dp` names the section).
fn docker_like(d: &Node, dp: &str, extra: &[&str], issues: &mut Issues) -> DockerProviderConfig {
    let mut known = vec![
        "endpoint",
        "exposedByDefault",
        "network",
        "defaultRule",
        "constraints",
        "watch",
        "useBindPortIP",
        "allowEmptyServices",
        "httpClientTimeout",
        "username",
        "password",
        "tls",
    ];
    known.extend_from_slice(extra);
    check_keys(d, dp, &known, &[], issues);
    if let Some(t) = d.get("httpClientTimeout") {
        duration(t, &format!("{dp}.httpClientTimeout"), issues);
    }
    if let Some(c) = d.get("constraints") {
        if let Some(Err(e)) = c
            .as_scalar()
            .filter(|s| !s.is_empty())
            .map(wharf_rule::parse_constraints)
        {
            issues.push(
                ConfigIssue::error(c.origin.clone(), format!("`{dp}.constraints`: {e}"))
                    .with_hint_opt(e.hint),
            );
        }
    }
    if let Some(r) = d.get("defaultRule") {
        let template = r.as_scalar().unwrap_or("");
        let sample = crate::docker::ContainerInfo::default();
        if let Err(e) = crate::docker::render_default_rule(template, "name", &sample) {
            issues.error(&r.origin, format!("`{dp}.defaultRule`: {e}"));
        }
    }
    let defaults = DockerProviderConfig::default();
    let text =
        |key: &str, issues: &mut Issues| get_string(d, key, dp, issues).filter(|s| !s.is_empty());
    DockerProviderConfig {
        endpoint: text("endpoint", issues).unwrap_or(defaults.endpoint),
        exposed_by_default: get_bool(d, "exposedByDefault", dp, issues)
            .unwrap_or(defaults.exposed_by_default),
        network: text("network", issues),
        default_rule: text("defaultRule", issues).unwrap_or(defaults.default_rule),
        constraints: text("constraints", issues),
        watch: get_bool(d, "watch", dp, issues).unwrap_or(defaults.watch),
        use_bind_port_ip: get_bool(d, "useBindPortIP", dp, issues)
            .unwrap_or(defaults.use_bind_port_ip),
        allow_empty_services: get_bool(d, "allowEmptyServices", dp, issues),
    }
}
