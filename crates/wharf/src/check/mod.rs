//! `wharf check [--compose=FILE [--project-name=NAME]] [--format=text|json] [traefik flags]`:
//! loads the static configuration, the file provider's files and the Docker labels (from a Compose
//! file with no engine, or from the running engine), validates everything as the control plane
//! would, adds what only shows where items meet ([`wharf_config::lint`], networks the proxy
//! shares with nobody), prints each problem with its origin and exits 1 if any is an error.

mod compose;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use wharf_config::{load_static, validate, ProviderConfig};
use wharf_discovery::FileProvider;
use wharf_model::{ConfigIssue, StaticConfig};

/// `check`'s own flags, the rest being Traefik's.
#[derive(Default)]
struct Options {
    compose: Option<PathBuf>,
    project: Option<String>,
    json: bool,
    traefik: Vec<String>,
}

impl Options {
    fn parse(args: Vec<String>) -> anyhow::Result<Options> {
        let mut o = Options::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .with_context(|| format!("{name} needs a value"))
            };
            match flag.as_str() {
                "--compose" | "-f" => o.compose = Some(PathBuf::from(value("--compose")?)),
                "--project-name" | "-p" => o.project = Some(value("--project-name")?),
                "--format" => {
                    o.json = match value("--format")?.as_str() {
                        "json" => true,
                        "text" => false,
                        other => bail!("--format={other}: use text or json"),
                    }
                }
                _ => o.traefik.push(arg),
            }
        }
        Ok(o)
    }
}

/// What was checked, for the summary line.
#[derive(Default)]
pub(crate) struct Counts {
    entry_points: usize,
    routers: usize,
    services: usize,
    middlewares: usize,
}

/// Everything `check` read: the problems, and the configuration when the static part loaded.
pub(crate) struct Loaded {
    pub issues: Vec<ConfigIssue>,
    pub counts: Counts,
    pub config: Option<(StaticConfig, wharf_model::DynamicConfig)>,
}

impl Loaded {
    fn static_failed(issues: Vec<ConfigIssue>) -> Loaded {
        Loaded {
            issues,
            counts: Counts::default(),
            config: None,
        }
    }
}

/// Loads and validates as `check` does: `--compose FILE [-p NAME]` or Traefik's sources.
pub(crate) fn load(
    compose: Option<&std::path::Path>,
    project: Option<&str>,
    flags: &[String],
) -> anyhow::Result<Loaded> {
    match compose {
        Some(path) => compose::check(path, project, flags),
        None => check_host(flags),
    }
}

pub fn check(args: Vec<String>) -> anyhow::Result<()> {
    let options = Options::parse(args)?;
    let Loaded { issues, counts, .. } = load(
        options.compose.as_deref(),
        options.project.as_deref(),
        &options.traefik,
    )?;
    let errors = issues.iter().filter(|i| i.is_error()).count();
    let warnings = issues.len() - errors;
    if options.json {
        let doc = serde_json::json!({
            "issues": issues.iter().map(wharf_control::api::issue_json).collect::<Vec<_>>(),
            "summary": {
                "entryPoints": counts.entry_points,
                "routers": counts.routers,
                "services": counts.services,
                "middlewares": counts.middlewares,
                "errors": errors,
                "warnings": warnings,
            },
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for issue in &issues {
            println!("{issue}");
        }
        println!(
            "{} entrypoint(s), {} router(s), {} service(s), {} middleware(s); {errors} error(s), {warnings} warning(s)",
            counts.entry_points, counts.routers, counts.services, counts.middlewares,
        );
    }
    if errors > 0 {
        bail!("the configuration has {errors} error(s)");
    }
    Ok(())
}

/// The configuration as this host's wharf would load it: static sources, the file provider,
/// and the Docker engine's containers when the Docker provider is on.
fn check_host(flags: &[String]) -> anyhow::Result<Loaded> {
    let loaded = match load_static(&crate::run::inputs(flags.to_vec())?) {
        Ok(loaded) => loaded,
        Err(e) => return Ok(Loaded::static_failed(e.into_issues())),
    };
    let mut issues: Vec<ConfigIssue> = loaded.warnings.clone();
    let statics = Arc::new(loaded.config);
    let mut providers = Vec::new();
    if let Some(file) = statics.providers.file.clone() {
        match FileProvider::new(file, None).load(true) {
            Ok(update) => {
                issues.extend(update.issues);
                providers.push(ProviderConfig {
                    provider: update.provider,
                    raw: update.raw,
                });
            }
            Err(e) => issues.push(e.to_issue()),
        }
    }
    if let Some(docker) = statics.providers.docker.clone() {
        let endpoint = docker.endpoint.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start a runtime")?;
        let provider = wharf_discovery::DockerProvider::new(docker.clone(), None);
        let listed = runtime.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(10), provider.containers()).await
        });
        match listed {
            Ok(Ok(containers)) => {
                let (raw, label_issues) =
                    wharf_config::docker::containers_to_config(&containers, &docker);
                issues.extend(label_issues);
                issues.extend(engine_networks(&containers, &docker));
                providers.push(ProviderConfig {
                    provider: wharf_discovery::DockerProvider::provider_name(),
                    raw,
                });
            }
            Ok(Err(e)) => issues.push(unreachable_engine(&endpoint, &e.to_string())),
            Err(_) => issues.push(unreachable_engine(&endpoint, "no answer within 10 s")),
        }
    }
    Ok(finish(issues, providers, &statics, &|_| {}))
}

