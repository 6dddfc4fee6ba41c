//! The dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver)
//! loads `/dashboard/` from wharf, sees a labelled container's router appear and disappear
//! without a reload, and a configuration error with its file:line:column, at desktop and
//! phone sizes. Screenshots are kept in `target/test-artefacts/`.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use wharf_testkit::docker::{unique, ContainerSpec, TestContainer};
use wharf_testkit::{free_port, WharfProcess};

const WAIT: Duration = Duration::from_secs(30);

fn artefacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artefacts");
    std::fs::create_dir_all(&dir).expect("artefacts directory");
    dir
}

/// The text of the elements matching `selector`, as the page shows them now.
async fn text(c: &Client, selector: &str) -> String {
    let script = "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';";
    match c.execute(script, vec![json!(selector)]).await {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Polls the page until `selector`'s text satisfies `cond` (the page refreshes itself).
async fn wait_text(c: &Client, selector: &str, what: &str, cond: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let t = text(c, selector).await;
        if cond(&t) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {selector} shows {t:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artefacts().join(name), png).expect("write the screenshot");
}

/// Whether the page fits its viewport's width (no sideways scrolling).
async fn fits(c: &Client) -> bool {
    let script = "return document.documentElement.scrollWidth <= window.innerWidth;";
    c.execute(script, vec![]).await.ok() == Some(Value::Bool(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_follows_containers_and_shows_errors_in_a_browser() {
    let run = unique("dash");
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let dir = tempfile::tempdir().unwrap();
    let dynamic = dir.path().join("dynamic.yml");
    std::fs::write(
        &dynamic,
        "http:\n  routers:\n    broken:\n      rule: \"Host(`broken.test`)\"\n      service: missing\n",
    )
    .unwrap();
    wharf_testkit::docker::echo_image();
    let args = vec![
        format!("--entryPoints.web.address={web}"),
        format!("--entryPoints.traefik.address={admin}"),
        "--api.insecure=true".to_string(),
        format!("--providers.file.filename={}", dynamic.display()),
        "--providers.docker=true".to_string(),
        "--providers.docker.exposedByDefault=false".to_string(),
        format!("--providers.docker.constraints=Label(`wharftest.run`, `{run}`)"),
    ];
    let _wharf = WharfProcess::start_in(dir, &common::wharf_bin(), &args, &[], &[web, admin]);

    let driver_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let _driver = WharfProcess::start(
        &PathBuf::from(
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()),
        ),
        &[format!("--port={}", driver_addr.port())],
        &[],
        &[driver_addr],
    );
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"] }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let c = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://{driver_addr}"))
        .await
        .expect("a WebDriver session");

    // `/` leads to the dashboard.
    c.goto(&format!("http://{admin}/")).await.unwrap();
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), "/dashboard/");

    // The file's broken router, disabled, with its error's origin.
    c.goto(&format!("http://{admin}/dashboard/#routers"))
        .await
        .unwrap();
    wait_text(&c, "#routers-table", "the broken router", |t| {
        t.contains("broken@file") && t.contains("disabled") && t.contains("dynamic.yml:5:16")
    })
    .await;
    wait_text(&c, "#issues-list", "the issue list", |t| {
        t.contains("the service `missing@file` does not exist") && t.contains("dynamic.yml:5:16")
    })
    .await;
    wait_text(&c, "#issue-count", "the error count", |t| t == "1").await;

    // A container appears and disappears, the page following without a reload.
    let router = format!("r{}", run.replace('-', ""));
    let spec = ContainerSpec::default()
        .label("traefik.enable", "true")
        .label("wharftest.run", &run)
        .label(
            format!("traefik.http.routers.{router}.rule"),
            "Host(`dash.test`)",
        );
    let container = TestContainer::run("dash", &spec);
    let name = format!("{router}@docker");
    wait_text(&c, "#routers-table", "the container's router", |t| {
        t.contains(&name)
    })
    .await;
    c.goto(&format!("http://{admin}/dashboard/#services"))
        .await
        .unwrap();
    wait_text(&c, "#services-table", "its service", |t| {
        t.contains("@docker")
    })
    .await;
    screenshot(&c, "dashboard-desktop.png").await;
    assert!(fits(&c).await, "the desktop page scrolls sideways");

    // Phone width: rows become cards, nothing scrolls sideways.
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("http://{admin}/dashboard/#routers"))
        .await
        .unwrap();
    wait_text(&c, "#routers-table", "the router at phone width", |t| {
        t.contains(&name)
    })
    .await;
    let head_hidden = c
        .execute(
            "return getComputedStyle(document.querySelector('#routers-table tr.head')).display;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(head_hidden, json!("none"), "rows are cards on a phone");
    assert!(fits(&c).await, "the phone page scrolls sideways");
    screenshot(&c, "dashboard-phone.png").await;

    drop(container);
    wait_text(
        &c,
        "#routers-table",
        "the router gone with its container",
        |t| !t.contains(&name) && t.contains("broken@file"),
    )
    .await;
    c.goto(&format!("http://{admin}/dashboard/#issues"))
        .await
        .unwrap();
    wait_text(&c, "#issues-list", "issues at phone width", |t| {
        t.contains("dynamic.yml:5:16")
    })
    .await;
    screenshot(&c, "dashboard-phone-issues.png").await;
    c.close().await.unwrap();
}
