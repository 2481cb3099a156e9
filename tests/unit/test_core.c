/* core: configuration precedence and errors, the event loop's timers and fds, buffers, the
 * metrics mechanism. */
#include <criterion/criterion.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hk_core.h"

/* HOOKD_TOPIC_PREFIX (contract, "Additions"): "hookd." by default; the ingress topic follows it
 * unless set; a prefix that would make a topic's name illegal (a character Kafka refuses, or so
 * long that <prefix>retry.<15-character delay> passes 249) is refused naming the variable or the
 * flag, and is not echoed. */
Test(config, topic_prefix_names_every_topic_and_is_checked)
{
    hk_config cfg;
    hk_error err = {0};
    char *argv[] = {"hookd", NULL};
    char *none[] = {NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, none, NULL, NULL), HK_OK);
    cr_assert_str_eq(cfg.topic_prefix, "hookd.");
    cr_assert_str_eq(cfg.ingress_topic, "hookd.inbound");
    hk_config_free(&cfg);
    char *env[] = {"HOOKD_TOPIC_PREFIX=staging_eu-1.", NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, env, NULL, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(cfg.ingress_topic, "staging_eu-1.inbound");
    char topic[HK_TOPIC_NAME_MAX + 1];
    hk_topic_name(topic, cfg.topic_prefix, HK_TOPIC_DLQ);
    cr_assert_str_eq(topic, "staging_eu-1.dlq");
    hk_config_free(&cfg);
    char *both[] = {"HOOKD_TOPIC_PREFIX=a.", "HOOKD_INGRESS_TOPIC=mine", NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, both, NULL, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(cfg.ingress_topic, "mine", "an explicit topic wins");
    hk_config_free(&cfg);
    char *flag_argv[] = {"hookctl", "--topic-prefix", "b-", NULL};
    cr_assert_eq(hk_config_load(&cfg, 3, flag_argv, env, NULL, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(cfg.topic_prefix, "b-", "the flag wins");
    cr_assert_str_eq(cfg.ingress_topic, "b-inbound");
    hk_config_free(&cfg);

    char longest[300] = "HOOKD_TOPIC_PREFIX=";
    memset(longest + strlen(longest), 'p', HK_TOPIC_PREFIX_MAX);
    char *at_max[] = {longest, NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, at_max, NULL, &err), HK_OK, "%s", err.msg);
    hk_config_free(&cfg);
    strcat(longest, "p");
    char *bad[] = {"HOOKD_TOPIC_PREFIX=", "HOOKD_TOPIC_PREFIX=a/b.", "HOOKD_TOPIC_PREFIX=x y",
                   "HOOKD_TOPIC_PREFIX=\x01", longest};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *e[] = {bad[i], NULL};
        cr_assert_eq(hk_config_load(&cfg, 1, argv, e, NULL, &err), HK_EINVAL, "%s", bad[i]);
        cr_assert_str_eq(err.field, "HOOKD_TOPIC_PREFIX");
        cr_assert_not_null(strstr(err.msg, "228"), "%s", err.msg);
        cr_assert_null(strchr(err.msg, '\x01'));
    }
    char *bad_flag[] = {"hookd", "--topic-prefix=a:b", NULL};
    cr_assert_eq(hk_config_load(&cfg, 2, bad_flag, none, NULL, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "--topic-prefix");
}

/* hookd-ingress's settings (contract, "Inbound"): defaults, bounds naming the variable, and each
 * program's --help listing only its own settings (and the shared Redis and log ones). */
Test(config, ingress_settings_and_each_programs_help)
{
    hk_config cfg;
    char *argv[] = {"hookd-ingress", NULL};
    char *envp[] = {NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, envp, NULL, NULL), HK_OK);
    cr_assert_str_eq(cfg.ingress_listen, "0.0.0.0:8090");
    cr_assert_str_eq(cfg.ingress_topic, "hookd.inbound");
    cr_assert_eq(cfg.ingress_max_body, 10 * 1024 * 1024);
    cr_assert_eq(cfg.ingress_ack_timeout_ms, 5000);
    hk_config_free(&cfg);
    char *bad[] = {"HOOKD_INGRESS_MAX_BODY=12", NULL};
    hk_error err = {0};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, bad, NULL, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "HOOKD_INGRESS_MAX_BODY");
    /* a topic's name is Kafka's rule, checked before anything connects; never echoed */
    char *topics[][2] = {{"HOOKD_INGRESS_TOPIC=", "HOOKD_INGRESS_TOPIC"},
                         {"HOOKD_INGRESS_TOPIC=in bound", "HOOKD_INGRESS_TOPIC"},
                         {"HOOKD_INGRESS_TOPIC=a\x01b", "HOOKD_INGRESS_TOPIC"},
                         {"HOOKD_INGRESS_TOPIC=..", "HOOKD_INGRESS_TOPIC"},
                         {"HOOKD_TOPICS=job-events,a/b", "HOOKD_TOPICS"}};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        char *env[] = {topics[i][0], NULL};
        cr_assert_eq(hk_config_load(&cfg, 1, argv, env, NULL, &err), HK_EINVAL, "%s", env[0]);
        cr_assert_str_eq(err.field, topics[i][1]);
        cr_assert_null(strchr(err.msg, '\x01'));
    }
    char *fine[] = {"HOOKD_INGRESS_TOPIC=team_a.inbound-v2", NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, fine, NULL, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(cfg.ingress_topic, "team_a.inbound-v2");
    hk_config_free(&cfg);
    struct {
        unsigned program;
        const char *has[3], *lacks[2];
    } helps[] = {
        {HK_CONFIG_INGRESS,
         {"HOOKD_INGRESS_LISTEN", "HOOKD_REDIS_URL", "HOOKD_LOG_LEVEL"},
         {"HOOKD_MAX_INFLIGHT", "HOOKD_RETRY_DELAYS"}},
        {HK_CONFIG_HOOKD,
         {"HOOKD_MAX_INFLIGHT", "HOOKD_REDIS_URL", "HOOKD_RETRY_DELAYS"},
         {"HOOKD_INGRESS_LISTEN", "HOOKD_INGRESS_TOPIC"}},
    };
    for (size_t h = 0; h < 2; h++) {
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        hk_config_print_help(out, helps[h].program);
        fclose(out);
        for (size_t k = 0; k < 3; k++)
            cr_assert(strstr(text, helps[h].has[k]), "%u lists %s", helps[h].program,
                      helps[h].has[k]);
        for (size_t k = 0; k < 2; k++)
            cr_assert_null(strstr(text, helps[h].lacks[k]), "%u lists %s", helps[h].program,
                           helps[h].lacks[k]);
        free(text);
    }
}

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
    char *argv[] = {"hookd", "--max-inflight", "10",
                    "extra", "--topics=a, b",  "--kafka-security-protocol=SASL_SSL",
                    NULL};
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

