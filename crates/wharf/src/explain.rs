//! `wharf explain URL [--method=M] [--header='Name: value']... [--client-ip=IP]
//! [--entrypoint=NAME] [--api=http://host:8080 | --compose=FILE [-p NAME] | traefik flags]`:
//! which routers match a request, in the order wharf tries them, which one wins and why each
//! other one loses, the winner's middleware chain and the servers its service picks from.
//! Routers come from a running instance's API (internal routers and server health included)
//! or from the configuration on disk, loaded as `wharf check` loads it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::{bail, Context};
use serde_json::Value;
use wharf_model::{DynamicConfig, ProviderName, StaticConfig};
use wharf_rule::{BoolExpr, Expr, HeaderLookup, RequestView};

/// A router as explain weighs it.
struct Candidate {
    name: String,
    entry_points: Vec<String>,
    rule: String,
    priority: i64,
    tls: bool,
    middlewares: Vec<String>,
    service: String,
}

struct EntryPoint {
    name: String,
    port: u16,
}

/// A service's kind and servers (with their state when the API knows it).
struct Service {
    kind: String,
    servers: Vec<String>,
}

struct Routing {
    routers: Vec<Candidate>,
    entry_points: Vec<EntryPoint>,
    services: BTreeMap<String, Service>,
    /// Only what the configuration says (no internal routers but redirections, no health).
    from_disk: bool,
}

#[derive(Default)]
struct Request {
    url: String,
    method: String,
    headers: Vec<(String, String)>,
    client_ip: Option<IpAddr>,
    entry_point: Option<String>,
}

impl HeaderLookup for Request {
    fn any_value(&self, name: &str, pred: &mut dyn FnMut(&str) -> bool) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .any(|(_, v)| pred(v))
    }
}

pub fn explain(args: Vec<String>) -> anyhow::Result<()> {
    let mut req = Request {
        method: "GET".into(),
        ..Request::default()
    };
    let (mut api, mut compose, mut project, mut flags) = (None, None, None, Vec::new());
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .with_context(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--method" | "-X" => req.method = value()?.to_ascii_uppercase(),
            "--header" | "-H" => {
                let h = value()?;
                let (k, v) = h
                    .split_once(':')
                    .with_context(|| format!("--header {h}: write `Name: value`"))?;
                req.headers
                    .push((k.trim().to_string(), v.trim().to_string()));
            }
            "--client-ip" => {
                req.client_ip = Some(value()?.parse().context("--client-ip: not an IP address")?)
            }
            "--entrypoint" => req.entry_point = Some(value()?),
            "--api" => api = Some(value()?),
            "--compose" | "-f" => compose = Some(std::path::PathBuf::from(value()?)),
            "--project-name" | "-p" => project = Some(value()?),
            _ if !arg.starts_with('-') && req.url.is_empty() => req.url = arg,
            _ => flags.push(arg),
        }
    }
    if req.url.is_empty() {
        bail!("usage: wharf explain URL [--method=M] [--header='Name: value'] [--client-ip=IP] [--entrypoint=NAME] [--api=http://host:8080 | --compose=FILE | traefik flags]");
    }
    let routing = match api {
        Some(url) => from_api(&crate::routes::Api::parse(&url)?)?,
        None => {
            let loaded = crate::check::load(compose.as_deref(), project.as_deref(), &flags)?;
            let Some((statics, config)) = loaded.config else {
                for issue in &loaded.issues {
                    eprintln!("{issue}");
                }
                bail!("the static configuration does not load (see `wharf check`)");
            };
            from_config(&statics, &config)
        }
    };
    let (report, found) = render(&req, &routing)?;
    print!("{report}");
    if !found {
        bail!("no router matches this request");
    }
    Ok(())
}

