#!/usr/bin/env python3
"""Tables of the bench scripts' raw results (tab-separated, one row per proxy and round).

    report.py table KIND TSV [NOTE]   one markdown table: each figure's median over the rounds,
                                      with its spread (min-max) when there are several
    report.py full DIR                benches/RESULTS.md from the TSVs compare.sh left in DIR

KIND is load, rate, memory, tls, backend_tls, h2, ws or callgrind; the columns each script writes are listed in KINDS.
"""
import os
import statistics
import sys

# Per kind: the row key's title, then (title, unit scale, decimals) per value column.
KINDS = {
    "load": ("proxy", [("req/s", 1, 0), ("p50 ms", 1, 2), ("p99 ms", 1, 2),
                       ("CPU µs/req", 1, 1), ("RSS MiB", 1, 1)]),
    # KiB in the file; the table shows MiB, and KiB per connection.
    "memory": ("proxy", [("idle MiB", 1 / 1024, 1), ("loaded MiB", 1 / 1024, 1),
                         ("after close MiB", 1 / 1024, 1), ("connections", 1, 0)]),
    "tls": ("proxy", [("full hs/s", 1, 0), ("CPU µs/full hs", 1, 1),
                      ("wrk hs/s (resumed)", 1, 0), ("CPU µs/hs (wrk)", 1, 1), ("1.3 full/s", 1, 0),
                      ("1.3 resumed/s", 1, 0), ("1.2 full/s", 1, 0), ("1.2 resumed/s", 1, 0),
                      ("keep-alive req/s", 1, 0), ("CPU µs/req", 1, 1)]),
    "callgrind": ("route", [("instructions/request", 1, 0)]),
    "rate": ("proxy", [("req/s", 1, 0), ("p50 ms", 1, 3), ("p99 ms", 1, 3),
                       ("p99.9 ms", 1, 3), ("CPU µs/req", 1, 1)]),
    "h2": ("proxy", [("req/s", 1, 0), ("mean ms", 1, 2), ("CPU µs/req", 1, 1),
                     ("RSS MiB", 1, 1)]),
    "ws": ("proxy", [("round trips/s", 1, 0), ("CPU µs/round trip", 1, 1), ("RSS MiB", 1, 1)]),
    "backend_tls": ("proxy (route)", [("req/s", 1, 0), ("CPU µs/req", 1, 1),
                                      ("backend connections", 1, 0)]),
}
ORDER = ["wharf", "wharf-obs", "floor", "traefik", "traefik-obs", "nginx", "haproxy"]


def rows(path):
    """{key: [[values of round 1], [round 2], ...]} in first-seen order."""
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) > 1:
                out.setdefault(parts[0], []).append([float(v) for v in parts[1:]])
    keys = sorted(out, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER))
    return {k: out[k] for k in keys}


def medians(path):
    """{key: [median of each column]}."""
    return {k: [statistics.median(c) for c in zip(*v)] for k, v in rows(path).items()}


def memory_per_conn(values):
    """KiB per connection: (loaded - idle) / connections."""
    idle, loaded, _after, count = values
    return (loaded - idle) / max(count, 1)


def cell(values, scale, decimals):
    vals = [v * scale for v in values]
    med = f"{statistics.median(vals):,.{decimals}f}"
    if len(vals) < 2 or min(vals) == max(vals):
        return med
    return f"{med} ({min(vals):,.{decimals}f}–{max(vals):,.{decimals}f})"