Test(config, service_link_names_are_recognised_by_shape)
{
    /* what Kubernetes makes for Services named hookd-kafka-bootstrap, hookd-kafka and x */
    static const char *const links[] = {
        "HOOKD_KAFKA_BOOTSTRAP_SERVICE_HOST",
        "HOOKD_KAFKA_BOOTSTRAP_SERVICE_PORT",
        "HOOKD_KAFKA_BOOTSTRAP_SERVICE_PORT_TCP_CLIENTS",
        "HOOKD_KAFKA_BOOTSTRAP_PORT",
        "HOOKD_KAFKA_BOOTSTRAP_PORT_9092_TCP",
        "HOOKD_KAFKA_BOOTSTRAP_PORT_9092_TCP_PROTO",
        "HOOKD_KAFKA_BOOTSTRAP_PORT_9092_TCP_PORT",
        "HOOKD_KAFKA_BOOTSTRAP_PORT_9092_TCP_ADDR",
        "HOOKD_KAFKA_SERVICE_HOST",
        "HOOKD_KAFKA_PORT",
        "HOOKD_KAFKA_PORT_53_UDP_ADDR",
        "HOOKD_KAFKA_X_PORT_80_SCTP",
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        cr_assert(hk_config_is_service_link(links[i], strlen(links[i])), "%s", links[i]);
    /* properties, and names that only look close */
    static const char *const not_links[] = {
        "HOOKD_KAFKA_BOOTSTRAP_SERVERS",
        "HOOKD_KAFKA_SASL_KERBEROS_SERVICE_NAME",
        "HOOKD_KAFKA_SECURITY_PROTOCOL",
        "HOOKD_KAFKA_SERVICE_PORT_", /* no port name after it */
        "HOOKD_KAFKA_PORT_9092",     /* no protocol */
        "HOOKD_KAFKA_PORT_TCP",      /* no port number */
        "HOOKD_KAFKA_PORT_9092_HTTP",
        "HOOKD_KAFKA_PORT_9092_TCP_HOST",
        "HOOKD_KAFKA_REPORT_X",
        "_PORT",
        "_SERVICE_HOST",
    };
    for (size_t i = 0; i < sizeof not_links / sizeof not_links[0]; i++)
        cr_assert_not(hk_config_is_service_link(not_links[i], strlen(not_links[i])), "%s",
                      not_links[i]);
}

Test(config, service_links_are_skipped_and_named_once)
{
    hk_config cfg;
    char *argv[] = {"hookd", NULL};
    char *envp[] = {"HOOKD_KAFKA_BOOTSTRAP_SERVERS=k:1",
                    "HOOKD_KAFKA_BOOTSTRAP_SERVICE_HOST=10.96.0.7",
                    "HOOKD_KAFKA_BOOTSTRAP_PORT=tcp://10.96.0.7:9092",
                    "HOOKD_KAFKA_BOOTSTRAP_PORT_9092_TCP_ADDR=10.96.0.7",
                    "HOOKD_KAFKA_SASL_USERNAME=hookd",
                    NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, envp, NULL, NULL), HK_OK);
    cr_assert_str_eq(hk_config_kafka(&cfg, "bootstrap.servers"), "k:1");
    cr_assert_str_eq(hk_config_kafka(&cfg, "sasl.username"), "hookd");
    cr_assert_null(hk_config_kafka(&cfg, "bootstrap.service.host"));
    cr_assert_null(hk_config_kafka(&cfg, "bootstrap.port"));
    cr_assert_null(hk_config_kafka(&cfg, "bootstrap.port.9092.tcp.addr"));
    cr_assert_eq(cfg.service_links_len, 3);
    cr_assert_str_eq(cfg.service_links,
                     "HOOKD_KAFKA_BOOTSTRAP_SERVICE_HOST, HOOKD_KAFKA_BOOTSTRAP_PORT, "
                     "HOOKD_KAFKA_BOOTSTRAP_PORT_9092_TCP_ADDR");
    /* one warning line with the count and the names, never a value */
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    hk_log_set_stream(out);
    hk_config_log_service_links(&cfg);
    fflush(out);
    hk_log_set_stream(stdout);
    fclose(out);
    cr_assert(strchr(text, '\n') == text + strlen(text) - 1, "one line: %s", text);
    cr_assert(strstr(text, "\"event\":\"config.service_links\""), "%s", text);
    cr_assert(strstr(text, "\"ignored\":3"), "%s", text);
    cr_assert(strstr(text, "HOOKD_KAFKA_BOOTSTRAP_PORT_9092_TCP_ADDR"), "%s", text);
    cr_assert_null(strstr(text, "10.96.0.7"), "%s", text);
    free(text);
    hk_config_free(&cfg);

    /* none: no line */
    char *envp2[] = {"HOOKD_KAFKA_BOOTSTRAP_SERVERS=k:1", NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, envp2, NULL, NULL), HK_OK);
    cr_assert_eq(cfg.service_links_len, 0);
    text = NULL;
    out = open_memstream(&text, &size);
    hk_log_set_stream(out);
    hk_config_log_service_links(&cfg);
    fflush(out);
    hk_log_set_stream(stdout);
    fclose(out);
    cr_assert_eq(size, 0);
    free(text);
    hk_config_free(&cfg);
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
    /* every byte at every place of a longer string (the eight-bytes-at-a-time path) */
    for (int c = 1; c < 256; c++)
        for (size_t at = 0; at < 20; at++) {
            char text[20], rep[6];
            memset(text, 'a', sizeof text);
            text[at] = (char)c;
            size_t n = hk_json_escape_byte((unsigned char)c, rep);
            b.len = 0;
            hk_buf_json_escape(&b, text, sizeof text);
            cr_assert_eq(b.len, 19 + (n ? n : 1), "byte %d at %zu", c, at);
            cr_assert(n ? memcmp(b.data + at, rep, n) == 0 : b.data[at] == (char)c, "byte %d", c);
            cr_assert_eq(hk_json_plain_prefix(text, sizeof text), n ? at : sizeof text);
            /* UTF-8: a NUL or a lone byte >= 0x80 anywhere is refused, ASCII is not */
            bool ascii = c < 0x80;
            cr_assert_eq(hk_utf8_valid(text, sizeof text), ascii, "byte %d at %zu", c, at);
        }
    const char two[] = "aaaaaaa\xc3\xa9"
                       "aaaaaaaa"; /* é across the first eight bytes' end */
    cr_assert(hk_utf8_valid(two, sizeof two - 1));
    const char nul[17] = "aaaaaaaaaaaa\0aaa";
    cr_assert_not(hk_utf8_valid(nul, 16));
    /* every byte: escaped as hk_json_escape_byte says, or copied as it is */
    for (int c = 1; c < 256; c++) {
        char one[3] = {'x', (char)c, 'y'}, rep[6];
        size_t n = hk_json_escape_byte((unsigned char)c, rep);
        b.len = 0;
        hk_buf_json_escape(&b, one, 3);
        cr_assert_eq(b.len, 2 + (n ? n : 1), "byte %d", c);
        cr_assert(n ? memcmp(b.data + 1, rep, n) == 0 : b.data[1] == (char)c, "byte %d", c);
    }
    hk_buf_free(&b);
    char m[16];
    hk_secret_mask("mySecretValue1234", m);
    cr_assert_str_eq(m, "****1234");
    hk_secret_mask("short", m);
    cr_assert_str_eq(m, "****");
    hk_error err;
    hk_error_set(&err, HK_EINVAL, "url", "bad\nvalue");
    cr_assert_str_eq(err.msg, "url: bad value");
    hk_error_set(&err, HK_EINVAL, "url", "got '%s'", "\x01\x1b[31m\tx\x7f");
    cr_assert_str_eq(err.msg, "url: got '??[31m?x?'");
}

