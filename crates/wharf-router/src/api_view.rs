//! The API of one generation ([`ApiView`]): documents and item lists rendered by the control
//! plane; an API request only filters, sorts and pages them (Traefik's `search`, `status`,
//! `serviceName`, `middlewareName`, `sortBy`, `direction`, `page`, `per_page`).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::Value;

/// One router, service, middleware, entrypoint or certificate, with what the filters and
/// sorts read.
#[derive(Debug, Clone, Default)]
pub struct ApiItem {
    /// Qualified (routers, services, middlewares), or the entrypoint's name, or the
    /// certificate's fingerprint.
    pub name: String,
    pub provider: String,
    pub status: String,
    pub rule: String,
    /// As written (routers).
    pub service: String,
    pub middlewares: Vec<String>,
    pub priority: i64,
    pub entry_points: usize,
    /// Its representation.
    pub json: ItemJson,
}

/// An item's representation: ready, or rendered when first read (a configuration change at
/// 10,000 routers does not build 10,000 JSON maps that no API request may ask for).
#[derive(Clone, Default)]
pub struct ItemJson {
    value: OnceLock<Value>,
    render: Option<Arc<dyn Fn() -> Value + Send + Sync>>,
}

impl ItemJson {
    /// Rendered by `render` when first read.
    pub fn lazy(render: impl Fn() -> Value + Send + Sync + 'static) -> Self {
        ItemJson {
            value: OnceLock::new(),
            render: Some(Arc::new(render)),
        }
    }

    pub fn get(&self) -> &Value {
        self.value.get_or_init(|| match &self.render {
            Some(render) => render(),
            None => Value::Null,
        })
    }

    /// For changes to the representation (it is rendered first if it was not).
    pub fn get_mut(&mut self) -> &mut Value {
        self.get();
        self.render = None;
        self.value.get_mut().expect("rendered just above")
    }
}

impl From<Value> for ItemJson {
    fn from(value: Value) -> Self {
        ItemJson {
            value: OnceLock::from(value),
            render: None,
        }
    }
}

impl std::fmt::Debug for ItemJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.value.get() {
            Some(v) => v.fmt(f),
            None => f.write_str("(not rendered yet)"),
        }
    }
}

/// The lists the API pages through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiList {
    Routers,
    Services,
    Middlewares,
    EntryPoints,
    Certificates,
    /// TCP and UDP lists: wharf has none.
    Empty,
}

/// Renders a view's whole documents by path (`/api/overview`, `/api/rawdata`,
/// `/api/version`, ...).
pub type DocumentsRenderer = Box<dyn Fn(&ApiView) -> HashMap<String, Bytes> + Send + Sync>;

#[derive(Default)]
pub struct ApiView {
    /// Sorted by name.
    pub routers: Vec<ApiItem>,
    pub services: Vec<ApiItem>,
    pub middlewares: Vec<ApiItem>,
    pub entry_points: Vec<ApiItem>,
    pub certificates: Vec<ApiItem>,
    /// `api.dashboard`: `api@internal` also serves the dashboard under `/dashboard`.
    pub dashboard: bool,
    /// The whole documents, rendered when one is first asked for: at 10,000 routers,
    /// `rawdata` costs more than the rest of a configuration change, which does not wait for
    /// documents nobody may read.
    documents: OnceLock<HashMap<String, Bytes>>,
    renderer: Option<DocumentsRenderer>,
}

impl std::fmt::Debug for ApiView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiView")
            .field("routers", &self.routers.len())
            .field("services", &self.services.len())
            .field("middlewares", &self.middlewares.len())
            .field("entry_points", &self.entry_points.len())
            .field("certificates", &self.certificates.len())
            .field("dashboard", &self.dashboard)
            .field("documents_rendered", &self.documents.get().is_some())
            .finish()
    }
}

impl ApiView {
    /// How the whole documents are rendered from this view (when first asked for).
    pub fn set_documents(&mut self, renderer: DocumentsRenderer) {
        self.documents = OnceLock::new();
        self.renderer = Some(renderer);
    }

    /// The whole documents by path, rendered at the first call.
    pub fn documents(&self) -> &HashMap<String, Bytes> {
        self.documents.get_or_init(|| {
            self.renderer
                .as_ref()
                .map(|render| render(self))
                .unwrap_or_default()
        })
    }
}

/// An API answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAnswer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
    /// `X-Next-Page` (lists).
    pub next_page: Option<usize>,
}

const JSON: &str = "application/json";
/// What Go's `http.Error` sends (Traefik's error bodies are JSON all the same).
const ERROR_TYPE: &str = "text/plain; charset=utf-8";

fn error(status: u16, message: &str) -> ApiAnswer {
    let body = serde_json::json!({ "message": message }).to_string() + "\n";
    ApiAnswer {
        status,
        content_type: ERROR_TYPE,
        body: Bytes::from(body),
        next_page: None,
    }
}

fn json(value: &impl serde::Serialize) -> Bytes {
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    body.push(b'\n');
    Bytes::from(body)
}