def table(kind, path):
    key_title, columns = KINDS[kind]
    titles = [key_title] + [c[0] for c in columns]
    if kind == "memory":
        titles.append("KiB/conn")
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for key, runs in rows(path).items():
        cells = [key] + [cell([r[i] for r in runs], s, d) for i, (_, s, d) in enumerate(columns)]
        if kind == "memory":
            cells.append(cell([memory_per_conn(r) for r in runs], 1, 2))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def ratios(d):
    """The issue's targets, as ratios taken within this run."""
    out = []
    load = medians(os.path.join(d, "load-plain.tsv")) if exists(d, "load-plain.tsv") else {}
    if "wharf" in load and "nginx" in load:
        w, n = load["wharf"], load["nginx"]
        out.append(f"- Plain route, wharf / nginx: requests/s {ratio(w[0], n[0])}, "
                   f"CPU per request {ratio(w[3], n[3])} (target: ≥ 1x, ≤ 1x), "
                   f"p99 at full load {ratio(w[2], n[2])}.")
    rate = medians(os.path.join(d, "rate.tsv")) if exists(d, "rate.tsv") else {}
    if "wharf" in rate and "nginx" in rate:
        out.append(f"- Plain route at a fixed rate, wharf / nginx: p99 "
                   f"{ratio(rate['wharf'][2], rate['nginx'][2])} (target ≤ 1x), "
                   f"CPU per request {ratio(rate['wharf'][4], rate['nginx'][4])}.")
    if "wharf" in load and "floor" in load:
        out.append(f"- wharf / the pingora floor, CPU per request: {ratio(load['wharf'][3], load['floor'][3])}.")
    if "wharf" in load and "traefik" in load:
        out.append(f"- wharf / Traefik, CPU per request: {ratio(load['wharf'][3], load['traefik'][3])}.")
    for route in ("headers", "forwardauth"):
        other = f"load-{route}.tsv"
        if exists(d, other) and "wharf" in load:
            m = medians(os.path.join(d, other))
            if "wharf" in m:
                out.append(f"- wharf, {route} / plain route, CPU per request (separate runs): "
                           f"{ratio(m['wharf'][3], load['wharf'][3])} (target ≤ 1.20x).")
    if exists(d, "callgrind.tsv"):
        cg = medians(os.path.join(d, "callgrind.tsv"))
        for route, target in (("headers", "1.20x"), ("forwardauth", "1.20x"), ("observed", "1.10x")):
            if route in cg and "plain" in cg:
                out.append(f"- wharf, {route} / plain route, instructions per request: "
                           f"{ratio(cg[route][0], cg['plain'][0])} (target ≤ {target}).")
    if exists(d, "memory.tsv"):
        mem = medians(os.path.join(d, "memory.tsv"))
        if "wharf" in mem:
            idle, loaded, after, count = mem["wharf"]
            out.append(f"- wharf memory: idle {idle / 1024:.1f} MiB (target ≤ 25), with "
                       f"{count:,.0f} idle connections {loaded / 1024:.1f} MiB (target ≤ 50), "
                       f"after they close {after / 1024:.1f} MiB.")
            if "nginx" in mem:
                out.append(f"- KiB per idle connection, wharf / nginx: "
                           f"{ratio(memory_per_conn(mem['wharf']), memory_per_conn(mem['nginx']))}.")
    if exists(d, "tls.tsv"):
        tls = medians(os.path.join(d, "tls.tsv"))
        if "wharf" in tls and "nginx" in tls:
            out.append(f"- TLS 1.3 keep-alive requests/s, wharf / nginx: "
                       f"{ratio(tls['wharf'][8], tls['nginx'][8])} (target ≥ 1x).")
        if "wharf" in tls and "traefik" in tls:
            out.append(f"- Full TLS handshakes/s, wharf / Traefik: "
                       f"{ratio(tls['wharf'][0], tls['traefik'][0])} (target ≥ 2x).")
    if exists(d, "backend-tls.tsv"):
        bt = medians(os.path.join(d, "backend-tls.tsv"))
        own = bt.get("wharf (own)")
        for other in ("nginx (own)", "traefik (own)"):
            if own and other in bt:
                out.append(f"- TLS to the backend (wharf's own TLS client), wharf / {other.split()[0]}: "
                           f"requests/s {ratio(own[0], bt[other][0])}, CPU per request {ratio(own[1], bt[other][1])}.")
    for name, title in (("h2c.tsv", "h2c"), ("h2tls.tsv", "h2 on TLS")):
        if not exists(d, name):
            continue
        h2 = medians(os.path.join(d, name))
        for other in ("nginx", "traefik"):
            if "wharf" in h2 and other in h2:
                out.append(f"- {title}, wharf / {other}: requests/s {ratio(h2['wharf'][0], h2[other][0])}, "
                           f"CPU per request {ratio(h2['wharf'][2], h2[other][2])}.")
    if exists(d, "ws.tsv"):
        ws = medians(os.path.join(d, "ws.tsv"))
        for other in ("nginx", "traefik"):
            if "wharf" in ws and other in ws:
                out.append(f"- WebSocket, wharf / {other}: round trips/s {ratio(ws['wharf'][0], ws[other][0])}, "
                           f"CPU per round trip {ratio(ws['wharf'][1], ws[other][1])}.")
    return "\n".join(out)


def exists(d, name):
    return os.path.exists(os.path.join(d, name))


SECTIONS = [
    ("load-plain.tsv", "load", "Plain HTTP/1.1 keep-alive, one Host route"),
    ("rate.tsv", "rate", "Plain route at a fixed request rate"),
    ("load-headers.tsv", "load", "The design's `secure-headers` + `cors` chain"),
    ("load-forwardauth.tsv", "load", "Through a `forwardAuth`"),
    ("memory.tsv", "memory", "Memory per idle keep-alive connection"),
    ("tls.tsv", "tls", "TLS (RSA 2048)"),
    ("backend-tls.tsv", "backend_tls", "TLS to the backend (HTTPS nginx, keep-alive)"),
    ("h2tls.tsv", "h2", "HTTP/2 on TLS (h2)"),
    ("h2c.tsv", "h2", "HTTP/2 over cleartext (h2c)"),
    ("ws.tsv", "ws", "WebSocket"),
    ("callgrind.tsv", "callgrind", "wharf's instructions per request (callgrind)"),
]


def full(d):
    meta = {}
    with open(os.path.join(d, "meta.txt")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    print("# Bench results\n")
    print(f"Written by `bash benches/compare.sh {meta.get('args', '')}` on {meta.get('date', '?')}, "
          f"commit {meta.get('commit', '?')}.\n")
    print("## Machine\n")
    for k in ("cpu", "cores", "kernel", "rustc", "nginx", "haproxy", "traefik"):
        print(f"- {k}: {meta.get(k, '?')}")
    print("\n## Method\n")
    print(open(os.path.join(d, "method.md")).read().strip())
    print("\n## Ratios\n")
    print(ratios(d))
    for name, kind, title in SECTIONS:
        if exists(d, name):
            print(f"\n## {title}\n")
            note = os.path.join(d, name.replace(".tsv", ".note"))
            if os.path.exists(note):
                print(open(note).read().strip() + "\n")
            print(table(kind, os.path.join(d, name)))


if __name__ == "__main__":
    if sys.argv[1] == "table":
        if len(sys.argv) > 4:
            print(f"\n{sys.argv[4]}\n")
        print(table(sys.argv[2], sys.argv[3]))
    elif sys.argv[1] == "full":
        full(sys.argv[2])
    else:
        sys.exit(__doc__)