/* A module of the test's own: core declares no metric, so its tests bring theirs. */
#define DELIVERIES "test_deliveries_total"
#define DELIVERIES_HELP "Attempts by outcome."
static const uint64_t bounds_ms[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};
#define HOSTS_SHOWN 50
static struct test_metrics {
    hk_counter poison;
    hk_counter deliveries_succeeded, deliveries_timeout;
    hk_counter_vec retries_published;
    hk_histogram duration;
    hk_gauge in_flight;
    hk_gauge build_info;
    hk_metric_set host_queue_depth, consumer_lag;
} test_metrics = {
    .poison = HK_COUNTER("test_events_poison_total", NULL, "Events refused as poison."),
    .deliveries_succeeded = HK_COUNTER(DELIVERIES, "outcome=\"succeeded\"", DELIVERIES_HELP),
    .deliveries_timeout = HK_COUNTER(DELIVERIES, "outcome=\"timeout\"", DELIVERIES_HELP),
    .retries_published =
        HK_COUNTER_VEC("test_retries_published_total", "tier", "Records published, by tier."),
    .duration = HK_HISTOGRAM_MS("test_attempt_duration_seconds", "Attempt latency.", bounds_ms),
    .in_flight = HK_GAUGE("test_requests_in_flight", NULL, "Requests being sent now."),
    .build_info = HK_GAUGE_AT("test_build_info", "version=\"" HK_VERSION "\"", "Always 1.", 1),
    .host_queue_depth = HK_METRIC_SET("test_host_queue_depth", "Requests waiting, per host.",
                                      HK_MERGE_SUM, HOSTS_SHOWN),
    .consumer_lag = HK_METRIC_SET("test_consumer_lag", "Lag per partition.", HK_MERGE_MAX, 0),
};
HK_METRICS_REGISTER("test", test_metrics)

