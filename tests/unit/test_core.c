/* core: configuration precedence and errors, the event loop's timers and fds, buffers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
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

Test(metrics, a_labelled_family_has_one_help_and_every_series)
{
    hk_metric_add(HK_M_DELIVERIES_TIMEOUT, 2);
    hk_metric_add(HK_M_DLQ_GONE, 1);
    const char *tiers[] = {"5s", "5m"};
    hk_metrics_set_tiers(tiers, 2);
    hk_metric_tier_add(HK_TIER_PUBLISHED, 1, 4);
    hk_buf b = {0};
    hk_metrics_render(&b);
    const char *help = "# HELP hookd_deliveries_total ";
    char *first = strstr(b.data, help);
    cr_assert(first);
    cr_assert_null(strstr(first + 1, help), "one HELP per family");
    cr_assert(strstr(b.data, "hookd_deliveries_total{outcome=\"succeeded\"} 0\n"));
    cr_assert(strstr(b.data, "hookd_deliveries_total{outcome=\"timeout\"} 2\n"));
    cr_assert(strstr(b.data, "hookd_dlq_records_total{reason=\"endpoint_gone\"} 1\n"));
    cr_assert(strstr(b.data, "hookd_retries_published_total{tier=\"5s\"} 0\n"));
    cr_assert(strstr(b.data, "hookd_retries_published_total{tier=\"5m\"} 4\n"));
    cr_assert(strstr(b.data, "hookd_build_info{version=\""));
    hk_buf_free(&b);
}

Test(metrics, the_histogram_is_cumulative_and_counts_every_observation)
{
    hk_metric_observe_attempt(3);     /* <= 5 ms */
    hk_metric_observe_attempt(5);     /* <= 5 ms: bounds are inclusive */
    hk_metric_observe_attempt(700);   /* <= 1 s */
    hk_metric_observe_attempt(60000); /* +Inf only */
    hk_buf b = {0};
    hk_metrics_render(&b);
    const char *h = "hookd_delivery_attempt_duration_seconds";
    char want[128];
    snprintf(want, sizeof want, "%s_bucket{le=\"0.005\"} 2\n", h);
    cr_assert(strstr(b.data, want), "%s", b.data);
    snprintf(want, sizeof want, "%s_bucket{le=\"0.5\"} 2\n", h);
    cr_assert(strstr(b.data, want));
    snprintf(want, sizeof want, "%s_bucket{le=\"1\"} 3\n", h);
    cr_assert(strstr(b.data, want));
    snprintf(want, sizeof want, "%s_bucket{le=\"30\"} 3\n", h);
    cr_assert(strstr(b.data, want));
    snprintf(want, sizeof want, "%s_bucket{le=\"+Inf\"} 4\n", h);
    cr_assert(strstr(b.data, want));
    snprintf(want, sizeof want, "%s_sum 60.708\n%s_count 4\n", h, h);
    cr_assert(strstr(b.data, want));
    hk_buf_free(&b);
}

