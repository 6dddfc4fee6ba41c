//! Server assembly: static config -> control plane -> pingora services.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use pingora::apps::HttpServerOptions;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server};
use pingora::services::listening::Service;
use tokio::sync::mpsc;
use wharf_config::{load_static, StaticInputs, StaticSource};
use wharf_control::Controller;
use wharf_discovery::{DockerProvider, FileProvider, RedisProvider, SwarmProvider};
use wharf_model::{Severity, StaticConfig};
use wharf_proxy::edge::{EdgeApp, EdgeLimits, HeadLimits};
use wharf_proxy::{EntryPointProxy, EntryPointSettings, Lifecycle};

/// pingora 0.9's HTTP/1 limits (`MAX_HEADER_SIZE`, `MAX_HEADERS`): the edge refuses beyond
/// them with 431 rather than letting pingora answer 400.
const PINGORA_MAX_HEAD_BYTES: usize = 1_048_575;
const PINGORA_MAX_HEADERS: usize = 256;
use wharf_router::{ControlStatus, Generation, GenerationWriter, ProviderSlot};

pub(crate) fn inputs(args: Vec<String>) -> anyhow::Result<StaticInputs> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| PathBuf::from(v))
    };
    Ok(StaticInputs {
        args,
        cwd: std::env::current_dir().context("cannot read the working directory")?,
        home: get("HOME"),
        xdg_config_home: get("XDG_CONFIG_HOME"),
        etc_dir: get("WHARF_ETC_DIR").unwrap_or_else(|| PathBuf::from("/etc/traefik")),
        env,
    })
}

pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    pingora::tls::install_default_crypto_provider();
    let loaded = load_static(&inputs(args)?)?;
    let log_file = crate::logging::init(&loaded.config.log);
    match &loaded.source {
        StaticSource::File(p) => tracing::info!(file = %p.display(), "static configuration loaded"),
        StaticSource::Flags => tracing::info!("static configuration from command-line flags"),
        StaticSource::Env => {
            tracing::info!("static configuration from TRAEFIK_* environment variables")
        }
        StaticSource::Defaults => {
            tracing::info!("no static configuration found; using Traefik's defaults")
        }
    }
    for w in &loaded.warnings {
        match w.severity {
            Severity::Warning => tracing::warn!("{w}"),
            Severity::Error => tracing::error!("{w}"),
        }
    }
    let statics = Arc::new(loaded.config);

    let names: Vec<String> = statics.entry_points.keys().cloned().collect();
    let tls = wharf_tls::TlsRegistry::new().context("cannot set up TLS")?;
    let challenges = Arc::new(wharf_tls::AcmeChallenges::default());
    let (writer, reader) = GenerationWriter::new(Generation::empty(&names, &tls.empty_snapshot()));
    let control_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("wharf-control")
        .enable_all()
        .build()
        .context("cannot start the control-plane runtime")?;
    let mut enabled = Vec::new();
    if statics.providers.file.is_some() {
        enabled.push(ProviderSlot::File);
    }
    if statics.providers.docker.is_some() {
        enabled.push(ProviderSlot::Docker);
    }
    if statics.providers.swarm.is_some() {
        enabled.push(ProviderSlot::Swarm);
    }
    if statics.providers.redis.is_some() {
        enabled.push(ProviderSlot::Redis);
    }
    let control = Arc::new(ControlStatus::new(&enabled));
    let metrics = statics.metrics.as_ref().map(|m| {
        let metrics = wharf_observe::Metrics::new(metrics_settings(m, m.add_internals), &names);
        metrics.set_control(control.clone());
        metrics
    });
    let access_log = match &statics.access_log {
        Some(config) => Some(Arc::new(
            wharf_observe::access_log::AccessLog::start(config.clone()).context("access log")?,
        )),
        None => None,
    };
    if access_log.is_some() || log_file.is_some() {
        reopen_on_sigusr1(&control_rt, access_log.clone(), log_file);
    }
    start_control_plane(
        &control_rt,
        statics.clone(),
        writer,
        control.clone(),
        tls,
        challenges.clone(),
        metrics.clone(),
    )?;

    let lifecycle = Lifecycle::new();
    let grace = statics
        .entry_points
        .values()
        .map(|e| e.grace_timeout)
        .max()
        .unwrap_or(Duration::from_secs(10));
    let accept_grace = statics
        .entry_points
        .values()
        .map(|e| e.request_accept_grace_timeout)
        .max()
        .unwrap_or_default();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut conf = ServerConf {
        threads,
        // One thread (the design's half core) has nothing to steal from: pingora then runs
        // a current-thread runtime, whose scheduler costs less per task wake-up (callgrind on
        // one core: 1.4 % fewer instructions per request). Several threads keep balancing their work.
        work_stealing: threads > 1,
        grace_period_seconds: Some(grace.as_secs().max(1)),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let tmp = std::env::temp_dir();
    conf.pid_file = tmp
        .join(format!("wharf-{}.pid", std::process::id()))
        .display()
        .to_string();
    conf.upgrade_sock = tmp
        .join(format!("wharf-{}.sock", std::process::id()))
        .display()
        .to_string();
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let hostname: Arc<str> = Arc::from(gethostname::gethostname().to_string_lossy().as_ref());
    let ping_status = statics
        .ping
        .as_ref()
        .map_or(503, |p| p.terminating_status_code);
    for (index, (name, ep)) in statics.entry_points.iter().enumerate() {
        check_bindable(ep.address).with_context(|| format!("entrypoint `{name}`"))?;
        let settings = EntryPointSettings {
            name: name.clone(),
            index,
            forwarded: ep.forwarded_headers.clone(),
            read_timeout: if ep.read_timeout.is_zero() {
                Duration::from_secs(3600)
            } else {
                ep.read_timeout
            },
            idle_timeout: ep.idle_timeout,
            write_timeout: ep.write_timeout,
            ping_terminating_status: ping_status,
            underscore_headers: ep.underscore_headers,
        };
        let mut proxy = EntryPointProxy::new(
            settings,
            reader.clone(),
            lifecycle.clone(),
            control.clone(),
            hostname.clone(),
            challenges.clone(),
        );
        if let Some(metrics) = &metrics {
            proxy = proxy.with_metrics(metrics.clone());
        }
        if let Some(log) = &access_log {
            proxy = proxy.with_access_log(log.clone());
        }
        let mut options = HttpServerOptions::default();
        options.h2c = true;
        let mut http = pingora::proxy::http_proxy(&server.configuration, proxy);
        http.server_options = Some(options);
        // pingora's bounded defaults (malformed-stream budget, h2's reset-flood limits),
        // with Traefik's stream limit and the entrypoint's header limit.
        let mut h2 = pingora::protocols::http::v2::server::default_h2_options();
        h2.max_concurrent_streams(ep.http2_max_concurrent_streams);
        h2.max_header_list_size(
            u32::try_from(ep.max_header_bytes.min(PINGORA_MAX_HEAD_BYTES)).unwrap_or(u32::MAX),
        );
        http.h2_options = Some(h2);
        let limits = EdgeLimits {
            head: HeadLimits {
                // pingora's parser stops at 1 MiB - 1 and 256 header lines.
                max_bytes: ep.max_header_bytes.min(PINGORA_MAX_HEAD_BYTES),
                max_fields: PINGORA_MAX_HEADERS,
            },
            read_timeout: ep.read_timeout,
            idle_timeout: ep.idle_timeout,
        };
        let index = Generation::entry_point_index(&names, name).context("entrypoint index")?;
        let mut edge = EdgeApp::new(http, limits, reader.clone(), index, challenges.clone());
        if let Some(metrics) = &metrics {
            edge = edge.with_metrics(metrics);
        }
        let mut service = Service::new(format!("entrypoint {name}"), edge);
        // No L4 buffers: the edge reads in 4 KiB (head) and 16 KiB (body) pieces itself, and
        // coalesces a response's writes in a buffer it frees between requests. pingora's
        // 64 KiB read and 1.4 KiB write buffers, kept for a connection's whole life, were
        // most of an idle connection's memory (benches/RESULTS.md).
        service.add_listener(
            ListenerConfig::tcp(ep.address.to_string()).l4_buffer(L4BufferSettings::new(0, 0)),
        );
        server.add_service(service);
        tracing::info!(entrypoint = %name, address = %ep.address, "listening");
    }
    server.run(RunArgs {
        shutdown_signal: lifecycle.signal_watch(accept_grace, grace),
    });
    drop(control_rt);
    if let Some(log) = access_log {
        // The lines still queued are written before the process ends.
        log.close();
    }
    Ok(())
}

/// Log rotation: SIGUSR1 reopens the access log (after the lines already queued) and the
/// log file, as Traefik does.
fn reopen_on_sigusr1(
    rt: &tokio::runtime::Runtime,
    access_log: Option<Arc<wharf_observe::access_log::AccessLog>>,
    log_file: Option<Arc<crate::logging::LogFile>>,
) {
    rt.spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let mut usr1 = match signal(SignalKind::user_defined1()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGUSR1; log files will not be reopened on rotation");
                return;
            }
        };
        while usr1.recv().await.is_some() {
            if let Some(f) = &log_file {
                f.reopen();
            }
            if let Some(log) = &access_log {
                log.reopen();
            }
            tracing::info!("SIGUSR1: log files reopened");
        }
    });
}

/// `metrics.prometheus` as the metrics use it (header names were checked by the decoder).
fn metrics_settings(
    m: &wharf_model::PrometheusConfig,
    add_internals: bool,
) -> wharf_observe::MetricsSettings {
    wharf_observe::MetricsSettings {
        buckets: m.buckets.clone(),
        entry_points: m.add_entry_points_labels,
        routers: m.add_routers_labels,
        services: m.add_services_labels,
        header_labels: wharf_observe::HeaderLabels(
            m.header_labels
                .iter()
                .filter_map(|(label, header)| {
                    http::HeaderName::from_bytes(header.as_bytes())
                        .ok()
                        .map(|h| (label.clone(), h))
                })
                .collect(),
        ),
        add_internals,
    }
}