static char *render(void)
{
    hk_buf b = {0};
    hk_metrics_render(&b);
    return b.data;
}

Test(metrics, render_prometheus)
{
    hk_counter_add(&test_metrics.poison, 3);
    char *text = render();
    cr_assert(strstr(text, "# HELP test_events_poison_total Events refused as poison.\n"
                           "# TYPE test_events_poison_total counter\n"
                           "test_events_poison_total 3\n"),
              "%s", text);
    free(text);
}

/* A member may carry several label pairs (an attempt's outcome and status class); a pair
 * without its comma, or with an empty value, is refused. process_* follow every family once
 * the program asked for them, read from /proc. */
static struct pairs_metrics {
    hk_counter a, b;
} pairs_metrics = {
    .a = HK_COUNTER("test_pairs_total", "outcome=\"http_error\",status_class=\"5xx\"", "Pairs."),
    .b = HK_COUNTER("test_pairs_total", "outcome=\"http_error\",status_class=\"410\"", "Pairs."),
};
static struct bad_pairs_metrics {
    hk_counter a;
} bad_pairs[] = {{.a = HK_COUNTER("test_bad_pairs_total", "a=\"x\"b=\"y\"", "Bad.")},
                 {.a = HK_COUNTER("test_bad_pairs_total", "a=\"x\",b=\"\"", "Bad.")},
                 {.a = HK_COUNTER("test_bad_pairs_total", "a=\"x\",", "Bad.")}};

