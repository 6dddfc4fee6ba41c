//! `wharf routes [--api=URL] [--format=table|json]`: the routers and services a running wharf
//! (or Traefik) serves, read from its API (`/api/http/routers`, `/api/http/services`) and
//! printed as two tables: what `make service-discovery` shows.

use std::time::Duration;

use anyhow::{bail, Context};
use pingora::http::RequestHeader;
use serde_json::Value;
use wharf_model::UpstreamScheme;

const TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_API: &str = "http://127.0.0.1:8080";

/// An API to read: `http://host:port` (the `traefik` entrypoint of a running instance).
pub struct Api {
    host: String,
    port: u16,
}

impl Api {
    pub fn parse(url: &str) -> anyhow::Result<Api> {
        let uri: http::Uri = url
            .parse()
            .with_context(|| format!("--api={url}: not a URL"))?;
        if uri.scheme_str() != Some("http") {
            bail!("--api={url}: give the API's address as http://host:port (its `traefik` entrypoint)");
        }
        let (host, port) = wharf_model::uri_host_port(&uri, UpstreamScheme::Http)
            .with_context(|| format!("--api={url}: the URL has no host"))?;
        Ok(Api { host, port })
    }

    /// Every item of a list endpoint, following `X-Next-Page`.
    pub async fn list(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let client = wharf_upstream::Client::new();
        let addr = wharf_upstream::Target::new(&self.host, self.port)
            .addr()
            .await
            .map_err(anyhow::Error::msg)?;
        let peer = wharf_upstream::http_peer(addr, UpstreamScheme::Http, "", 0);
        let mut items = Vec::new();
        let mut page = 1u32;
        loop {
            let target = format!("{path}?per_page=100&page={page}");
            let mut req = RequestHeader::build("GET", target.as_bytes(), None)?;
            req.insert_header("Host", wharf_upstream::authority(&self.host, self.port))?;
            let (head, body) = tokio::time::timeout(TIMEOUT, client.send(&peer, req, None))
                .await
                .with_context(|| {
                    format!(
                        "no answer from {}:{} within {TIMEOUT:?}",
                        self.host, self.port
                    )
                })?
                .with_context(|| format!("cannot ask {}:{}{target}", self.host, self.port))?;
            if head.status != 200 {
                bail!(
                    "{}:{}{target} answered {}: is the API enabled (`api.insecure` or a router to api@internal)?",
                    self.host,
                    self.port,
                    head.status
                );
            }
            let value: Value = serde_json::from_slice(&body)
                .with_context(|| format!("{target}: the answer is not JSON"))?;
            match value {
                Value::Array(list) => items.extend(list),
                _ => bail!("{target}: the answer is not a JSON list"),
            }
            let next = head
                .headers
                .get("x-next-page")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u32>().ok());
            match next {
                Some(n) if n > page => page = n,
                _ => return Ok(items),
            }
        }
    }
}

pub fn routes(args: Vec<String>) -> anyhow::Result<()> {
    let mut api = DEFAULT_API.to_string();
    let mut json = false;
    for arg in args {
        if let Some(url) = arg.strip_prefix("--api=") {
            api = url.to_string();
        } else if let Some(format) = arg.strip_prefix("--format=") {
            json = match format {
                "json" => true,
                "table" => false,
                other => bail!("--format={other}: use table or json"),
            };
        } else {
            bail!("unknown argument `{arg}` (usage: wharf routes [--api=http://host:8080] [--format=table|json])");
        }
    }
    let api = Api::parse(&api)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    let (routers, services) = runtime.block_on(async {
        let routers = api.list("/api/http/routers").await?;
        let services = api.list("/api/http/services").await?;
        anyhow::Ok((routers, services))
    })?;
    if json {
        let doc = serde_json::json!({"routers": routers, "services": services});
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    print!("{}", render(&routers, &services));
    Ok(())
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// The two tables, columns padded to their widest cell.
pub fn render(routers: &[Value], services: &[Value]) -> String {
    let mut rows = vec![vec![
        "ROUTER".to_string(),
        "ENTRYPOINTS".into(),
        "RULE".into(),
        "TLS".into(),
        "MIDDLEWARES".into(),
        "SERVICE".into(),
        "STATUS".into(),
    ]];
    for r in routers {
        rows.push(vec![
            text(r, "name"),
            text(r, "entryPoints"),
            text(r, "rule"),
            if r.get("tls").is_some() { "yes" } else { "" }.into(),
            text(r, "middlewares"),
            text(r, "service"),
            text(r, "status"),
        ]);
    }
    let mut out = table(&rows);
    out.push('\n');
    let mut rows = vec![vec![
        "SERVICE".to_string(),
        "TYPE".into(),
        "SERVERS".into(),
        "STATUS".into(),
    ]];
    for s in services {
        let status = s.get("serverStatus").and_then(Value::as_object);
        let servers: Vec<String> = s
            .pointer("/loadBalancer/servers")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|srv| srv.get("url").and_then(Value::as_str))
                    .map(
                        |url| match status.and_then(|st| st.get(url)).and_then(Value::as_str) {
                            Some(state) => format!("{url} ({state})"),
                            None => url.to_string(),
                        },
                    )
                    .collect()
            })
            .unwrap_or_default();
        rows.push(vec![
            text(s, "name"),
            text(s, "type"),
            servers.join(" "),
            text(s, "status"),
        ]);
    }
    out.push_str(&table(&rows));
    out
}

fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == columns {
                line.push_str(cell);
            } else {
                let pad = widths[c].saturating_sub(cell.chars().count()) + 2;
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
