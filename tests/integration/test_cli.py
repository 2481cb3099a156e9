"""hookctl and hookd as a user meets them: --help, --version, exit codes, one-line errors that
name the field, signatures checked the way a receiver would, secrets never printed."""
import json
import subprocess

from conftest import HOOKCTL, HOOKD

SEED_SIG = "t=1568818215724,sha256=ae9c9f18381e423059604b64469099165a343deef595013525703e50e84d19f9"


def run(*args, env=None, stdin=None):
    return subprocess.run(list(args), capture_output=True, text=True, env=env, input=stdin,
                          timeout=60)


def test_help_and_version():
    for binary in (HOOKD, HOOKCTL):
        out = run(binary, "--help")
        assert out.returncode == 0 and "HOOKD_MAX_INFLIGHT" in out.stdout
        out = run(binary, "--version")
        assert out.returncode == 0 and out.stdout.split()[1].count(".") == 2
    assert "hookctl webhooks create" in run(HOOKCTL, "webhooks", "--help").stdout


def test_bad_usage_exits_2_with_one_line_naming_the_flag():
    cases = [
        ([HOOKD, "--max-inflight", "many"], "--max-inflight"),
        ([HOOKD, "--frobnicate"], "--frobnicate"),
        ([HOOKCTL, "nope"], "nope"),
        ([HOOKCTL, "webhooks", "list"], "--flow"),
        ([HOOKCTL, "verify", "--header", "X-Webhook-Signature: sha256=00"], "--secret"),
        ([HOOKCTL, "listen"], "--port"),
    ]
    for args, field in cases:
        out = run(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert field in out.stderr, (field, out.stderr)


def test_hookd_rejects_bad_allow_networks(stack):
    env = {"PATH": "/usr/bin:/bin", "HOOKD_ALLOW_NETWORKS": "10.0.0.0/99",
           "HOOKD_LISTEN": "127.0.0.1:0",
           "HOOKD_KAFKA_BOOTSTRAP_SERVERS": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
           "HOOKD_REDIS_URL": stack["HOOKD_REDIS_URL"]}
    out = run(HOOKD, env=env)
    assert out.returncode == 2
    assert out.stderr.startswith("hookd: HOOKD_ALLOW_NETWORKS:"), out.stderr


def test_verify_the_seed_example(tmp_path):
    body = tmp_path / "body"
    body.write_text("test")
    ok = run(HOOKCTL, "verify", "--secret", "mySecret", "--header",
             f"X-Webhook-Signature: {SEED_SIG}", "--body-file", str(body), "--tolerance", "0")
    assert ok.returncode == 0, ok.stderr
    assert "valid timestamped signature" in ok.stdout
    bad = run(HOOKCTL, "verify", "--secret", "notMySecret", "--header",
              f"X-Webhook-Signature: {SEED_SIG}", "--body-file", str(body), "--tolerance", "0")
    assert bad.returncode == 1 and "does not match" in bad.stderr
    stale = run(HOOKCTL, "verify", "--secret", "mySecret", "--header",
                f"X-Webhook-Signature: {SEED_SIG}", "--body-file", str(body))
    assert stale.returncode == 1 and "old" in stale.stderr, "2019 is past the 300 s tolerance"


def test_publish_refuses_a_bad_event_naming_the_field(env):
    out = env.hookctl("publish", "--file", "-", "--topic", env.topic,
                      stdin='{"jobStatus":"Complete","flowId":"7"}')
    assert out.returncode == 2
    assert out.stderr.strip() == "hookctl: jobId: required"


def test_secrets_are_masked_everywhere(env, receiver):
    secret = "a-very-secret-value-1234"
    task_id = env.create_task({"flowId": f"m-{env.tag}", "url": receiver.url("/m"),
                               "secret": secret})
    for args in (("webhooks", "get", task_id), ("webhooks", "list", "--flow", f"m-{env.tag}")):
        out = env.hookctl(*args)
        assert out.returncode == 0
        assert secret not in out.stdout and "****1234" in out.stdout
    bad = env.hookctl("webhooks", "create", "--file", "-",
                      stdin=json.dumps({"flowId": "x", "url": "ftp://h", "secret": secret}))
    assert bad.returncode == 2 and secret not in bad.stderr
    assert bad.stderr.strip() == "hookctl: url: scheme must be http or https"