Test(metrics, label_pairs_and_the_process_collector)
{
    static hk_metric_module m = {"pairs", &pairs_metrics, sizeof pairs_metrics, NULL};
    hk_error err = {0};
    cr_assert(hk_metrics_register(&m, &err), "%s", err.msg);
    for (size_t i = 0; i < 3; i++) {
        static hk_metric_module bad[3];
        bad[i] = (hk_metric_module){"bad_pairs", &bad_pairs[i], sizeof bad_pairs[i], NULL};
        cr_expect_not(hk_metrics_register(&bad[i], &err), "label %zu taken", i);
    }
    hk_counter_add(&pairs_metrics.b, 2);
    char *text = render();
    cr_assert(strstr(text, "test_pairs_total{outcome=\"http_error\",status_class=\"5xx\"} 0\n"
                           "test_pairs_total{outcome=\"http_error\",status_class=\"410\"} 2\n"),
              "%s", text);
    cr_assert_null(strstr(text, "process_"), "off unless asked for");
    free(text);
    hk_metrics_include_process();
    text = render();
    /* each sample's line (after its HELP and TYPE lines, which name it too) */
    const char *names[] = {"\nprocess_cpu_seconds_total ",
                           "\nprocess_open_fds ",
                           "\nprocess_max_fds ",
                           "\nprocess_resident_memory_bytes ",
                           "\nprocess_start_time_seconds ",
                           "\nprocess_virtual_memory_bytes "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *at = strstr(text, names[i]);
        cr_assert_not_null(at, "%s missing:\n%s", names[i], text);
        double v = strtod(at + strlen(names[i]), NULL);
        if (i == 0) /* a process this young may not have used a whole clock tick */
            cr_expect_geq(v, 0, "%s", names[i] + 1);
        else
            cr_expect_gt(v, 0, "%s", names[i] + 1);
    }
    const char *start = strstr(text, "\nprocess_start_time_seconds ");
    double started = strtod(start + strlen("\nprocess_start_time_seconds "), NULL);
    double ago = (double)time(NULL) - started;
    cr_expect(ago > -5 && ago < 300, "started %.0f s ago", ago);
    free(text);
}

Test(metrics, a_labelled_family_has_one_help_and_every_series)
{
    hk_counter_add(&test_metrics.deliveries_timeout, 2);
    const char *tiers[] = {"5s", "5m"};
    hk_counter_vec_set_labels(&test_metrics.retries_published, tiers, 2);
    hk_counter_vec_add(&test_metrics.retries_published, 1, 4);
    hk_counter_vec_add(&test_metrics.retries_published, HK_COUNTER_VEC_MAX, 1); /* ignored */
    char *text = render();
    cr_assert(strstr(text, "# HELP test_deliveries_total Attempts by outcome.\n"
                           "# TYPE test_deliveries_total counter\n"
                           "test_deliveries_total{outcome=\"succeeded\"} 0\n"
                           "test_deliveries_total{outcome=\"timeout\"} 2\n"),
              "one HELP per family, every member from the start: %s", text);
    cr_assert(strstr(text, "# TYPE test_retries_published_total counter\n"
                           "test_retries_published_total{tier=\"5s\"} 0\n"
                           "test_retries_published_total{tier=\"5m\"} 4\n"),
              "%s", text);
    cr_assert(strstr(text, "test_build_info{version=\"" HK_VERSION "\"} 1\n"));
    cr_assert(strstr(text, "# TYPE test_requests_in_flight gauge\ntest_requests_in_flight 0\n"));
    free(text);
}

Test(metrics, families_are_sorted_by_name_and_render_the_same_twice)
{
    char *text = render(), *again = render();
    cr_assert_str_eq(text, again, "a stable order");
    char prev[128] = "";
    size_t families = 0;
    for (char *p = text; (p = strstr(p, "# TYPE ")); p++) {
        char name[128];
        cr_assert_eq(sscanf(p, "# TYPE %127s", name), 1);
        cr_assert_gt(strcmp(name, prev), 0, "%s after %s", name, prev);
        snprintf(prev, sizeof prev, "%s", name);
        families++;
    }
    cr_assert_eq(families, 10, "this file's two modules: %s", text);
    free(text);
    free(again);
}

