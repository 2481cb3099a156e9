"""Slow clients against hookd's HTTP listeners (loopback only, bounded in time and connections):
100 connections that trickle one header byte every 2 s must not starve the kubelet's probes
(HOOKD_PROBE_LISTEN), and on the API port (HOOKD_LISTEN) one address holds at most its per-IP
share of the connections, each for at most the header deadline, so other clients are served."""
import os
import socket
import subprocess
import threading
import time

from conftest import HOOKD

TRICKLERS = 100
PERIOD_S = 2.0          # one header byte per connection every PERIOD_S
PER_IP = 16             # cmd/hookd/http.c HK_HTTP_API_PER_IP
HEADER_DEADLINE_S = 5   # cmd/hookd/http.c HK_HTTP_HEADER_DEADLINE_MS
HEADER = b"GET /healthz HTTP/1.1\r\nHost: hookd\r\nX-Slow: " + b"a" * 100000


class Trickler:
    """TRICKLERS connections from src, each sending one more header byte every PERIOD_S and
    never finishing; a connection the server closes is opened again. Records how many were open
    at once and how long each lived."""

    def __init__(self, port, src="127.0.0.1", n=TRICKLERS):
        self.port, self.src, self.n = port, src, n
        self.stop = threading.Event()
        self.max_open = 0       # held open at once by the server (peeked)
        self.longest_s = 0.0    # the longest life of a connection the server ended
        self.opened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self):
        s = socket.socket()
        s.settimeout(1)
        try:
            s.bind((self.src, 0))
            s.connect(("127.0.0.1", self.port))
            s.send(HEADER[:1])
            s.setblocking(False)  # peeks and sends never wait
        except OSError:
            s.close()
            return None
        self.opened += 1
        return [s, time.monotonic(), 1]

    @staticmethod
    def _alive(conn):
        try:
            return conn[0].recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def _run(self):
        conns = [self._open() for _ in range(self.n)]
        next_round = time.monotonic() + PERIOD_S
        while not self.stop.is_set():
            now = time.monotonic()
            for i, c in enumerate(conns):
                if c is not None and not self._alive(c):
                    self.longest_s = max(self.longest_s, now - c[1])
                    c[0].close()
                    conns[i] = None
            # Held: open for over a second (a refused one is closed at once).
            held = sum(1 for c in conns if c and now - c[1] > 1.0)
            self.max_open = max(self.max_open, held)
            if now >= next_round:  # one more byte each, and the closed ones opened again
                for i, c in enumerate(conns):
                    if c is None:
                        conns[i] = self._open()
                        continue
                    try:
                        c[0].send(HEADER[c[2]:c[2] + 1])
                        c[2] += 1
                    except OSError:
                        pass
                next_round = now + PERIOD_S
            self.stop.wait(0.25)
        for c in conns:
            if c:
                c[0].close()

    def close(self):
        self.stop.set()
        self.thread.join(10)


def get(port, path="/healthz", src="127.0.0.1", timeout=1.0):
    """(status line or an error name, seconds) of one GET on a fresh connection from src."""
    t0 = time.monotonic()
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: hookd\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        line = data.split(b"\r\n", 1)[0].decode(errors="replace") if data else "closed, no reply"
        return line, time.monotonic() - t0
    except OSError as e:
        return type(e).__name__, time.monotonic() - t0
    finally:
        s.close()


def poll(port, src, n=20, every_s=1.0):
    """n GETs of /healthz, one every every_s: [(status line, seconds)]."""
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        out.append(get(port, src=src))
        time.sleep(max(0.0, every_s - (time.monotonic() - t0)))
    return out


def test_slow_clients_cannot_starve_the_probe_listener(env, worker_factory):
    worker = worker_factory(env.topic, env.group, env.prefix)
    probe_port, api_port = worker.probe_port(), worker.port()
    assert probe_port != api_port
    assert get(probe_port, "/readyz")[0].split(" ")[1] in ("200", "503")
    assert get(probe_port, "/metrics")[0].startswith("HTTP/1.1 404"), "probes only"
    assert get(api_port, "/metrics")[0].startswith("HTTP/1.1 200"), "the API port keeps all"
    slow = Trickler(api_port)
    try:
        time.sleep(1)
        answers = poll(probe_port, "127.0.0.1")
    finally:
        slow.close()
    late = [(status, round(secs, 3)) for status, secs in answers
            if not status.startswith("HTTP/1.1 200") or secs >= 1.0]
    assert late == [], f"/healthz on the probe listener under {TRICKLERS} slow clients: {late}"
    assert slow.opened >= TRICKLERS
    assert worker.proc.poll() is None


def test_one_slow_address_cannot_take_the_api_port(env, worker_factory):
    worker = worker_factory(env.topic, env.group, env.prefix)
    api_port = worker.port()
    slow = Trickler(api_port, src="127.0.0.1")
    try:
        time.sleep(1)
        other = poll(api_port, "127.0.0.2", n=12)   # another client address
        same = poll(api_port, "127.0.0.1", n=4)     # the slow clients' own address
    finally:
        slow.close()
    late = [(status, round(secs, 3)) for status, secs in other
            if not status.startswith("HTTP/1.1 200") or secs >= 1.0]
    assert late == [], f"/healthz on the API port from another address: {late}"
    assert slow.max_open <= PER_IP, f"one address held {slow.max_open} connections"
    assert 0 < slow.longest_s <= HEADER_DEADLINE_S + PERIOD_S, \
        f"a connection trickling its headers lived {slow.longest_s:.1f} s"
    # The slow address itself gets a quick answer either way: a refusal at its limit, or a 200
    # when the deadline has just freed a slot; never a hang.
    assert all(secs < 1.0 for _, secs in same), same
    assert worker.proc.poll() is None


def test_probe_listen_empty_is_off_and_a_bad_one_is_refused(env, worker_factory, stack):
    worker = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_PROBE_LISTEN": ""})
    assert any('"event":"http.probes"' in line and "no probe listener" in line
               for line in worker.lines())
    assert get(worker.port())[0].startswith("HTTP/1.1 200"), "probes stay on HOOKD_LISTEN"
    bad = subprocess.run([HOOKD], capture_output=True, text=True, timeout=30, env={
        **os.environ, "HOOKD_LISTEN": "127.0.0.1:0", "HOOKD_PROBE_LISTEN": "localhost:80:80",
        "HOOKD_KAFKA_BOOTSTRAP_SERVERS": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
        "HOOKD_REDIS_URL": stack["HOOKD_REDIS_URL"], "HOOKD_TOPICS": env.topic,
        "HOOKD_KAFKA_GROUP_ID": env.group})
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert bad.stderr.startswith("hookd: HOOKD_PROBE_LISTEN: "), bad.stderr