/// Run inside the proxy's own container (`docker exec wharf /wharf check`), the routed
/// containers it shares no network with. Docker names a container's host after its id.
fn engine_networks(
    containers: &[wharf_config::docker::ContainerInfo],
    docker: &wharf_model::DockerProviderConfig,
) -> Vec<ConfigIssue> {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let Some(own) = containers
        .iter()
        .find(|c| host.len() >= 12 && c.id.starts_with(&host))
    else {
        return Vec::new();
    };
    let attachment = |c: &wharf_config::docker::ContainerInfo| wharf_config::lint::Attachment {
        kind: "container",
        name: c.name.clone(),
        networks: c.networks.iter().map(|n| n.name.clone()).collect(),
        network: None,
        origin: wharf_model::Origin::Label {
            container: c.name.clone(),
            key: String::new(),
        },
    };
    let proxy = attachment(own);
    containers
        .iter()
        .filter(|c| c.id != own.id && c.running)
        .filter(|c| !(c.network_mode == "host" || c.network_mode.starts_with("container:")))
        .filter(|c| match c.label("traefik.enable") {
            Some(v) => v.eq_ignore_ascii_case("true"),
            None => docker.exposed_by_default,
        })
        .filter_map(|c| {
            let mut target = attachment(c);
            target.network = c
                .label("traefik.docker.network")
                .or(docker.network.as_deref());
            wharf_config::lint::unreachable(&target, &proxy)
        })
        .collect()
}

fn unreachable_engine(endpoint: &str, why: &str) -> ConfigIssue {
    ConfigIssue::warning(
        wharf_model::Origin::Provider("docker".into()),
        format!("cannot list containers from the Docker engine at {endpoint} ({why}): labels are not checked"),
    )
    .with_hint("run where the engine is reachable, or check a Compose file without one: wharf check --compose docker-compose.yml")
}

/// Validation, certificates and transports as the control plane reads them, then the lints.
/// `remap` adjusts the validated configuration before files are read (container paths).
fn finish(
    mut issues: Vec<ConfigIssue>,
    providers: Vec<ProviderConfig>,
    statics: &StaticConfig,
    remap: &dyn Fn(&mut wharf_model::DynamicConfig),
) -> Loaded {
    let (mut config, validation) = validate(&providers, statics);
    remap(&mut config);
    issues.extend(validation);
    match wharf_tls::TlsRegistry::new() {
        Ok(mut tls) => issues.extend(tls.build(&config.tls).1),
        Err(e) => issues.push(ConfigIssue::error(
            wharf_model::Origin::Internal,
            format!("cannot set up TLS: {e}"),
        )),
    }
    // Servers transports' CA files and client certificates, read as the pools would.
    let mut transports = std::collections::BTreeSet::new();
    for service in config.services.values() {
        if transports.insert(service.transport.name.clone()) {
            issues.extend(wharf_upstream::Transport::build(&service.transport).1);
        }
    }
    issues.extend(wharf_config::lint::lint(&config, statics));
    let counts = Counts {
        entry_points: statics.entry_points.len(),
        routers: config.routers.len(),
        services: config.services.len() + config.composites.len(),
        middlewares: config.middlewares.len(),
    };
    Loaded {
        issues,
        counts,
        config: Some((statics.clone(), config)),
    }
}