Test(metrics, the_histogram_is_cumulative_and_counts_every_observation)
{
    hk_histogram_observe_ms(&test_metrics.duration, 3);     /* <= 5 ms */
    hk_histogram_observe_ms(&test_metrics.duration, 5);     /* <= 5 ms: bounds are inclusive */
    hk_histogram_observe_ms(&test_metrics.duration, 700);   /* <= 1 s */
    hk_histogram_observe_ms(&test_metrics.duration, 60000); /* +Inf only */
    char *text = render();
    const char *h = "test_attempt_duration_seconds";
    char want[128];
    snprintf(want, sizeof want, "# TYPE %s histogram\n%s_bucket{le=\"0.005\"} 2\n", h, h);
    cr_assert(strstr(text, want), "%s", text);
    snprintf(want, sizeof want, "%s_bucket{le=\"0.5\"} 2\n", h);
    cr_assert(strstr(text, want));
    snprintf(want, sizeof want, "%s_bucket{le=\"1\"} 3\n", h);
    cr_assert(strstr(text, want));
    snprintf(want, sizeof want, "%s_bucket{le=\"30\"} 3\n", h);
    cr_assert(strstr(text, want));
    snprintf(want, sizeof want, "%s_bucket{le=\"+Inf\"} 4\n", h);
    cr_assert(strstr(text, want));
    snprintf(want, sizeof want, "%s_sum 60.708\n%s_count 4\n", h, h);
    cr_assert(strstr(text, want));
    free(text);
}

Test(metrics, published_sets_are_merged_escaped_and_capped)
{
    hk_metric_source *a = hk_metric_source_create(&test_metrics.host_queue_depth);
    hk_metric_source *c = hk_metric_source_create(&test_metrics.host_queue_depth);
    hk_metric_sample s[HOSTS_SHOWN + 5] = {0};
    for (int i = 0; i < HOSTS_SHOWN + 5; i++) {
        char host[64];
        snprintf(host, sizeof host, "https://h%02d.example:443", i);
        hk_metric_sample_label(&s[i], "host", host);
        s[i].value = i + 1;
    }
    hk_metric_source_publish(a, s, HOSTS_SHOWN + 5);
    hk_metric_sample odd = {0};
    hk_metric_sample_label(&odd, "host", "http://a\"b\\c\n:80");
    odd.value = 1000;
    hk_metric_sample same = {0};
    hk_metric_sample_label(&same, "host", "https://h00.example:443");
    same.value = 500; /* another loop's queue for h00: summed with the first */
    hk_metric_sample two[] = {odd, same};
    hk_metric_source_publish(c, two, 2);

    hk_metric_source *lag1 = hk_metric_source_create(&test_metrics.consumer_lag);
    hk_metric_source *lag2 = hk_metric_source_create(&test_metrics.consumer_lag);
    hk_metric_sample l = {0};
    hk_metric_sample_label(&l, "topic", "t");
    hk_metric_sample_label(&l, "partition", "0");
    l.value = 7;
    hk_metric_source_publish(lag1, &l, 1);
    l.value = 9; /* the same partition from two consumers, during a rebalance: the larger */
    hk_metric_source_publish(lag2, &l, 1);

    char *text = render();
    cr_assert(strstr(text, "# TYPE test_host_queue_depth gauge\n"
                           "test_host_queue_depth{host=\"http://a\\\"b\\\\c\\n:80\"} 1000\n"),
              "the deepest first: %s", text);
    cr_assert(strstr(text, "test_host_queue_depth{host=\"https://h00.example:443\"} 501\n"));
    cr_assert(strstr(text, "test_host_queue_depth{host=\"https://h54.example:443\"} 55\n"));
    cr_assert_null(strstr(text, "h01.example"), "beyond the 50 deepest");
    size_t hosts = 0;
    for (char *p = text; (p = strstr(p, "\ntest_host_queue_depth{")); p++)
        hosts++;
    cr_assert_eq(hosts, HOSTS_SHOWN);
    cr_assert(strstr(text, "test_consumer_lag{topic=\"t\",partition=\"0\"} 9\n"));
    free(text);

    hk_metric_source_destroy(a);
    hk_metric_source_destroy(c);
    hk_metric_source_destroy(lag1);
    hk_metric_source_destroy(lag2);
    text = render();
    cr_assert_null(strstr(text, "test_host_queue_depth{"), "a destroyed source vanishes");
    cr_assert_null(strstr(text, "test_consumer_lag{"));
    cr_assert(strstr(text, "# TYPE test_consumer_lag gauge\n"), "the family stays");
    free(text);
}

/* A second module, registered before main like every module, never counted in: each of its
 * members is in the scrape at 0 from the start, its family's HELP and TYPE once. */
