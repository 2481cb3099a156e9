"""Redis over TLS through the chart's stunnel sidecar, and Redis ACL users (issue 17, items 1
and 2; decisions 65 and 66).

TLS: a private redis-server that listens only on a TLS port on loopback (`--port 0
--tls-port`, client certificates required), with a CA, server and client certificates made
here with the openssl CLI. stunnel (Debian's stunnel4, as in the image) runs the very
stunnel.conf that `helm template` renders into the chart's ConfigMap, started with the
sidecar container's own command and awaited with its own postStart hook; its
/etc/hookd/redis-tls paths point at the files of the chart's Secret, written here. hookctl and
hookd use the HOOKD_REDIS_URL of the chart's ConfigMap (redis://127.0.0.1:<localPort>/0), and
a task created through the tunnel is delivered by a worker that reads it through the tunnel.
A server certificate for another name, or one from a CA the chart was not given, is refused
by the sidecar: nothing reaches Redis. hookd, hookd-ingress and hookctl given rediss://
themselves refuse it in one line that points at the sidecar.

ACL: a private redis-server whose default user needs a password (so a connection that did not
AUTH as hookd's user can do nothing), and a user made with the ACL line docs/operations.md
gives operators (the minimal command set, keys of the test's prefix only), its name and
password percent-encoded in the URL. hookd delivers as that user (the task has a rateLimit, so
the asynchronous connection AUTHs too: its schedule key is written, and CLIENT LIST shows every
connection as that user), the ACL bites outside the prefix, and a wrong password fails in one
line naming HOOKD_REDIS_URL without the password.
"""
import base64
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
import uuid

import pytest
import yaml

from conftest import BUILD, HOOKCTL, HOOKD, ROOT, Env

CHART = os.path.join(ROOT, "helm", "hookd")
HOOKD_INGRESS = os.path.join(BUILD, "cmd", "hookd-ingress")
OPERATIONS = os.path.join(ROOT, "docs", "operations.md")
SECRET = "redisTlsSecret-0123"


def find_helm():
    cache = os.environ.get("HOOKD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hookd")
    for candidate in (os.path.join(cache, "bin", "helm"), shutil.which("helm")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("helm is missing: deploy/local/setup builds it into $HOOKD_CACHE/bin/helm")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} does not listen on {port}")


# -------------------------------------------------------------------- certificates (openssl) --


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return d / f"{name}.crt"


def make_leaf(d, name, ca, usage, dns):
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName=DNS:{dns}\nextendedKeyUsage={usage}\n"
                   "basicConstraints=CA:FALSE\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={dns}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-set_serial", str(uuid.uuid4().int >> 64), "-days", "2", "-extfile", ext.name,
            "-out", f"{name}.crt", cwd=d)
    return d / f"{name}.crt", d / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    out = {"dir": d, "ca": make_ca(d, "ca"), "other_ca": make_ca(d, "other-ca")}
    out["server"] = make_leaf(d, "server", "ca", "serverAuth", "localhost")
    out["wrong_host"] = make_leaf(d, "wrong-host", "ca", "serverAuth", "other.example")
    out["client"] = make_leaf(d, "client", "ca", "clientAuth", "hookd")
    return out


