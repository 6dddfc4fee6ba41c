// wharf's dashboard: reads the API every 2 s and renders it. Every value from the
// configuration (names, rules, labels) is set as text, never as HTML.
"use strict";

const API = "/api/";
const REFRESH_MS = 2000;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function get(path) {
  const res = await fetch(API + path, { cache: "no-store" });
  if (!res.ok) throw new Error(path + ": " + res.status);
  return res.json();
}

function status(s) {
  return el("span", { class: "status-" + s }, s);
}

function list(items) {
  return (items || []).map((i) => el("code", {}, i, " ")).reduce((f, n) => (f.append(n), f), document.createDocumentFragment());
}

/// A table: columns [label, render(item)], one row per item, `key` marks each row.
function table(id, columns, items, key) {
  const t = document.getElementById(id);
  const rows = [el("tr", { class: "head" }, ...columns.map(([label]) => el("th", {}, label)))];
  for (const item of items) {
    const row = el("tr", { "data-name": key(item) });
    for (const [label, render] of columns) {
      row.append(el("td", { "data-label": label }, render(item)));
    }
    rows.push(row);
  }
  if (items.length === 0) {
    rows.push(el("tr", {}, el("td", { colspan: columns.length, class: "muted" }, "none")));
  }
  t.replaceChildren(...rows);
}

function issueItem(i) {
  return el(
    "li",
    { class: "issue " + i.severity, "data-origin": i.origin },
    el("div", {}, i.message),
    el("div", { class: "origin" }, i.origin),
    i.hint ? el("div", { class: "hint" }, "hint: " + i.hint) : null,
  );
}

function servers(service) {
  const lb = service.loadBalancer;
  if (!lb) {
    const kind = service.type || "";
    const body = service[Object.keys(service).find((k) => k.toLowerCase() === kind)] || {};
    const children = (body.services || body.mirrors || []).map((c) => c.name);
    if (body.service) children.unshift(body.service);
    return list(children);
  }
  const status = service.serverStatus || {};
  const frag = document.createDocumentFragment();
  for (const s of lb.servers || []) {
    const st = status[s.url];
    frag.append(
      el("div", { class: "server", "data-url": s.url },
        el("code", {}, s.url), " ",
        st ? el("span", { class: st === "UP" ? "up" : "down" }, st) : el("span", { class: "muted" }, "unused")),
    );
  }
  return frag;
}

function expiry(cert) {
  const days = Math.floor((Date.parse(cert.notAfter) - Date.now()) / 86400000);
  const cls = days < 0 ? "expired" : days < 30 ? "soon" : "up";
  return el("span", { class: cls }, cert.notAfter + " (" + days + " days)");
}

function render(data) {
  const o = data.overview;
  const cards = [
    ["Routers", o.http.routers],
    ["Services", o.http.services],
    ["Middlewares", o.http.middlewares],
    ["Certificates", o.certificates],
  ].map(([label, c]) =>
    el("div", { class: "card" },
      el("div", { class: "muted" }, label),
      el("div", { class: "n" }, c.total),
      el("div", {}, c.errors ? el("span", { class: "down" }, c.errors + " disabled ") : "",
        c.warnings ? el("span", { class: "soon" }, c.warnings + " warnings") : "")));
  cards.push(el("div", { class: "card" },
    el("div", { class: "muted" }, "Providers"),
    el("div", {}, (o.providers || []).join(", ") || "none"),
    el("div", { class: "muted" }, "metrics: " + (o.features.metrics || "off") + ", access log: " + (o.features.accessLog ? "on" : "off"))));
  document.getElementById("overview-cards").replaceChildren(...cards);

  table("routers-table", [
    ["Name", (r) => el("code", {}, r.name)],
    ["Status", (r) => status(r.status)],
    ["Rule", (r) => el("code", {}, r.rule)],
    ["Entrypoints", (r) => list(r.using || r.entryPoints)],
    ["Middlewares", (r) => list(r.middlewares)],
    ["Service", (r) => el("code", {}, r.service || "")],
    ["Errors", (r) => (r.errorDetails || []).map(issueItem).reduce((f, n) => (f.append(n), f), el("ul", { class: "issues" }))],
  ], data.routers, (r) => r.name);

  table("services-table", [
    ["Name", (s) => el("code", {}, s.name)],
    ["Status", (s) => status(s.status)],
    ["Type", (s) => s.type || "internal"],
    ["Servers", servers],
    ["Used by", (s) => list(s.usedBy)],
  ], data.services, (s) => s.name);

  table("middlewares-table", [
    ["Name", (m) => el("code", {}, m.name)],
    ["Status", (m) => status(m.status)],
    ["Type", (m) => m.type],
    ["Used by", (m) => list(m.usedBy)],
  ], data.middlewares, (m) => m.name);

  table("entrypoints-table", [
    ["Name", (e) => el("code", {}, e.name)],
    ["Address", (e) => el("code", {}, e.address)],
  ], data.entrypoints, (e) => e.name);

  table("certificates-table", [
    ["Names", (c) => list(c.sans)],
    ["Issuer", (c) => c.issuerCN],
    ["Expires", expiry],
    ["Status", (c) => status(c.status)],
  ], data.certificates, (c) => c.name);

  const issues = data.issues.map(issueItem);
  document.getElementById("issues-list").replaceChildren(...issues);
  document.getElementById("overview-issues").replaceChildren(...data.issues.map(issueItem));
  const errors = data.issues.filter((i) => i.severity === "error").length;
  document.getElementById("issue-count").textContent = errors ? String(errors) : "";
}

async function refresh() {
  try {
    const [overview, routers, services, middlewares, entrypoints, certificates, issues] = await Promise.all([
      get("overview"), get("http/routers"), get("http/services"), get("http/middlewares"),
      get("entrypoints"), get("certificates"), get("wharf/issues"),
    ]);
    render({ overview, routers, services, middlewares, entrypoints, certificates, issues });
    document.getElementById("status").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.generation = String((Number(document.body.dataset.generation) || 0) + 1);
  } catch (e) {
    document.getElementById("status").textContent = "API unreachable: " + e.message;
  }
}

function showTab() {
  const tab = (location.hash || "#overview").slice(1);
  for (const s of document.querySelectorAll("main section")) s.classList.toggle("active", s.id === tab);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.tab === tab);
}

window.addEventListener("hashchange", showTab);
showTab();
refresh();
setInterval(refresh, REFRESH_MS);