static struct other_metrics {
    hk_counter ok, failed;
    hk_gauge up;
} other_metrics = {
    .ok = HK_COUNTER("test_other_total", "result=\"ok\"", "Other results."),
    .failed = HK_COUNTER("test_other_total", "result=\"failed\"", "Other results."),
    .up = HK_GAUGE("test_other_up", NULL, "Other is up."),
};
HK_METRICS_REGISTER("other", other_metrics)

Test(metrics, a_module_renders_its_zero_valued_members_from_the_start)
{
    char *text = render();
    cr_assert(strstr(text, "# HELP test_other_total Other results.\n"
                           "# TYPE test_other_total counter\n"
                           "test_other_total{result=\"ok\"} 0\n"
                           "test_other_total{result=\"failed\"} 0\n"
                           "# HELP test_other_up Other is up.\n"
                           "# TYPE test_other_up gauge\n"
                           "test_other_up 0\n"),
              "%s", text);
    free(text);
}

/* Blocks registration refuses, each with its refusal. Refused blocks add nothing: their good
 * families (test_refused_*) never render. */
static struct {
    hk_counter dup;
    hk_counter mine;
} other_help = {
    .dup = HK_COUNTER("test_other_up", NULL, "Another HELP for the same name."),
    .mine = HK_COUNTER("test_refused_1", NULL, "Mine."),
};
static struct {
    hk_gauge dup;
} same_help = {
    .dup = HK_GAUGE("test_other_up", NULL, "Other is up."), /* same HELP: still another module */
};
static struct {
    hk_counter a, b;
} help_differs = {
    .a = HK_COUNTER("test_refused_2", "k=\"a\"", "One."),
    .b = HK_COUNTER("test_refused_2", "k=\"b\"", "Two."),
};
static struct {
    hk_counter a, b;
} same_label = {
    .a = HK_COUNTER("test_refused_3", "k=\"a\"", "One."),
    .b = HK_COUNTER("test_refused_3", "k=\"a\"", "One."),
};
static struct {
    hk_counter a, b;
} unlabelled = {
    .a = HK_COUNTER("test_refused_4", NULL, "One."),
    .b = HK_COUNTER("test_refused_4", NULL, "One."),
};
static struct {
    hk_counter a;
    hk_gauge b;
} kinds_differ = {
    .a = HK_COUNTER("test_refused_5", "k=\"a\"", "One."),
    .b = HK_GAUGE("test_refused_5", "k=\"b\"", "One."),
};
static struct {
    hk_counter a, forgotten, c;
} forgotten = {
    .a = HK_COUNTER("test_refused_6", NULL, "One."),
    .c = HK_COUNTER("test_refused_7", NULL, "Three."),
};
static struct {
    hk_counter a;
} bad_name = {.a = HK_COUNTER("test refused", NULL, "One.")};
static struct {
    hk_counter a;
} no_help = {.a = HK_COUNTER("test_refused_8", NULL, "")};
static struct {
    hk_counter a;
} bad_label = {.a = HK_COUNTER("test_refused_9", "k=a", "One.")};
static const uint64_t unsorted_ms[] = {10, 5};
static struct {
    hk_histogram h;
} bad_bounds = {.h = HK_HISTOGRAM_MS("test_refused_10", "One.", unsorted_ms)};