class TlsRedis:
    """A redis-server listening only on a TLS port of 127.0.0.1, client certificates required."""

    def __init__(self, pki, tmp_path, server):
        self.pki = pki
        self.port = free_port()
        cert, key = server
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--bind", "127.0.0.1", "--tls-port", str(self.port),
             "--tls-cert-file", str(cert), "--tls-key-file", str(key),
             "--tls-ca-cert-file", str(pki["ca"]), "--tls-auth-clients", "yes",
             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "redis-server")

    def cli(self, *args):
        """redis-cli over TLS, trusting the CA and the server's name as it is, with the client
        certificate: the test's own look at what reached Redis."""
        cert, key = self.pki["client"]
        out = subprocess.run(["redis-cli", "--tls", "--cacert", str(self.pki["ca"]),
                              "--cert", str(cert), "--key", str(key), "--insecure",
                              "-h", "127.0.0.1", "-p", str(self.port), *args],
                             capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def commands_seen(self):
        """The commands this server has run, but the test's own INFO."""
        stats = self.cli("INFO", "commandstats")
        return set(re.findall(r"^cmdstat_([a-z|]+):", stats, re.M)) - {"info"}

    def stop(self):
        self.proc.kill()
        self.proc.wait(5)


# ---------------------------------------------------------------- the chart's sidecar, run here --


def render(*args):
    proc = subprocess.run([find_helm(), "template", "rel", CHART, "--namespace", "hookd",
                           "--kube-version", "1.30.0", *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def named(docs, kind, name):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


class Sidecar:
    """The chart's redis-tls container, run from the chart's render of these values: its
    stunnel.conf (ConfigMap), its files (Secret), its command and its postStart hook."""

    def __init__(self, tmp_path, redis_port, ca, client=None):
        self.local_port = free_port()
        args = ["--set", f"redis.url=rediss://localhost:{redis_port}/0",
                "--set", f"redis.tls.localPort={self.local_port}",
                "--set-file", f"redis.tls.ca={ca}"]
        if client:
            args += ["--set-file", f"redis.tls.cert={client[0]}",
                     "--set-file", f"redis.tls.key={client[1]}"]
        docs = render(*args)
        self.url = named(docs, "ConfigMap", "rel-hookd")["data"]["HOOKD_REDIS_URL"]
        pod = named(docs, "Deployment", "rel-hookd")["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["name"] == "redis-tls" and pod["containers"][1]["name"] == "hookd"
        files = tmp_path / f"redis-tls-{self.local_port}"
        files.mkdir()
        secret = named(docs, "Secret", "rel-hookd-redis-tls")["data"]
        for name, value in secret.items():
            (files / name).write_bytes(base64.b64decode(value))
            os.chmod(files / name, 0o600)
        conf = named(docs, "ConfigMap", "rel-hookd-redis-tls")["data"]["stunnel.conf"]
        conf = conf.replace("/etc/hookd/redis-tls/", f"{files}/")
        assert "/etc/hookd" not in conf, conf
        self.conf = tmp_path / f"stunnel-{self.local_port}.conf"
        self.conf.write_text(conf)
        command = [str(self.conf) if c == "/etc/hookd/stunnel/stunnel.conf" else c
                   for c in container["command"]]
        self.log_path = tmp_path / f"stunnel-{self.local_port}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        hook = subprocess.run(container["lifecycle"]["postStart"]["exec"]["command"],
                              capture_output=True, timeout=20)
        assert hook.returncode == 0, f"postStart failed: {self.lines()}"
        assert self.proc.poll() is None, self.lines()

    def lines(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.log.close()


@pytest.fixture
def sidecars(tmp_path):
    started = []

    def start(*args, **kwargs):
        s = Sidecar(tmp_path, *args, **kwargs)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def tls_redis(pki, tmp_path):
    servers = []

    def start(server):
        r = TlsRedis(pki, tmp_path, server)
        servers.append(r)
        return r

    yield start
    for r in servers:
        r.stop()


def task(env, receiver, flow, **extra):
    return {"flowId": flow, "url": receiver.url(f"/{flow}"), "secret": SECRET, **extra}


def readyz(worker, timeout=20):
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{worker.probe_port()}/readyz",
                                        timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            if time.time() >= deadline:
                return e.code, e.read().decode()
        time.sleep(0.2)


def test_hookd_works_through_the_charts_tls_sidecar(stack, pki, tls_redis, sidecars, receiver,
                                                     worker_factory, tmp_path):
    redis = tls_redis(pki["server"])
    sidecar = sidecars(redis.port, pki["ca"], client=pki["client"])
    assert sidecar.url == f"redis://127.0.0.1:{sidecar.local_port}/0"
    env = Env(dict(stack, HOOKD_REDIS_URL=sidecar.url), tmp_path)
    flow = f"flow-{env.tag}"
    task_id = env.create_task(task(env, receiver, flow))
    listed = env.hookctl("webhooks", "list", "--flow", flow)
    assert listed.returncode == 0 and task_id in listed.stdout, listed.stderr
    # the task is in the TLS Redis (not the shared one), under the test's prefix
    assert redis.cli("EXISTS", f"{env.prefix}webhook:{task_id}").strip() == "1"

    worker = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_REDIS_URL": sidecar.url})
    status, body = readyz(worker)
    assert status == 200 and "redis: ok" in body, body
    env.publish({"eventId": f"ev-{env.tag}", "jobId": 42, "jobStatus": "Success", "flowId": flow})
    got = receiver.wait_for(f"/{flow}", 1)
    assert len(got) == 1, worker.lines()[-20:]
    # its history went through the tunnel too
    deadline = time.time() + 10
    key = f"{env.prefix}job:42:deliveries"
    while time.time() < deadline and redis.cli("EXISTS", key).strip() != "1":
        time.sleep(0.2)
    assert redis.cli("EXISTS", key).strip() == "1"
    assert sidecar.proc.poll() is None


@pytest.mark.parametrize("case", ["wrong-host", "unknown-ca"])
def test_the_sidecar_refuses_a_certificate_it_cannot_verify(case, stack, pki, tls_redis,
                                                            sidecars, tmp_path):
    if case == "wrong-host":  # signed by the CA, but for other.example, not localhost
        redis = tls_redis(pki["wrong_host"])
        sidecar = sidecars(redis.port, pki["ca"], client=pki["client"])
    else:  # the right name, from a CA the chart was not given
        redis = tls_redis(pki["server"])
        sidecar = sidecars(redis.port, pki["other_ca"], client=pki["client"])
    env = Env(dict(stack, HOOKD_REDIS_URL=sidecar.url), tmp_path)
    out = env.hookctl("webhooks", "list", "--flow", "7")
    assert out.returncode == 1, out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "HOOKD_REDIS_URL" in lines[0], out.stderr
    # hookd itself exits on it at start, with one line naming the URL
    run = subprocess.run([HOOKD], env=dict(env.cli_env(), HOOKD_LISTEN="127.0.0.1:0",
                                           HOOKD_PROBE_LISTEN="127.0.0.1:0",
                                           HOOKD_TOPICS=env.topic, HOOKD_KAFKA_GROUP_ID=env.topic),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "HOOKD_REDIS_URL" in run.stderr, run.stderr
    log = sidecar.lines()
    if case == "wrong-host":
        assert "CERT: Subject checks failed" in log and "CN=other.example" in log, log
    else:
        assert re.search(r"unable to get local issuer|certificate verify failed|"
                         r"self.signed|Verification error", log, re.I), log
    assert redis.commands_seen() == set(), "nothing may reach Redis through a refused tunnel"


def test_rediss_given_to_hookd_itself_is_refused_in_one_line_naming_the_sidecar(stack, tmp_path):
    url = "rediss://hookd:s3cretPassw0rd@redis.example:6380/0"
    env = dict(os.environ, HOOKD_REDIS_URL=url, HOOKD_LISTEN="127.0.0.1:0",
               HOOKD_PROBE_LISTEN="127.0.0.1:0", HOOKD_INGRESS_LISTEN="127.0.0.1:0",
               HOOKD_KAFKA_BOOTSTRAP_SERVERS=stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"])
    for argv in ([HOOKD], [HOOKD_INGRESS], [HOOKCTL, "webhooks", "list", "--flow", "7"]):
        run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        name = os.path.basename(argv[0])
        assert run.returncode == 2, f"{name}: {run.returncode} {run.stderr}"
        lines = [line for line in (run.stdout + run.stderr).splitlines()
                 if "HOOKD_REDIS_URL" in line]
        assert len(lines) == 1, f"{name}: {run.stdout}{run.stderr}"
        assert "sidecar" in lines[0] and "redis.tls" in lines[0] and \
            "docs/operations.md#redis-over-tls" in lines[0], lines[0]
        assert "s3cretPassw0rd" not in run.stdout + run.stderr


# -------------------------------------------------------------------------------- ACL users --


def documented_acl_line():
    """The ACL SETUSER line docs/operations.md gives for hookd's user."""
    with open(OPERATIONS) as f:
        found = [line.strip() for line in f if line.strip().startswith("ACL SETUSER hookd ")]
    assert len(found) == 1, found
    return found[0]


ADMIN = "it-admin-password"


class AclRedis:
    """A private redis-server whose default user needs a password (ADMIN): a connection whose
    AUTH as hookd's user failed can run nothing, so every connection must AUTH as that user."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--requirepass", ADMIN, "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "redis-server")

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port), "-a", ADMIN, "--no-auth-warning",
                              *args], capture_output=True, text=True, timeout=10)
        assert out.returncode == 0 and not out.stdout.startswith("ERR"), out.stdout + out.stderr
        return out.stdout

    def stop(self):
        self.proc.kill()
        self.proc.wait(5)


@pytest.fixture
def acl_user(tmp_path):
    """The documented ACL user, for the test's own prefix, on a private Redis: (server, name,
    password, the function that makes the user for a prefix and returns its URL)."""
    redis = AclRedis(tmp_path)
    tag = uuid.uuid4().hex[:8]
    name, password = f"hookd-it@{tag}", f"p@ss:w/rd %{tag}"  # Redis refuses a space in a name

    def make(prefix):
        words = shlex.split(documented_acl_line())
        assert words[:3] == ["ACL", "SETUSER", "hookd"]
        assert "~hookd:*" in words and "><password>" in words, words
        words[2] = name
        words = [f">{password}" if w == "><password>" else f"~{prefix}*" if w == "~hookd:*"
                 else w for w in words]
        assert redis.cli(*words).strip() == "OK"
        quote = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
        return f"redis://{quote(name)}:{quote(password)}@127.0.0.1:{redis.port}/0"

    yield redis, name, password, make
    redis.stop()


def test_hookd_delivers_as_an_acl_user_of_its_prefix_only(stack, acl_user, receiver,
                                                         worker_factory, tmp_path):
    redis, name, password, make = acl_user
    env = Env(stack, tmp_path)
    url = make(env.prefix)
    assert "%40" in url and "%3A" in url and "%2F" in url and "%25" in url and "%20" in url
    env.stack = dict(stack, HOOKD_REDIS_URL=url)
    flow = f"flow-{env.tag}"
    # rateLimit: the pipeline's asynchronous connection (store/async.c) AUTHs as the user too
    task_id = env.create_task(task(env, receiver, flow, rateLimit=50))
    worker = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_REDIS_URL": url})
    env.publish({"eventId": f"ev-{env.tag}", "jobId": 4242, "jobStatus": "Success", "flowId": flow})
    got = receiver.wait_for(f"/{flow}", 1)
    assert len(got) == 1, worker.lines()[-20:]
    deadline = time.time() + 10  # the history is written as that user too, a moment later
    while True:
        shown = env.hookctl("deliveries", "--job", "4242", "--json")
        if (shown.returncode == 0 and task_id in shown.stdout) or time.time() >= deadline:
            break
        time.sleep(0.2)
    assert shown.returncode == 0 and task_id in shown.stdout, shown.stdout + shown.stderr
    # the rate schedule, written by the asynchronous connection, and every connection is hers
    assert redis.cli("EXISTS", f"{env.prefix}rate:{task_id}").strip() == "1"
    users = re.findall(r"\buser=(\S+)", redis.cli("CLIENT", "LIST"))
    assert users.count(name) >= 3 and set(users) == {name, "default"}, users  # default: this cli
    # the ACL bites: the same user outside its prefix is refused (it was AUTHed as that user)
    env.prefix = "elsewhere:"
    out = env.hookctl("webhooks", "list", "--flow", flow)
    assert out.returncode == 1 and "NOPERM" in out.stderr, out.stdout + out.stderr
    logged = "\n".join(worker.lines())
    assert password not in logged and urllib.parse.quote(password, safe="") not in logged


def test_a_wrong_password_is_one_line_naming_the_url_without_the_password(stack, acl_user,
                                                                           tmp_path):
    redis, name, password, make = acl_user
    env = Env(stack, tmp_path)
    url = make(env.prefix)
    wrong = "n0t-the-Password"
    cli = dict(env.cli_env(), HOOKD_REDIS_URL=url, HOOKD_REDIS_PASSWORD=wrong)
    out = subprocess.run([HOOKCTL, "webhooks", "list", "--flow", "7"], env=cli,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "HOOKD_REDIS_URL" in lines[0] and "WRONGPASS" in lines[0], lines
    run = subprocess.run([HOOKD], env=dict(cli, HOOKD_LISTEN="127.0.0.1:0",
                                           HOOKD_PROBE_LISTEN="127.0.0.1:0",
                                           HOOKD_TOPICS=env.topic, HOOKD_KAFKA_GROUP_ID=env.topic),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert [line for line in run.stderr.splitlines() if "HOOKD_REDIS_URL" in line], run.stderr
    for text in (out.stdout + out.stderr, run.stdout + run.stderr):
        assert wrong not in text and password not in text
        assert urllib.parse.quote(password, safe="") not in text
