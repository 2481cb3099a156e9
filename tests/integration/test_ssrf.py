"""The private-address guard end to end (issue 12, section 2): every URL form an attacker would
try, through `hookctl webhooks test` and through the worker, each refused with its reason; a
redirect to a private address; HOOKD_HTTP_PROXY (a refused target never reaches the proxy, an
allowed one goes through it); the environment's proxy variables ignored; strict
HOOKD_ALLOW_NETWORKS.

No test sends a packet to a non-loopback address. hookd and hookctl run with a connect() shim
(LD_PRELOAD, built here) that refuses and records any connection to a non-loopback address:
should the guard ever let one of these targets through, the test fails on the record instead of
reaching the network. Every name used resolves from /etc/hosts (localhost) or inside curl
(*.localhost): a name that does not resolve is not a blocked case.
"""
import json
import os
import select
import socket
import subprocess
import threading
import time

import pytest

from conftest import HOOKCTL, HOOKD, read_topic

SHIM_C = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

static int loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const unsigned char one[16] = {[15] = 1};
        static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
        return memcmp(a, one, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
    }
    return 1; /* AF_UNIX, AF_UNSPEC */
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    if (sa && !loopback(sa)) {
        char ip[INET6_ADDRSTRLEN] = "?";
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
        const char *path = getenv("HOOKD_TEST_CONNECT_LOG");
        int lf = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
        if (lf >= 0) {
            dprintf(lf, "%s\n", ip);
            close(lf);
        }
        errno = ENETUNREACH;
        return -1;
    }
    return real(fd, sa, len);
}