/// The query's parameters (the first value of each).
fn params(query: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

fn int_param(p: &HashMap<String, String>, key: &str, default: usize) -> Result<usize, String> {
    match p.get(key).map(String::as_str) {
        None | Some("") => Ok(default),
        Some(raw) => match raw.parse::<i64>() {
            Ok(v) if v > 0 => {
                usize::try_from(v).map_err(|_| format!("invalid request: {key}: {v}"))
            }
            Ok(v) => Err(format!("invalid request: {key}: {v}")),
            // Go prints the zero value when Atoi fails.
            Err(_) => Err(format!("invalid request: {key}: 0")),
        },
    }
}

fn keep(list: ApiList, item: &ApiItem, p: &HashMap<String, String>) -> bool {
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    let (search, status, service, middleware) = (
        get("search").to_lowercase(),
        get("status"),
        get("serviceName"),
        get("middlewareName"),
    );
    if !status.is_empty() && !item.status.eq_ignore_ascii_case(status) {
        return false;
    }
    let found = |v: &str| v.to_lowercase().contains(&search);
    match list {
        ApiList::Routers => {
            let service_ok = service.is_empty()
                || if item.service.contains('@') {
                    item.service == service
                } else {
                    service.split('@').next() == Some(item.service.as_str())
                };
            (search.is_empty() || found(&item.rule) || found(&item.name))
                && service_ok
                && (middleware.is_empty() || item.middlewares.iter().any(|m| m == middleware))
        }
        _ => search.is_empty() || found(&item.name),
    }
}

fn sort(list: ApiList, items: &mut [&ApiItem], p: &HashMap<String, String>) {
    let by = p.get("sortBy").map(String::as_str).unwrap_or("name");
    let desc = p.get("direction").map(String::as_str) == Some("desc");
    // The lists are sorted by name already; a stable sort keeps that order among equals.
    match (list, by) {
        (ApiList::Routers, "provider") => items.sort_by(|a, b| a.provider.cmp(&b.provider)),
        (ApiList::Routers, "priority") => items.sort_by_key(|i| i.priority),
        (ApiList::Routers, "rule") => items.sort_by(|a, b| a.rule.cmp(&b.rule)),
        (ApiList::Routers, "service") => items.sort_by(|a, b| a.service.cmp(&b.service)),
        (ApiList::Routers, "entryPoints") => items.sort_by_key(|i| i.entry_points),
        (_, "status") => items.sort_by(|a, b| a.status.cmp(&b.status)),
        (_, "provider") => items.sort_by(|a, b| a.provider.cmp(&b.provider)),
        _ => {}
    }
    if desc {
        items.reverse();
    }
}

impl ApiView {
    fn items(&self, list: ApiList) -> &[ApiItem] {
        match list {
            ApiList::Routers => &self.routers,
            ApiList::Services => &self.services,
            ApiList::Middlewares => &self.middlewares,
            ApiList::EntryPoints => &self.entry_points,
            ApiList::Certificates => &self.certificates,
            ApiList::Empty => &[],
        }
    }

    /// A list page, filtered and sorted as the query asks.
    pub fn list(&self, list: ApiList, query: Option<&str>) -> ApiAnswer {
        let p = params(query);
        let mut items: Vec<&ApiItem> = self
            .items(list)
            .iter()
            .filter(|i| keep(list, i, &p))
            .collect();
        sort(list, &mut items, &p);
        let (per_page, page) = match (int_param(&p, "per_page", 100), int_param(&p, "page", 1)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return error(400, &e),
        };
        let start = (page - 1).saturating_mul(per_page);
        if start != 0 && start >= items.len() {
            return error(
                400,
                &format!("invalid request: page: {page}, per_page: {per_page}"),
            );
        }
        let end = start.saturating_add(per_page).min(items.len());
        let next_page = if page.saturating_mul(per_page) < items.len() {
            page + 1
        } else {
            1
        };
        let page: Vec<&Value> = items[start..end].iter().map(|i| i.json.get()).collect();
        ApiAnswer {
            status: 200,
            content_type: JSON,
            body: json(&page),
            next_page: Some(next_page),
        }
    }

    /// One item by its (URL-escaped) name; `what` names the kind in the 404 message.
    pub fn item(&self, list: ApiList, escaped: &str, what: &str) -> ApiAnswer {
        let name = percent_encoding::percent_decode_str(escaped).decode_utf8_lossy();
        match self.items(list).iter().find(|i| i.name == name) {
            Some(item) => ApiAnswer {
                status: 200,
                content_type: JSON,
                body: json(item.json.get()),
                next_page: None,
            },
            None => error(404, &format!("{what} not found: {name}")),
        }
    }

    /// The answer to `GET path?query` under `/api`.
    pub fn answer(&self, path: &str, query: Option<&str>) -> ApiAnswer {
        if let Some(doc) = self.documents().get(path) {
            let content_type = if path == "/api/version" {
                "application/json; charset=UTF-8"
            } else {
                JSON
            };
            return ApiAnswer {
                status: 200,
                content_type,
                body: doc.clone(),
                next_page: None,
            };
        }
        let lists: [(&str, ApiList, &str); 12] = [
            ("/api/http/routers", ApiList::Routers, "router"),
            ("/api/http/services", ApiList::Services, "service"),
            ("/api/http/middlewares", ApiList::Middlewares, "middleware"),
            ("/api/entrypoints", ApiList::EntryPoints, "entry point"),
            ("/api/certificates", ApiList::Certificates, "certificate"),
            ("/api/tcp/routers", ApiList::Empty, "TCP router"),
            ("/api/tcp/services", ApiList::Empty, "TCP service"),
            ("/api/tcp/middlewares", ApiList::Empty, "TCP middleware"),
            ("/api/udp/routers", ApiList::Empty, "UDP router"),
            ("/api/udp/services", ApiList::Empty, "UDP service"),
            ("/api/udp/middlewares", ApiList::Empty, "UDP middleware"),
            ("/api/support-dump", ApiList::Empty, ""),
        ];
        for (prefix, list, what) in lists {
            if path == prefix {
                return self.list(list, query);
            }
            if let Some(name) = path
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|n| !n.is_empty() && !n.contains('/') && !what.is_empty())
            {
                return self.item(list, name, what);
            }
        }
        ApiAnswer {
            status: 404,
            content_type: "text/plain; charset=utf-8",
            body: Bytes::from_static(b"404 page not found\n"),
            next_page: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view() -> ApiView {
        let router = |name: &str, rule: &str, service: &str, status: &str, priority: i64| ApiItem {
            name: name.into(),
            provider: name.split('@').nth(1).unwrap_or_default().into(),
            status: status.into(),
            rule: rule.into(),
            service: service.into(),
            middlewares: vec!["auth@file".into()],
            priority,
            entry_points: 1,
            json: json!({ "name": name }).into(),
        };
        ApiView {
            routers: vec![
                router("a@file", "Host(`a.test`)", "svc", "enabled", 3),
                router("b@docker", "Host(`b.test`)", "svc@file", "disabled", 1),
                router("c@file", "Host(`c.test`)", "other", "enabled", 2),
            ],
            ..Default::default()
        }
    }

    fn names(a: &ApiAnswer) -> Vec<String> {
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn an_item_is_rendered_when_first_read_and_once() {
        let renders = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = renders.clone();
        let mut item = ItemJson::lazy(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            json!({ "name": "a@file" })
        });
        assert_eq!(renders.load(std::sync::atomic::Ordering::Relaxed), 0);
        assert_eq!(item.clone().get()["name"], "a@file");
        assert_eq!(item.get()["name"], "a@file");
        item.get_mut()["status"] = json!("enabled");
        assert_eq!(item.get()["status"], "enabled");
        assert_eq!(
            renders.load(std::sync::atomic::Ordering::Relaxed),
            2,
            "once per copy"
        );
    }

    #[test]
    fn pages_filters_and_sorts_as_traefik() {
        let v = view();
        let all = v.answer("/api/http/routers", None);
        assert_eq!((all.status, all.next_page), (200, Some(1)));
        assert_eq!(names(&all), ["a@file", "b@docker", "c@file"]);
        let p1 = v.answer("/api/http/routers", Some("per_page=2"));
        assert_eq!(
            (names(&p1), p1.next_page),
            (vec!["a@file".into(), "b@docker".into()], Some(2))
        );
        let p2 = v.answer("/api/http/routers", Some("per_page=2&page=2"));
        assert_eq!(
            (names(&p2), p2.next_page),
            (vec!["c@file".to_string()], Some(1))
        );
        assert_eq!(
            v.answer("/api/http/routers", Some("per_page=2&page=3"))
                .status,
            400
        );
        assert_eq!(v.answer("/api/http/routers", Some("page=0")).status, 400);
        assert_eq!(
            names(&v.answer("/api/http/routers", Some("search=B.TEST"))),
            ["b@docker"]
        );
        assert_eq!(
            names(&v.answer("/api/http/routers", Some("status=disabled"))),
            ["b@docker"]
        );
        assert_eq!(
            names(&v.answer("/api/http/routers", Some("serviceName=svc@file"))),
            ["a@file", "b@docker"]
        );
        assert_eq!(
            names(&v.answer("/api/http/routers", Some("sortBy=priority&direction=desc"))),
            ["a@file", "c@file", "b@docker"]
        );
        let missing = v.answer("/api/http/routers/nope%40file", None);
        assert_eq!(missing.status, 404);
        assert_eq!(
            &missing.body[..],
            b"{\"message\":\"router not found: nope@file\"}\n"
        );
        assert_eq!(v.answer("/api/http/routers/a%40file", None).status, 200);
        assert_eq!(
            names(&v.answer("/api/tcp/routers", None)),
            Vec::<String>::new()
        );
    }
}