fn from_config(statics: &StaticConfig, config: &DynamicConfig) -> Routing {
    let mut routers: Vec<Candidate> = config
        .routers
        .values()
        .map(|r| Candidate {
            name: r.name.to_string(),
            entry_points: r.entry_points.clone(),
            rule: r.rule_source.clone(),
            priority: r.priority,
            tls: r.tls.is_some(),
            middlewares: r.middlewares.iter().map(ToString::to_string).collect(),
            service: r.service.to_string(),
        })
        .collect();
    // Entrypoint redirections are routers of their own, ahead of every user router.
    for (name, ep) in &statics.entry_points {
        if let Some(redirect) = &ep.redirect {
            routers.push(Candidate {
                name: format!("{name}-to-{}@internal", redirect.to),
                entry_points: vec![name.clone()],
                rule: "HostRegexp(`^.+$`)".into(),
                priority: redirect.priority,
                tls: false,
                middlewares: Vec::new(),
                service: format!("redirect to {}://…:{}", redirect.scheme, redirect.port),
            });
        }
    }
    let entry_points = statics
        .entry_points
        .values()
        .map(|e| EntryPoint {
            name: e.name.clone(),
            port: e.address.port(),
        })
        .collect();
    let mut services: BTreeMap<String, Service> = config
        .services
        .iter()
        .map(|(name, s)| {
            let kind = format!("loadbalancer, {:?}", s.strategy).to_ascii_lowercase();
            let servers = s.servers.iter().map(|srv| srv.url.clone()).collect();
            (name.to_string(), Service { kind, servers })
        })
        .collect();
    for (name, c) in &config.composites {
        let kind = format!("{:?}", c.kind)
            .split([' ', '{'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        services.insert(
            name.to_string(),
            Service {
                kind,
                servers: Vec::new(),
            },
        );
    }
    Routing {
        routers,
        entry_points,
        services,
        from_disk: true,
    }
}

fn from_api(api: &crate::routes::Api) -> anyhow::Result<Routing> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    let (routers, services, entry_points) = runtime.block_on(async {
        anyhow::Ok((
            api.list("/api/http/routers").await?,
            api.list("/api/http/services").await?,
            api.list("/api/entrypoints").await?,
        ))
    })?;
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let qualify = |name: String, provider: &str| {
        if name.contains('@') {
            name
        } else {
            format!("{name}@{provider}")
        }
    };
    let routers = routers
        .iter()
        .map(|r| {
            let provider = text(r, "provider");
            Candidate {
                name: text(r, "name"),
                entry_points: strings(&r["entryPoints"]),
                rule: text(r, "rule"),
                priority: r["priority"].as_i64().unwrap_or(0),
                tls: r.get("tls").is_some(),
                middlewares: strings(&r["middlewares"])
                    .into_iter()
                    .map(|m| qualify(m, &provider))
                    .collect(),
                service: qualify(text(r, "service"), &provider),
            }
        })
        .collect();
    let entry_points = entry_points
        .iter()
        .map(|e| EntryPoint {
            name: text(e, "name"),
            port: text(e, "address")
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0),
        })
        .collect();
    let services = services
        .iter()
        .map(|s| {
            let status = &s["serverStatus"];
            let servers = s["loadBalancer"]["servers"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(|srv| srv["url"].as_str())
                        .map(|url| match status[url].as_str() {
                            Some(state) => format!("{url} ({state})"),
                            None => url.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                text(s, "name"),
                Service {
                    kind: text(s, "type"),
                    servers,
                },
            )
        })
        .collect();
    Ok(Routing {
        routers,
        entry_points,
        services,
        from_disk: false,
    })
}

/// The matchers of an all-`&&` rule that fail for the request (None: the rule has `||`/`!`).
fn failing(expr: &Expr, view: &RequestView<'_>) -> Option<Vec<String>> {
    fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) -> bool {
        match e {
            BoolExpr::Leaf(_) => {
                out.push(e);
                true
            }
            BoolExpr::And(a, b) => conjuncts(a, out) && conjuncts(b, out),
            _ => false,
        }
    }
    let mut parts = Vec::new();
    if !conjuncts(expr, &mut parts) {
        return None;
    }
    Some(
        parts
            .into_iter()
            .filter(|leaf| !leaf.compile().matches(view))
            .map(ToString::to_string)
            .collect(),
    )
}

fn render(req: &Request, routing: &Routing) -> anyhow::Result<(String, bool)> {
    let uri: http::Uri = req
        .url
        .parse()
        .with_context(|| format!("{}: not a URL", req.url))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => bail!("{}: give an http:// or https:// URL", req.url),
    };
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let ep = match &req.entry_point {
        Some(name) => routing
            .entry_points
            .iter()
            .find(|e| &e.name == name)
            .with_context(|| format!("no entrypoint `{name}`"))?,
        None => routing.entry_points.iter().find(|e| e.port == port).with_context(|| {
            let known: Vec<String> = routing.entry_points.iter().map(|e| format!("{} (:{})", e.name, e.port)).collect();
            format!("no entrypoint listens on port {port} (there are: {}); name one with --entrypoint", known.join(", "))
        })?,
    };
    let host =
        wharf_rule::normalize_request_host(uri.authority().map_or("", |a| a.as_str())).into_owned();
    let path = wharf_rule::routing_path(uri.path())
        .map_err(anyhow::Error::msg)?
        .into_owned();
    let view = RequestView {
        host: &host,
        path: &path,
        method: &req.method,
        query: uri.query(),
        headers: req,
        client_ip: req.client_ip,
    };
    let mut candidates: Vec<&Candidate> = routing
        .routers
        .iter()
        .filter(|r| r.entry_points.contains(&ep.name) && r.tls == tls)
        .collect();
    let provider_rank = |name: &str| {
        ProviderName::new(name.rsplit_once('@').map_or("", |(_, p)| p)).precedence_rank()
    };
    candidates.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(provider_rank(&a.name).cmp(&provider_rank(&b.name)))
            .then(a.name.cmp(&b.name))
    });
    let mut out = format!(
        "{} {}\nhost `{host}`, path `{path}`; entrypoint `{}` (port {}), {} routers\n\n",
        req.method,
        req.url,
        ep.name,
        ep.port,
        if tls { "TLS" } else { "non-TLS" }
    );
    let mut winner: Option<&Candidate> = None;
    for (i, r) in candidates.iter().enumerate() {
        let verdict = match wharf_rule::parse(&r.rule) {
            Err(e) => format!("invalid rule: {e}"),
            Ok(expr) if expr.compile().matches(&view) => match winner {
                None => {
                    winner = Some(r);
                    "matches: wins".to_string()
                }
                Some(w) if w.priority > r.priority => format!(
                    "matches, but `{}` comes first (priority {} > {})",
                    w.name, w.priority, r.priority
                ),
                Some(w) => format!(
                    "matches, but `{}` comes first (same priority; provider, then name decide)",
                    w.name
                ),
            },
            Ok(expr) => match failing(&expr, &view) {
                Some(failed) if !failed.is_empty() => format!("no match: {}", failed.join(", ")),
                _ => "no match".to_string(),
            },
        };
        out.push_str(&format!(
            "  {:>2}. {}  (priority {})\n      {}\n      -> {verdict}\n",
            i + 1,
            r.name,
            r.priority,
            r.rule
        ));
    }
    if candidates.is_empty() {
        out.push_str("  (no router on this entrypoint)\n");
    }
    out.push('\n');
    match winner {
        Some(w) => {
            out.push_str(&format!("winner: {}\n", w.name));
            let chain = if w.middlewares.is_empty() {
                "(none)".to_string()
            } else {
                w.middlewares.join(" -> ")
            };
            out.push_str(&format!("  middlewares: {chain}\n"));
            match routing.services.get(&w.service) {
                Some(s) => {
                    out.push_str(&format!("  service:     {} ({})\n", w.service, s.kind));
                    if !s.servers.is_empty() {
                        out.push_str(&format!("  servers:     {}\n", s.servers.join(", ")));
                    }
                }
                None => out.push_str(&format!("  service:     {}\n", w.service)),
            }
        }
        None => out.push_str("no router matches: wharf answers 404 page not found\n"),
    }
    if routing.from_disk {
        out.push_str("(from the configuration on disk: internal routers other than entrypoint redirections, and server health, are known only to a running wharf: --api=http://host:8080)\n");
    }
    Ok((out, winner.is_some()))
}