/* A name server that never answers in time, for names under .hookd-slow-dns: 3 s, then no. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    if (!real)
        real = (int (*)(const char *, const char *, const struct addrinfo *,
                        struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo");
    size_t n = node ? strlen(node) : 0;
    if (n > 15 && strcmp(node + n - 15, ".hookd-slow-dns") == 0) {
        sleep(3);
        return EAI_NONAME;
    }
    return real(node, service, hints, res);
}
"""


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    d = tmp_path_factory.mktemp("shim")
    src, lib = d / "noexternal.c", d / "noexternal.so"
    src.write_text(SHIM_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(lib), str(src), "-ldl"],
                   check=True, capture_output=True)
    return str(lib)


@pytest.fixture
def no_external(shim, tmp_path):
    """Environment for hookd/hookctl: no connection to a non-loopback address is possible, and
    every attempt is recorded in .log."""
    log = tmp_path / "external-connects.log"

    class Guard:
        env = {"LD_PRELOAD": shim, "HOOKD_TEST_CONNECT_LOG": str(log),
               "ASAN_OPTIONS": "verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", "")}

        @staticmethod
        def attempts():
            return log.read_text().split() if log.exists() else []

    return Guard


def ntop6(text):
    return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text))


LOOP4 = "127.0.0.1 (loopback)"

# (name, url, acceptable "<address> (<reason>)" texts, extra task fields)
FORMS = [
    ("decimal", "http://2130706433/", [LOOP4], {}),
    ("octal", "http://0177.0.0.1/", [LOOP4], {}),
    ("octal whole", "http://017700000001/", [LOOP4], {}),
    ("hex", "http://0x7f.1/", [LOOP4], {}),
    ("hex whole", "http://0x7f000001/", [LOOP4], {}),
    ("short", "http://127.1/", [LOOP4], {}),
    ("loopback https", "https://127.0.0.1:8443/", [LOOP4], {}),
    ("unspecified", "http://0.0.0.0/", ["0.0.0.0 (unspecified)"], {}),
    ("zero", "http://0/", ["0.0.0.0 (unspecified)"], {}),
    ("ipv6 unspecified", "http://[::]/", [":: (unspecified)"], {}),
    ("ipv6 loopback", "http://[::1]/", ["::1 (loopback)"], {}),
    ("localhost", "http://localhost/", [LOOP4, "::1 (loopback)"], {}),
    ("sub.localhost", "http://metadata.localhost/", [LOOP4, "::1 (loopback)"], {}),
    ("ipv4-mapped", "http://[::ffff:127.0.0.1]/", [f"{ntop6('::ffff:127.0.0.1')} (loopback)"],
     {}),
    ("ipv4-mapped hex metadata", "http://[::ffff:a9fe:a9fe]/",
     [f"{ntop6('::ffff:169.254.169.254')} (link-local)"], {}),
    ("ipv4-compatible", "http://[::127.0.0.1]/", [f"{ntop6('::127.0.0.1')} (loopback)"], {}),
    ("ipv4-translated", "http://[::ffff:0:7f00:1]/", [f"{ntop6('::ffff:0:7f00:1')} (loopback)"],
     {}),
    ("ipv4-translated metadata", "http://[::ffff:0:a9fe:a9fe]/",
     [f"{ntop6('::ffff:0:a9fe:a9fe')} (link-local)"], {}),
    ("nat64", "http://[64:ff9b::7f00:1]/", [f"{ntop6('64:ff9b::7f00:1')} (loopback)"], {}),
    ("nat64 metadata", "http://[64:ff9b::a9fe:a9fe]/",
     [f"{ntop6('64:ff9b::a9fe:a9fe')} (link-local)"], {}),
    ("nat64 local-use", "http://[64:ff9b:1::a9fe:a9fe]/",
     [f"{ntop6('64:ff9b:1::a9fe:a9fe')} (link-local)"], {}),
    ("nat64 local-use /48", "http://[64:ff9b:1:7f00:0:100::]/",
     [f"{ntop6('64:ff9b:1:7f00:0:100::')} (loopback)"], {}),
    ("6to4", "http://[2002:7f00:1::]/", [f"{ntop6('2002:7f00:1::')} (loopback)"], {}),
    ("6to4 metadata", "http://[2002:a9fe:a9fe::]/", [f"{ntop6('2002:a9fe:a9fe::')} (link-local)"],
     {}),
    ("teredo", "http://[2001:0:808:808::80ff:fffe]/",
     [f"{ntop6('2001:0:808:808::80ff:fffe')} (loopback)"], {}),
    ("teredo private server", "http://[2001:0:a00:1::f7f7:f7f7]/",
     [f"{ntop6('2001:0:a00:1::f7f7:f7f7')} (private)"], {}),
    ("aws metadata", "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
     ["169.254.169.254 (link-local)"], {}),
    ("aws metadata ipv6", "http://[fd00:ec2::254]/latest/meta-data/",
     [f"{ntop6('fd00:ec2::254')} (private)"], {}),
    ("gcp metadata", "http://169.254.169.254/computeMetadata/v1/instance/",
     ["169.254.169.254 (link-local)"], {"headers": {"Metadata-Flavor": "Google"}}),
    ("gcp metadata ipv6", "http://[fd20:ce::254]/computeMetadata/v1/",
     [f"{ntop6('fd20:ce::254')} (private)"], {"headers": {"Metadata-Flavor": "Google"}}),
    ("azure metadata", "http://169.254.169.254/metadata/instance?api-version=2021-02-01",
     ["169.254.169.254 (link-local)"], {"headers": {"Metadata": "true"}}),
    ("alibaba metadata", "http://100.100.100.200/latest/meta-data/", ["100.100.100.200 (cgnat)"],
     {}),
    ("oracle metadata (old)", "http://192.0.0.192/latest/", ["192.0.0.192 (reserved)"], {}),
    ("private 10/8", "http://10.0.0.1/", ["10.0.0.1 (private)"], {}),
    ("private 172.16/12", "http://172.16.0.1:8080/", ["172.16.0.1 (private)"], {}),
    ("private 192.168/16", "http://192.168.1.1/", ["192.168.1.1 (private)"], {}),
    ("ipv6 unique local", "http://[fd12:3456::1]/", [f"{ntop6('fd12:3456::1')} (private)"], {}),
    ("ipv6 link-local", "http://[fe80::1]/", [f"{ntop6('fe80::1')} (link-local)"], {}),
    ("multicast", "http://224.0.0.1/", ["224.0.0.1 (multicast)"], {}),
]

# Old code let these through (the forms the guard missed): listed so a failure says which.
MISSED_BEFORE = {"ipv4-translated", "ipv4-translated metadata", "nat64 local-use",
                 "nat64 local-use /48", "teredo", "teredo private server"}


def create_forms(env, flow):
    ids = {}
    for name, url, _, extra in FORMS:
        task = {"flowId": flow, "name": name, "url": url, "body": "{\"job\":\"$jobId\"}",
                "retry": {"enabled": True, "maxAttempts": 3}}
        task.update(extra)
        ids[env.create_task(task)] = name
    return ids


def hookctl(env, extra_env, *args):
    e = env.cli_env()
    e.update(extra_env)
    return subprocess.run([HOOKCTL, *args], env=e, capture_output=True, text=True, timeout=60)


def assert_blocked(name, error, want):
    assert error.startswith("blocked address "), \
        f"{name}: not blocked ({'missed by the old guard' if name in MISSED_BEFORE else ''}): " \
        f"{error}"
    assert error[len("blocked address "):] in want, (name, error, want)


def test_every_form_is_blocked_through_webhooks_test(env, no_external):
    assert len(FORMS) >= 25
    ids = create_forms(env, f"ssrf-cli-{env.tag}")
    guard = {"HOOKD_ALLOW_NETWORKS": "", **no_external.env}
    failures = []
    for task_id, name in ids.items():
        out = hookctl(env, guard, "webhooks", "test", task_id, "--json")
        try:
            result = json.loads(out.stdout)
            assert out.returncode == 1, (name, out.returncode, out.stderr)
            assert result["status"] == "failed" and result["statusCode"] is None, (name, result)
            want = next(w for n, _, w, _ in FORMS if n == name)
            assert_blocked(name, result.get("error", ""), want)
        except (AssertionError, ValueError) as e:
            failures.append(f"{name}: {e} {out.stdout.strip()} {out.stderr.strip()}")
    assert not failures, "\n".join(failures)
    assert no_external.attempts() == [], "a connection to a non-loopback address was attempted"


def test_every_form_is_blocked_by_the_worker(env, worker_factory, stack, no_external):
    flow = f"ssrf-w-{env.tag}"
    ids = create_forms(env, flow)
    w = worker_factory(env.topic, env.group, env.prefix,
                       {"HOOKD_ALLOW_NETWORKS": "", **no_external.env})
    job = f"jobssrf-{env.tag}"
    env.publish({"jobId": job, "jobStatus": "Complete", "flowId": flow})
    outcomes = read_topic(stack, "hookd.deliveries", lambda r: r.get("jobId") == job, len(ids))
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == job, len(ids))
    by_task = {o["webhookId"]: o for o in outcomes}
    dead_by_task = {d["webhookId"]: d for d in dead}
    failures = []
    for task_id, name in ids.items():
        want = next(wt for n, _, wt, _ in FORMS if n == name)
        try:
            o = by_task.get(task_id)
            assert o is not None, f"{name}: no outcome in hookd.deliveries"
            assert o["status"] == "failed" and o["statusCode"] is None, (name, o)
            assert_blocked(name, o["error"], want)
            d = dead_by_task.get(task_id)
            assert d is not None, f"{name}: not dead-lettered at once (retrying a blocked address)"
            assert d["reason"] == "permanent failure", (name, d["reason"])
            assert_blocked(name, d["error"], want)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)
    assert w.metric('hookd_delivery_attempts_total{outcome="blocked",status_class="none"}') == len(ids)
    assert no_external.attempts() == [], "a connection to a non-loopback address was attempted"


def test_a_redirect_to_a_private_address_is_recorded_not_followed(env, receiver, worker_factory,
                                                                  stack, no_external):
    flow = f"redir-{env.tag}"
    receiver.status["/redir"] = 302
    receiver.reply_headers["/redir"] = {"Location": "http://169.254.169.254/latest/meta-data/"}
    task_id = env.create_task({"flowId": flow, "url": receiver.url("/redir"), "body": "x",
                               "retry": {"enabled": False}})
    allow = {"HOOKD_ALLOW_NETWORKS": "127.0.0.1/32", **no_external.env}
    out = hookctl(env, allow, "webhooks", "test", task_id, "--json")
    assert out.returncode == 1, out.stderr
    result = json.loads(out.stdout)
    assert result["statusCode"] == 302 and result["error"] == "HTTP 302", result
    worker_factory(env.topic, env.group, env.prefix, allow)
    job = f"jobredir-{env.tag}"
    env.publish({"jobId": job, "jobStatus": "Complete", "flowId": flow})
    [o] = read_topic(stack, "hookd.deliveries", lambda r: r.get("jobId") == job, 1)
    assert o["statusCode"] == 302 and o["status"] == "failed", o
    assert [r["path"] for r in receiver.matching("/")] == ["/redir", "/redir"], \
        "one request each, the Location never fetched"
    assert no_external.attempts() == []


# --------------------------------------------------------------------------- proxies --


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that records the request line of everything it is asked. It
    tunnels CONNECT to 127.0.0.1 or ::1 only and answers 403 to anything else, so nothing it
    is asked ever leaves the machine."""

    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            line = data.split(b"\r\n")[0].decode(errors="replace")
            with self.lock:
                self.lines.append(line)
            parts = line.split()
            if len(parts) == 3 and parts[0] == "CONNECT":
                host, _, port = parts[1].rpartition(":")
                if host.strip("[]") in ("127.0.0.1", "::1"):
                    with socket.create_connection((host.strip("[]"), int(port))) as up:
                        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        self.relay(conn, up)
                    return
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    @staticmethod
    def relay(a, b):
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 30)
                if not ready:
                    return
                for s in ready:
                    chunk = s.recv(65536)
                    if not chunk:
                        return
                    (b if s is a else a).sendall(chunk)
        except OSError:
            pass

    def seen(self):
        with self.lock:
            return list(self.lines)

    def close(self):
        self.sock.close()


@pytest.fixture
def proxy():
    p = RecordingProxy()
    yield p
    p.close()


TOKEN = "ssrf-suite-admin-token"


def api_test(worker, task_id):
    """POST /v1/webhooks/{id}/test on the worker's admin API (the console's Test button)."""
    import urllib.request
    req = urllib.request.Request(f"http://127.0.0.1:{worker.port()}/v1/webhooks/{task_id}/test",
                                 data=b"{}", method="POST",
                                 headers={"Authorization": f"Bearer {TOKEN}",
                                          "Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # not ours either
    with opener.open(req, timeout=30) as res:
        assert res.status == 200
        return json.loads(res.read())


PROXY_BLOCKED = [
    ("aws metadata", "http://169.254.169.254/latest/meta-data/", "169.254.169.254 (link-local)"),
    ("private", "http://10.0.0.1/", "10.0.0.1 (private)"),
    ("private https", "https://10.0.0.1/", "10.0.0.1 (private)"),
    ("loopback not allowed", "http://127.0.0.2:9/", "127.0.0.2 (loopback)"),
    ("decimal", "http://2130706434/", "127.0.0.2 (loopback)"),
    ("ipv4-translated", "http://[::ffff:0:a9fe:a9fe]/",
     f"{ntop6('::ffff:0:a9fe:a9fe')} (link-local)"),
    ("teredo", "http://[2001:0:808:808::80ff:fffe]/",
     f"{ntop6('2001:0:808:808::80ff:fffe')} (loopback)"),
    ("ipv6 loopback", "http://[::1]/", "::1 (loopback)"),
]


def test_with_hookd_http_proxy_a_blocked_target_never_reaches_the_proxy(
        env, receiver, proxy, worker_factory, stack, no_external):
    flow = f"proxy-{env.tag}"
    ids = {env.create_task({"flowId": flow, "name": name, "url": url, "body": "x",
                            "retry": {"enabled": False}}): (name, want)
           for name, url, want in PROXY_BLOCKED}
    ok_id = env.create_task({"flowId": flow, "url": receiver.url("/via-proxy"), "body": "$jobId",
                             "secret": "proxy-secret-1234"})
    # The proxy's own address is allowed too, as an operator would list it; it exempts no target
    # but 127.0.0.1 itself (127.0.0.2 stays refused).
    cfg = {"HOOKD_HTTP_PROXY": proxy.url.replace("http://", "http://user:proxypass@"),
           "HOOKD_ALLOW_NETWORKS": "127.0.0.1/32", **no_external.env}
    for task_id, (name, want) in ids.items():
        out = hookctl(env, cfg, "webhooks", "test", task_id, "--json")
        assert out.returncode == 1, (name, out.stderr)
        result = json.loads(out.stdout)
        assert result["error"] == f"blocked address {want}", (name, result)
    assert proxy.seen() == [], "a blocked target reached the proxy"
    out = hookctl(env, cfg, "webhooks", "test", ok_id, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "proxypass" not in out.stdout + out.stderr
    assert proxy.seen() == [f"CONNECT 127.0.0.1:{receiver.port} HTTP/1.1"], proxy.seen()

    w = worker_factory(env.topic, env.group, env.prefix, {**cfg, "HOOKD_API_TOKEN": TOKEN})
    # the admin API's test goes through the same engine
    meta = next(i for i, (name, _) in ids.items() if name == "aws metadata")
    assert api_test(w, meta)["error"] == "blocked address 169.254.169.254 (link-local)"
    assert proxy.seen() == [f"CONNECT 127.0.0.1:{receiver.port} HTTP/1.1"], proxy.seen()
    assert api_test(w, ok_id)["status"] == "delivered"
    assert proxy.seen() == [f"CONNECT 127.0.0.1:{receiver.port} HTTP/1.1"] * 2, proxy.seen()
    job = f"jobproxy-{env.tag}"
    env.publish({"jobId": job, "jobStatus": "Complete", "flowId": flow})
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == job, len(ids))
    assert len(dead) == len(ids)
    for d in dead:
        name, want = ids[d["webhookId"]]
        assert d["reason"] == "permanent failure" and d["error"] == f"blocked address {want}", \
            (name, d)
    got = receiver.wait_for("/via-proxy", 3)[-1]  # the first were the two tests'
    assert got["body"] == job.encode()
    assert got["headers"]["x-webhook-signature"].startswith("t=")
    assert proxy.seen() == [f"CONNECT 127.0.0.1:{receiver.port} HTTP/1.1"] * 3, proxy.seen()
    assert w.metric('hookd_delivery_attempts_total{outcome="blocked",status_class="none"}') == len(ids)
    assert w.metric('hookd_delivery_attempts_total{outcome="succeeded",status_class="2xx"}') == 1
    assert not any("proxypass" in line for line in w.lines()), "the proxy's password is logged"
    assert no_external.attempts() == []


def test_a_slow_name_server_holds_up_nothing_and_times_out(env, receiver, proxy,
                                                          worker_factory, stack, no_external):
    """With a proxy, hookd resolves the target itself: off the loop, within the task's
    timeout."""
    flow = f"slowdns-{env.tag}"
    slow_id = env.create_task({"flowId": flow, "url": "http://receiver.hookd-slow-dns/",
                               "body": "x", "timeoutMs": 1000, "retry": {"enabled": False}})
    env.create_task({"flowId": flow, "url": receiver.url("/fast"), "body": "$jobId"})
    cfg = {"HOOKD_HTTP_PROXY": proxy.url, "HOOKD_ALLOW_NETWORKS": "127.0.0.1/32",
           **no_external.env}
    out = hookctl(env, cfg, "webhooks", "test", slow_id, "--json")
    result = json.loads(out.stdout)
    assert result["error"].startswith("Resolving timed out after"), result
    assert 1000 <= result["latencyMs"] < 1600, result
    w = worker_factory(env.topic, env.group, env.prefix, cfg)
    job = f"jobslowdns-{env.tag}"
    start = time.time()
    env.publish({"jobId": job, "jobStatus": "Complete", "flowId": flow})
    assert receiver.wait_for("/fast", 1, timeout=10)
    assert time.time() - start < 2.5, "the slow name held up the other delivery"
    [o] = read_topic(stack, "hookd.deliveries",
                     lambda r: r.get("jobId") == job and r.get("webhookId") == slow_id, 1)
    assert o["error"].startswith("Resolving timed out after") and o["statusCode"] is None, o
    assert 1000 <= o["latencyMs"] < 1600, o
    assert w.metric('hookd_delivery_attempts_total{outcome="timeout",status_class="none"}') == 1
    assert proxy.seen() == [f"CONNECT 127.0.0.1:{receiver.port} HTTP/1.1"], proxy.seen()
    assert no_external.attempts() == []


def test_the_environments_proxy_variables_are_ignored(env, receiver, proxy, worker_factory,
                                                      stack, no_external):
    flow = f"envproxy-{env.tag}"
    ok_id = env.create_task({"flowId": flow, "url": receiver.url("/direct"), "body": "$jobId"})
    meta_id = env.create_task({"flowId": flow, "url": "http://169.254.169.254/latest/meta-data/",
                               "body": "x", "retry": {"enabled": False}})
    cfg = {"http_proxy": proxy.url, "https_proxy": proxy.url, "HTTPS_PROXY": proxy.url,
           "ALL_PROXY": proxy.url, "all_proxy": proxy.url, "NO_PROXY": "", "no_proxy": "",
           "HOOKD_ALLOW_NETWORKS": "127.0.0.1/32", **no_external.env}
    cfg.pop("HOOKD_HTTP_PROXY", None)
    out = hookctl(env, cfg, "webhooks", "test", ok_id, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    out = hookctl(env, cfg, "webhooks", "test", meta_id, "--json")
    assert json.loads(out.stdout)["error"] == "blocked address 169.254.169.254 (link-local)", \
        out.stdout
    assert proxy.seen() == [], "hookctl used the environment's proxy"
    w = worker_factory(env.topic, env.group, env.prefix, {**cfg, "HOOKD_API_TOKEN": TOKEN})
    assert api_test(w, ok_id)["status"] == "delivered"
    assert api_test(w, meta_id)["error"] == "blocked address 169.254.169.254 (link-local)"
    assert proxy.seen() == [], "the admin API's test used the environment's proxy"
    job = f"jobenvproxy-{env.tag}"
    env.publish({"jobId": job, "jobStatus": "Complete", "flowId": flow})
    assert len(receiver.wait_for("/direct", 3)) == 3
    [d] = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == job, 1)
    assert d["error"] == "blocked address 169.254.169.254 (link-local)", d
    assert proxy.seen() == [], "hookd used the environment's proxy"
    assert no_external.attempts() == []


# ------------------------------------------------------------------- configuration --


def hookd_env(stack, **extra):
    e = {"PATH": "/usr/bin:/bin", "HOOKD_LISTEN": "127.0.0.1:0",
         "HOOKD_KAFKA_BOOTSTRAP_SERVERS": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
         "HOOKD_REDIS_URL": stack["HOOKD_REDIS_URL"]}
    e.update(extra)
    return e


@pytest.mark.parametrize("entry", ["10.0.0.0/-0", "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/",
                                   "10.0.0.0/33", "::/129", "10.0.0.0/8x", "::/-0"])
def test_bad_allow_networks_entries_are_refused_naming_the_entry(stack, env, entry):
    out = subprocess.run([HOOKD], env=hookd_env(stack, HOOKD_ALLOW_NETWORKS=f"127.0.0.1,{entry}"),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, (entry, out.returncode, out.stderr[-500:])
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hookd: HOOKD_ALLOW_NETWORKS:"), out.stderr
    assert f"'{entry}" in lines[0], lines[0]
    task_id = env.create_task({"flowId": f"cidr-{env.tag}", "url": "http://10.0.0.1/"})
    ctl = hookctl(env, {"HOOKD_ALLOW_NETWORKS": entry}, "webhooks", "test", task_id)
    assert ctl.returncode == 2 and "HOOKD_ALLOW_NETWORKS" in ctl.stderr, (entry, ctl.stderr)


def test_an_allow_list_covering_everything_warns_at_start(env, worker_factory):
    for allow, family in (("0.0.0.0/0", "IPv4"), ("::/0", "IPv6"),
                          ("0.0.0.0/1,128.0.0.0/1,::/0", "IPv4 and IPv6")):
        w = worker_factory(env.topic, f"{env.group}-{family[:4]}", env.prefix,
                           {"HOOKD_ALLOW_NETWORKS": allow})
        warn = [json.loads(line) for line in w.lines() if '"config.allow_networks"' in line]
        assert len(warn) == 1, (allow, w.lines()[:5])
        assert warn[0]["level"] == "warn" and f"every {family} address" in warn[0]["msg"], warn
        w.stop()
    w = worker_factory(env.topic, f"{env.group}-none", env.prefix,
                       {"HOOKD_ALLOW_NETWORKS": "127.0.0.0/8,::1"})
    assert not any('"config.allow_networks"' in line for line in w.lines())


def test_a_bad_proxy_url_is_refused_without_showing_it(stack):
    out = subprocess.run([HOOKD], env=hookd_env(
        stack, HOOKD_HTTP_PROXY="socks5://admin:hunter2secret@10.0.0.9:1080"),
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr[-500:]
    assert out.stderr.startswith("hookd: HOOKD_HTTP_PROXY:"), out.stderr
    assert "hunter2secret" not in out.stderr + out.stdout
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