/// Fails early, with the address in the message, if a listener cannot be bound.
fn check_bindable(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    match std::net::TcpListener::bind(addr) {
        Ok(_) => Ok(()),
        Err(e) => bail!("cannot listen on {addr}: {e}"),
    }
}

fn start_control_plane(
    rt: &tokio::runtime::Runtime,
    statics: Arc<StaticConfig>,
    writer: GenerationWriter,
    control: Arc<ControlStatus>,
    tls: wharf_tls::TlsRegistry,
    challenges: Arc<wharf_tls::AcmeChallenges>,
    metrics: Option<Arc<wharf_observe::Metrics>>,
) -> anyhow::Result<()> {
    let mut controller = Controller::new(statics.clone(), writer, control.clone(), tls);
    let docker_state = metrics
        .as_ref()
        .filter(|_| statics.providers.docker.is_some())
        .map(|m| m.provider("docker"));
    let swarm_state = metrics
        .as_ref()
        .filter(|_| statics.providers.swarm.is_some())
        .map(|m| m.provider("swarm"));
    let redis_state = metrics
        .as_ref()
        .filter(|_| statics.providers.redis.is_some())
        .map(|m| m.provider("redis"));
    if let Some(metrics) = metrics {
        controller = controller.with_metrics(metrics);
    }
    // ACME resolvers: their stored certificates are served from the first generation on.
    let (acme_changed, acme_rx) = mpsc::channel(4);
    let acme = (!statics.cert_resolvers.is_empty()).then(|| {
        let listeners = statics.entry_points.values().map(|e| e.address).collect();
        wharf_acme::AcmeManager::new(&statics.cert_resolvers, challenges, acme_changed, listeners)
    });
    if let Some(manager) = &acme {
        controller = controller.with_acme(manager.link());
    }
    let (tx, rx) = mpsc::channel(16);
    let file = statics
        .providers
        .file
        .clone()
        .map(|f| FileProvider::new(f, statics.providers.throttle));
    let docker = statics.providers.docker.clone().map(|d| {
        let provider = DockerProvider::new(d, statics.providers.throttle);
        match docker_state {
            Some(state) => provider.with_state(state),
            None => provider,
        }
    });
    let swarm = statics.providers.swarm.clone().map(|s| {
        let provider = SwarmProvider::new(s, statics.providers.throttle);
        match swarm_state {
            Some(state) => provider.with_state(state),
            None => provider,
        }
    });
    let redis = statics.providers.redis.clone().map(|r| {
        let provider = RedisProvider::new(r, statics.providers.throttle);
        match redis_state {
            Some(state) => provider.with_state(state),
            None => provider,
        }
    });
    rt.block_on(async {
        // The first configuration is live before any listener accepts a connection.
        controller.publish_initial();
        if let Some(provider) = file {
            let first = provider.load(true);
            controller.apply(first);
            supervise(
                ProviderSlot::File,
                provider.watch(tx.clone()),
                control.clone(),
            );
        }
        // Docker, Swarm, Redis: a short wait so their routes serve the first request; an
        // unreachable server only delays them, never start-up.
        if let Some(provider) = docker {
            first_load(&mut controller, "docker", provider.load()).await;
            supervise(
                ProviderSlot::Docker,
                provider.watch(tx.clone()),
                control.clone(),
            );
        }
        if let Some(provider) = swarm {
            first_load(&mut controller, "swarm", provider.load()).await;
            supervise(
                ProviderSlot::Swarm,
                provider.watch(tx.clone()),
                control.clone(),
            );
        }
        if let Some(provider) = redis {
            first_load(&mut controller, "redis", provider.load()).await;
            supervise(ProviderSlot::Redis, provider.watch(tx), control.clone());
        }
    });
    let acme_rx = acme.map(|manager| {
        rt.spawn(manager.run());
        acme_rx
    });
    rt.spawn(controller.run(rx, acme_rx));
    Ok(())
}

/// Applies a followed provider's first read if it answers within 5 s; otherwise its watch
/// delivers the configuration later.
async fn first_load<E: std::fmt::Display>(
    controller: &mut Controller,
    provider: &str,
    load: impl std::future::Future<Output = Result<wharf_discovery::ProviderUpdate, E>>,
) {
    match tokio::time::timeout(Duration::from_secs(5), load).await {
        Ok(Ok(update)) => {
            controller.apply(Ok(update));
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "{provider} provider: not available yet; retrying in the background")
        }
        Err(_) => {
            tracing::error!("{provider} provider: no answer within 5 s; retrying in the background")
        }
    }
}

/// Runs a provider's task; if it ever dies (a bug), readiness says so instead of the
/// provider silently going quiet.
fn supervise(
    slot: ProviderSlot,
    task: impl std::future::Future<Output = ()> + Send + 'static,
    control: Arc<ControlStatus>,
) {
    let handle = tokio::spawn(task);
    tokio::spawn(async move {
        if let Err(e) = handle.await {
            tracing::error!(provider = ?slot, error = %e, "provider stopped; its last configuration stays live");
            control.provider_lost(slot);
        }
    });
}