Test(metrics, published_sets_are_merged_escaped_and_capped)
{
    hk_metric_source *a = hk_metric_source_create(HK_SET_HOST_QUEUE);
    hk_metric_source *c = hk_metric_source_create(HK_SET_HOST_QUEUE);
    hk_metric_sample s[HK_METRIC_MAX_HOSTS + 5] = {0};
    for (int i = 0; i < HK_METRIC_MAX_HOSTS + 5; i++) {
        char host[64];
        snprintf(host, sizeof host, "https://h%02d.example:443", i);
        hk_metric_sample_label(&s[i], "host", host);
        s[i].value = i + 1;
    }
    hk_metric_source_publish(a, s, HK_METRIC_MAX_HOSTS + 5);
    hk_metric_sample odd = {0};
    hk_metric_sample_label(&odd, "host", "http://a\"b\\c\n:80");
    odd.value = 1000;
    hk_metric_sample same = {0};
    hk_metric_sample_label(&same, "host", "https://h00.example:443");
    same.value = 500; /* another loop's queue for h00: summed with the first */
    hk_metric_sample two[] = {odd, same};
    hk_metric_source_publish(c, two, 2);

    hk_metric_source *lag1 = hk_metric_source_create(HK_SET_CONSUMER_LAG);
    hk_metric_source *lag2 = hk_metric_source_create(HK_SET_CONSUMER_LAG);
    hk_metric_sample l = {0};
    hk_metric_sample_label(&l, "topic", "t");
    hk_metric_sample_label(&l, "partition", "0");
    l.value = 7;
    hk_metric_source_publish(lag1, &l, 1);
    l.value = 9; /* the same partition from two consumers, during a rebalance: the larger */
    hk_metric_source_publish(lag2, &l, 1);

    hk_buf b = {0};
    hk_metrics_render(&b);
    cr_assert(strstr(b.data, "hookd_host_queue_depth{host=\"http://a\\\"b\\\\c\\n:80\"} 1000\n"),
              "%s", b.data);
    cr_assert(strstr(b.data, "hookd_host_queue_depth{host=\"https://h00.example:443\"} 501\n"));
    cr_assert(strstr(b.data, "hookd_host_queue_depth{host=\"https://h54.example:443\"} 55\n"));
    cr_assert_null(strstr(b.data, "h01.example"), "beyond the 50 deepest");
    size_t hosts = 0;
    for (char *p = b.data; (p = strstr(p, "\nhookd_host_queue_depth{")); p++)
        hosts++;
    cr_assert_eq(hosts, HK_METRIC_MAX_HOSTS);
    cr_assert(strstr(b.data, "hookd_kafka_consumer_lag{topic=\"t\",partition=\"0\"} 9\n"));
    hk_buf_free(&b);

    hk_metric_source_destroy(a);
    hk_metric_source_destroy(c);
    hk_metric_source_destroy(lag1);
    hk_metric_source_destroy(lag2);
    b = (hk_buf){0};
    hk_metrics_render(&b);
    cr_assert_null(strstr(b.data, "hookd_host_queue_depth{"), "a destroyed source vanishes");
    cr_assert_null(strstr(b.data, "hookd_kafka_consumer_lag{"));
    hk_buf_free(&b);
}

Test(log, fields_are_strings_or_numbers_and_escaped)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    hk_log_set_stream(mem);
    hk_log_field f[] = {HK_STR("jobId", "j\"1"), HK_NUM("attempt", 3), HK_STR("none", NULL)};
    HK_LOGF(HK_LOG_WARN, "delivery.failed", f, "failed %d", 7);
    HK_LOGF(HK_LOG_DEBUG, "hidden", f, "below the level"); /* the default level is info */
    hk_log_set_stream(NULL);
    fclose(mem);
    cr_assert(strstr(text, "\"level\":\"warn\",\"event\":\"delivery.failed\",\"msg\":\"failed 7\","
                           "\"jobId\":\"j\\\"1\",\"attempt\":3,\"none\":\"\"}\n"),
              "%s", text);
    cr_assert_null(strstr(text, "hidden"));
    free(text);
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

/* Found by tests/fuzz (fuzz_render's reference renderer): a buffer that was never appended to,
 * or got an empty printf, handed over memory without its NUL. */
Test(util, an_empty_buffer_is_an_empty_string)
{
    hk_buf b = {0};
    char *s = hk_buf_take(&b);
    cr_assert_not_null(s);
    cr_assert_eq(s[0], '\0');
    free(s);

    hk_buf_printf(&b, "%s", "");
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.data[0], '\0');
    s = hk_buf_take(&b);
    cr_assert_eq(s[0], '\0');
    free(s);
}

/* Found by tests/fuzz (fuzz_duration): an offset carried 9999-12-31T23:59:59 into year 10000,
 * which hk_format_time writes with five digits and hk_parse_time then refuses. */
Test(util, parse_time_stays_within_four_digit_years)
{
    uint64_t ms = 0;
    cr_assert(hk_parse_time("9999-12-31T23:59:59.999Z", &ms));
    cr_assert_eq(ms, 253402300799999ull);
    cr_assert(hk_parse_time("9999-12-31T23:59:59.999+00:08", &ms));
    cr_assert_not(hk_parse_time("9999-12-31T23:59:59.9999-00:08", &ms));
    cr_assert_not(hk_parse_time("9999-12-31T23:59:59-00:01", &ms));
}
