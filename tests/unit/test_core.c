/* core: configuration precedence and errors, the event loop's timers and fds, buffers. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "hk_core.h"

Test(config, defaults_match_the_contract)
{
    hk_config cfg;
    char *argv[] = {"hookd", NULL};
    char *envp[] = {NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, envp, NULL, NULL), HK_OK);
    cr_assert_str_eq(cfg.topics[0], "job-events");
    cr_assert_str_eq(cfg.redis_url, "redis://localhost:6379/0");
    cr_assert_str_eq(cfg.redis_prefix, "hookd:");
    cr_assert_str_eq(cfg.retry_delays, "5s,5m,30m,2h,5h,10h");
    cr_assert_eq(cfg.retry_max_attempts, 8);
    cr_assert_eq(cfg.http_timeout_ms, 30000);
    cr_assert_eq(cfg.max_inflight, 1024);
    cr_assert_eq(cfg.max_inflight_per_host, 32);
    cr_assert_eq(cfg.max_webhooks_per_flow, 50);
    cr_assert_eq(cfg.threads, 1);
    cr_assert_str_eq(cfg.listen, "0.0.0.0:8080");
    cr_assert_null(cfg.api_token);
    cr_assert_eq(cfg.log_level, HK_LOG_INFO);
    cr_assert_str_eq(hk_config_kafka(&cfg, "bootstrap.servers"), "localhost:9092");
    cr_assert_str_eq(hk_config_kafka(&cfg, "group.id"), "hookd");
    hk_config_free(&cfg);
}

Test(config, env_then_flags_win)
{
    hk_config cfg;
    char *argv[] = {"hookd", "--max-inflight", "10", "extra", "--topics=a, b",
                    "--kafka-security-protocol=SASL_SSL", NULL};
    char *envp[] = {"HOOKD_MAX_INFLIGHT=99", "HOOKD_KAFKA_BOOTSTRAP_SERVERS=k:1",
                    "HOOKD_LOG_LEVEL=debug", "PATH=/bin", NULL};
    int rest = 0;
    cr_assert_eq(hk_config_load(&cfg, 6, argv, envp, &rest, NULL), HK_OK);
    cr_assert_eq(cfg.max_inflight, 10);
    cr_assert_eq(cfg.max_inflight_per_host, 10, "per host never above the total");
    cr_assert_eq(cfg.topics_len, 2);
    cr_assert_str_eq(cfg.topics[1], "b");
    cr_assert_str_eq(hk_config_kafka(&cfg, "bootstrap.servers"), "k:1");
    cr_assert_str_eq(hk_config_kafka(&cfg, "security.protocol"), "SASL_SSL");
    cr_assert_eq(cfg.log_level, HK_LOG_DEBUG);
    cr_assert_eq(rest, 2);
    cr_assert_str_eq(argv[1], "extra");
    hk_config_free(&cfg);
}

Test(config, bad_values_name_the_variable_or_flag)
{
    hk_config cfg;
    hk_error err = {0};
    char *argv[] = {"hookd", NULL};
    char *envp[] = {"HOOKD_HTTP_TIMEOUT_MS=0", NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, envp, NULL, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "HOOKD_HTTP_TIMEOUT_MS");

    char *argv2[] = {"hookd", "--max-inflight=lots", NULL};
    char *envp2[] = {NULL};
    cr_assert_eq(hk_config_load(&cfg, 2, argv2, envp2, NULL, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "--max-inflight");
    cr_assert(strchr(err.msg, '\n') == NULL);

    char *argv3[] = {"hookd", "--log-level", NULL};
    cr_assert_eq(hk_config_load(&cfg, 2, argv3, envp2, NULL, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "--log-level");

    char *envp4[] = {"HOOKD_THREADS=65", NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, envp4, NULL, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "HOOKD_THREADS");
    char *envp5[] = {"HOOKD_THREADS=0", NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, envp5, NULL, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "HOOKD_THREADS");
}

Test(config, secrets_never_in_errors)
{
    hk_config cfg;
    hk_error err = {0};
    char *argv[] = {"hookd", "--retry-max-attempts=hunter2secret", NULL};
    char *envp[] = {"HOOKD_API_TOKEN=tok_supersecret", NULL};
    cr_assert_eq(hk_config_load(&cfg, 2, argv, envp, NULL, &err), HK_EINVAL);
    cr_assert(strstr(err.msg, "tok_supersecret") == NULL);
}

static void count_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    (*(int *)arg)++;
}

Test(loop, timers_fire_once_in_order_and_can_be_stopped)
{
    hk_loop *loop = hk_loop_create();
    int a = 0, b = 0;
    hk_timer *ta = hk_timer_create(loop, count_timer, &a);
    hk_timer *tb = hk_timer_create(loop, count_timer, &b);
    hk_timer_start(ta, 10);
    hk_timer_start(tb, 10);
    hk_timer_stop(tb);
    uint64_t start = hk_now_ms();
    while (a == 0 && hk_now_ms() - start < 1000)
        hk_loop_run_once(loop, 100);
    cr_assert_eq(a, 1);
    cr_assert_eq(b, 0);
    cr_assert(hk_now_ms() - start >= 10);
    hk_loop_run_once(loop, 30);
    cr_assert_eq(a, 1, "one-shot");
    hk_timer_destroy(ta);
    hk_timer_destroy(tb);
    hk_loop_destroy(loop);
}

static void on_read(hk_loop *loop, int fd, unsigned events, void *arg)
{
    char buf[16];
    cr_assert(events & HK_IO_READ);
    cr_assert_eq(read(fd, buf, sizeof buf), 3);
    (*(int *)arg)++;
    hk_loop_stop(loop);
}

Test(loop, fd_readiness_dispatches_and_stop_ends_run)
{
    hk_loop *loop = hk_loop_create();
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int hits = 0;
    cr_assert_eq(hk_loop_io(loop, fds[0], HK_IO_READ, on_read, &hits), HK_OK);
    cr_assert_eq(write(fds[1], "abc", 3), 3);
    hk_loop_run(loop);
    cr_assert_eq(hits, 1);
    cr_assert(hk_loop_stopping(loop));
    hk_loop_io(loop, fds[0], 0, NULL, NULL);
    close(fds[0]);
    close(fds[1]);
    hk_loop_destroy(loop);
}

Test(util, json_escape_and_mask)
{
    hk_buf b = {0};
    hk_buf_json_escape(&b, "a\"b\\c\nd\x01", 8);
    cr_assert_str_eq(b.data, "a\\\"b\\\\c\\nd\\u0001");
    hk_buf_free(&b);
    char m[16];
    hk_secret_mask("mySecretValue1234", m);
    cr_assert_str_eq(m, "****1234");
    hk_secret_mask("short", m);
    cr_assert_str_eq(m, "****");
    hk_error err;
    hk_error_set(&err, HK_EINVAL, "url", "bad\nvalue");
    cr_assert_str_eq(err.msg, "url: bad value");
}

Test(metrics, render_prometheus)
{
    hk_metric_add(HK_M_EVENTS_POISON, 3);
    hk_buf b = {0};
    hk_metrics_render(&b);
    cr_assert(strstr(b.data, "# TYPE hookd_events_poison_total counter\nhookd_events_poison_total 3\n"));
    hk_buf_free(&b);
}

Test(util, format_time_is_rfc3339_utc_with_milliseconds)
{
    char out[32];
    hk_format_time(1795341600000ull, out); /* 2026-11-22T10:00:00Z */
    cr_assert_str_eq(out, "2026-11-22T10:00:00.000Z");
    hk_format_time(1795341600123ull, out); /* same second: the cached date part */
    cr_assert_str_eq(out, "2026-11-22T10:00:00.123Z");
    hk_format_time(1795341601007ull, out);
    cr_assert_str_eq(out, "2026-11-22T10:00:01.007Z");
    hk_format_time(1795341600999ull, out); /* back a second */
    cr_assert_str_eq(out, "2026-11-22T10:00:00.999Z");
}