Test(metrics, registration_refuses_colliding_or_malformed_families)
{
    static hk_metric_module refused[] = {
        {"other_help", &other_help, sizeof other_help, NULL},
        {"same_help", &same_help, sizeof same_help, NULL},
        {"help_differs", &help_differs, sizeof help_differs, NULL},
        {"same_label", &same_label, sizeof same_label, NULL},
        {"unlabelled", &unlabelled, sizeof unlabelled, NULL},
        {"kinds_differ", &kinds_differ, sizeof kinds_differ, NULL},
        {"forgotten", &forgotten, sizeof forgotten, NULL},
        {"bad_name", &bad_name, sizeof bad_name, NULL},
        {"no_help", &no_help, sizeof no_help, NULL},
        {"bad_label", &bad_label, sizeof bad_label, NULL},
        {"bad_bounds", &bad_bounds, sizeof bad_bounds, NULL},
        {"twice", &other_metrics, sizeof other_metrics, NULL},
    };
    static const char *const why[] = {
        "test_other_up (other_help, other): declared by two modules, with another HELP",
        "test_other_up (same_help, other): declared by two modules",
        "test_refused_2 (help_differs, help_differs): members of one family with another HELP",
        "test_refused_3 (same_label, same_label): members of one family need distinct labels",
        "test_refused_4 (unlabelled, unlabelled): members of one family need distinct labels",
        "test_refused_5 (kinds_differ, kinds_differ): members of one family of another type",
        "forgotten: the member at byte 40 is not a metric (left out of the initialiser?)",
        "bad_name: the member at byte 0 has no valid name",
        "no_help: test_refused_8 has no HELP text",
        ("bad_label: test_refused_9: the label k=a is not key=\"value\" pairs of a counter or "
         "gauge"),
        "bad_bounds: test_refused_10: 1 to 15 ascending bounds",
        "twice: registered twice",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        hk_error err = {0};
        cr_expect_not(hk_metrics_register(&refused[i], &err), "%s was taken", refused[i].module);
        cr_expect_str_eq(err.msg, why[i], "%s", refused[i].module);
    }
    char *text = render();
    cr_assert_null(strstr(text, "test_refused"), "a refused block adds nothing: %s", text);
    cr_assert(strstr(text, "# HELP test_other_up Other is up.\n"), "the first one stays");
    free(text);

    static struct {
        hk_counter a;
    } fine = {.a = HK_COUNTER("test_registered_late_total", NULL, "Late.")};
    static hk_metric_module late = {"late", &fine, sizeof fine, NULL};
    hk_error err;
    cr_assert(hk_metrics_register(&late, &err), "%s", err.msg);
    text = render();
    cr_assert(strstr(text, "test_registered_late_total 0\n"));
    free(text);
}

/* What HK_METRICS_REGISTER does with a refusal, before main: a programming error, so the
 * program (or test) that links the module stops at once. */
Test(metrics, a_refused_module_stops_the_program, .signal = SIGABRT)
{
    static hk_metric_module again = {"again", &other_metrics, sizeof other_metrics, NULL};
    hk__metrics_register_or_abort(&again);
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

/* HOOKD_DISABLE_AFTER: a duration read by hk_parse_duration, 0 for never, 5d by default; a bad
 * value is refused naming the variable (or the flag), and hookd's --help lists it. */
Test(config, disable_after)
{
    hk_config cfg;
    hk_error err = {0};
    char *argv[] = {"hookd", NULL};
    char *none[] = {NULL};
    cr_assert_eq(hk_config_load(&cfg, 1, argv, none, NULL, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(cfg.disable_after_ms, 5ull * 86400000);
    hk_config_free(&cfg);
    struct {
        const char *env;
        uint64_t ms;
    } good[] = {{"HOOKD_DISABLE_AFTER=0", 0},
                {"HOOKD_DISABLE_AFTER=2s", 2000},
                {"HOOKD_DISABLE_AFTER=12h", 12ull * 3600000},
                {"HOOKD_DISABLE_AFTER=250ms", 250}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *env[] = {(char *)good[i].env, NULL};
        cr_assert_eq(hk_config_load(&cfg, 1, argv, env, NULL, &err), HK_OK, "%s", good[i].env);
        cr_assert_eq(cfg.disable_after_ms, good[i].ms, "%s", good[i].env);
        hk_config_free(&cfg);
    }
    const char *bad[] = {
        "HOOKD_DISABLE_AFTER=5x",   "HOOKD_DISABLE_AFTER=",   "HOOKD_DISABLE_AFTER=-1s",
        "HOOKD_DISABLE_AFTER=1.5d", "HOOKD_DISABLE_AFTER=00", "HOOKD_DISABLE_AFTER=5 d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *env[] = {(char *)bad[i], NULL};
        cr_assert_eq(hk_config_load(&cfg, 1, argv, env, NULL, &err), HK_EINVAL, "%s", bad[i]);
        cr_assert_str_eq(err.field, "HOOKD_DISABLE_AFTER");
    }
    char *flag[] = {"hookd", "--disable-after", "3m", NULL};
    cr_assert_eq(hk_config_load(&cfg, 3, flag, none, NULL, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(cfg.disable_after_ms, 180000);
    hk_config_free(&cfg);
    char *badflag[] = {"hookd", "--disable-after=7w", NULL};
    cr_assert_eq(hk_config_load(&cfg, 2, badflag, none, NULL, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "--disable-after");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    hk_config_print_help(out, HK_CONFIG_HOOKD);
    fclose(out);
    cr_assert_not_null(strstr(text, "HOOKD_DISABLE_AFTER"));
    cr_assert_not_null(strstr(text, "(default: 5d)"));
    free(text);
}
