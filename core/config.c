/*
 * config.c — the contract's configuration table: defaults, then HOOKD_* environment variables,
 * then --flags (each variable's flag is its name without HOOKD_, lower-case, '_' as '-').
 * One table drives parsing and --help, so the two cannot drift apart.
 */
#include "hk_core.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    OPT_STR,
    OPT_INT,
    OPT_LIST,
    OPT_LEVEL,
    OPT_TOPIC,
    OPT_PREFIX,
    OPT_ONOFF,
    OPT_DURATION
} opt_kind;

typedef struct opt {
    const char *env;
    const char *flag;
    opt_kind kind;
    size_t offset;
    long min, max;
    const char *def;
    const char *help;
    bool secret;
    unsigned programs; /* HK_CONFIG_*: whose --help lists it (every program reads every one) */
} opt;

#define STR(field) OPT_STR, offsetof(hk_config, field), 0, 0
#define INT(field, lo, hi) OPT_INT, offsetof(hk_config, field), lo, hi
#define ONOFF(field) OPT_ONOFF, offsetof(hk_config, field), 0, 0
#define BOTH (HK_CONFIG_HOOKD | HK_CONFIG_HOOKCTL)
#define ALL (BOTH | HK_CONFIG_INGRESS)

static const opt options[] = {
    {"HOOKD_TOPICS", "--topics", OPT_LIST, offsetof(hk_config, topics), 0, 0, "job-events",
     "comma-separated input topics", false, BOTH},
    {"HOOKD_REDIS_URL", "--redis-url", STR(redis_url), "redis://localhost:6379/0",
     "Redis, redis://[user[:password]@]host[:port][/db] (percent-encoded; a user is an ACL "
     "user); password here or in HOOKD_REDIS_PASSWORD; no rediss://: TLS is a sidecar's",
     false, ALL},
    {"HOOKD_REDIS_PASSWORD", "--redis-password", STR(redis_password), NULL,
     "Redis password (overrides the URL's)", true, ALL},
    {"HOOKD_REDIS_PREFIX", "--redis-prefix", STR(redis_prefix), "hookd:", "key prefix", false, ALL},
    {"HOOKD_RETRY_DELAYS", "--retry-delays", STR(retry_delays), "5s,5m,30m,2h,5h,10h",
     "retry tiers", false, BOTH},
    {"HOOKD_RETRY_MAX_ATTEMPTS", "--retry-max-attempts", INT(retry_max_attempts, 1, 100), "8",
     "default attempts in all", false, BOTH},
    {"HOOKD_HTTP_TIMEOUT_MS", "--http-timeout-ms", INT(http_timeout_ms, 1, 300000), "30000",
     "default request timeout", false, BOTH},
    {"HOOKD_MAX_INFLIGHT", "--max-inflight", INT(max_inflight, 1, 100000), "1024",
     "requests in flight per worker", false, BOTH},
    {"HOOKD_MAX_INFLIGHT_PER_HOST", "--max-inflight-per-host",
     INT(max_inflight_per_host, 1, 100000), "32",
     "per destination host, so one slow host cannot take every slot", false, BOTH},
    {"HOOKD_MAX_QUEUE_PER_HOST", "--max-queue-per-host", INT(max_queue_per_host, 0, 1000000), "256",
     "deliveries that may wait for a slow host's slots; more go to the first retry tier, "
     "deferred (not a failed attempt); 0: no bound",
     false, BOTH},
    {"HOOKD_TOPIC_PARTITIONS", "--topic-partitions", INT(topic_partitions, -1, 100000), "-1",
     "partitions of the topics hookd creates when missing (retry tiers, <prefix>dlq, "
     "<prefix>deliveries, <prefix>events; hookd-ingress: <prefix>inbound); -1: the broker's "
     "default",
     false, ALL},
    {"HOOKD_TOPIC_PREFIX", "--topic-prefix", OPT_PREFIX, offsetof(hk_config, topic_prefix), 0, 0,
     "hookd.",
     "the start of every topic hookd and hookd-ingress write: <prefix>dlq, <prefix>deliveries, "
     "<prefix>retry.<delay>, <prefix>events, <prefix>inbound; deployments sharing a Kafka "
     "cluster each take their own",
     false, ALL},
    {"HOOKD_TOPIC_REPLICATION", "--topic-replication", INT(topic_replication, -1, 100), "-1",
     "replication factor of the topics hookd creates; -1: the broker's default", false, ALL},
    {"HOOKD_THREADS", "--threads", INT(threads, 1, 64), "1",
     "event loops (threads). hookd: each with its own Kafka consumer, producer and HTTP engine, "
     "the in-flight caps split among them. hookd-ingress: each with its own listener on the "
     "port (SO_REUSEPORT), producer and Redis connection",
     false, ALL},
    {"HOOKD_MAX_WEBHOOKS_PER_FLOW", "--max-webhooks-per-flow",
     INT(max_webhooks_per_flow, 1, 100000), "50", "webhook tasks allowed per flow", false, BOTH},
    {"HOOKD_ALLOW_NETWORKS", "--allow-networks", STR(allow_networks), "",
     "CIDRs exempt from the private-address guard", false, BOTH},
    {"HOOKD_MAX_BODY_BYTES", "--max-body-bytes", INT(max_body_bytes, 1024, 64 * 1024 * 1024),
     "1048576",
     "largest rendered request body; a delivery whose body would be longer is dead-lettered as "
     "invalid",
     false, BOTH},
    {"HOOKD_HISTORY_BODIES", "--history-bodies", ONOFF(history_bodies), "on",
     "on or off: whether a job's history keeps the first 4 KiB of each request body sent "
     "(the response's status, headers and first 1 KiB are kept either way)",
     false, BOTH},
    {"HOOKD_HTTP_PROXY", "--http-proxy", STR(http_proxy), NULL,
     "proxy for deliveries (http://host:port); the target is still checked by the "
     "private-address guard first. The environment's http_proxy, https_proxy and ALL_PROXY are "
     "never used",
     true, BOTH},
    {"HOOKD_LISTEN", "--listen", STR(listen), "0.0.0.0:8080", "health, metrics and admin API",
     false, BOTH},
    {"HOOKD_PROBE_LISTEN", "--probe-listen", STR(probe_listen), "0.0.0.0:8081",
     "/healthz and /readyz alone, on a listener no API client can starve (the kubelet's probes); "
     "empty: off",
     false, BOTH},
    {"HOOKD_API_TOKEN", "--api-token", STR(api_token), NULL,
     "bearer token for the admin API (unset: admin API off); several, comma-separated, are each "
     "accepted (a rotation: the current one first)",
     true, BOTH},
    {"HOOKD_API_LISTEN", "--api-listen", STR(api_listen), NULL,
     "serve the admin API (/v1) on this address alone, no longer on HOOKD_LISTEN (which keeps "
     "/healthz, /readyz and /metrics); unset: on HOOKD_LISTEN",
     false, HK_CONFIG_HOOKD},
    {"HOOKD_API_URL", "--api-url", STR(api_url), NULL,
     "hookctl: the admin API's base URL (http://hookd:8080); every verb with an API route goes "
     "through it, with HOOKD_API_TOKEN, and needs no Redis or Kafka",
     false, HK_CONFIG_HOOKCTL},
    {"HOOKD_API_TOKEN_FILE", "--api-token-file", STR(api_token_file), NULL,
     "hookctl: read the API token from this file (wins over HOOKD_API_TOKEN; keeps it out of "
     "the command line)",
     false, HK_CONFIG_HOOKCTL},
    {"HOOKD_INGRESS_LISTEN", "--ingress-listen", STR(ingress_listen), "0.0.0.0:8090",
     "hookd-ingress: /in/<endpointId>, health, readiness and metrics", false, HK_CONFIG_INGRESS},
    {"HOOKD_INGRESS_TOPIC", "--ingress-topic", OPT_TOPIC, offsetof(hk_config, ingress_topic), 0, 0,
     "<prefix>inbound", "hookd-ingress: where accepted requests go, keyed by flowId", false,
     HK_CONFIG_INGRESS},
    {"HOOKD_INGRESS_MAX_BODY", "--ingress-max-body", INT(ingress_max_body, 1024, 1 << 30),
     "10485760", "hookd-ingress: largest request body; more is refused with 413 before it is read",
     false, HK_CONFIG_INGRESS},
    {"HOOKD_INGRESS_ACK_TIMEOUT_MS", "--ingress-ack-timeout-ms",
     INT(ingress_ack_timeout_ms, 100, 120000), "5000",
     "hookd-ingress: how long a request waits for Kafka to acknowledge its record; then 503 "
     "with Retry-After, and the provider sends it again",
     false, HK_CONFIG_INGRESS},
    {"HOOKD_INGRESS_BODY_TIMEOUT_MS", "--ingress-body-timeout-ms",
     INT(ingress_body_timeout_ms, 1000, 600000), "30000",
     "hookd-ingress: how long a request's body may take to arrive once its headers are in; a "
     "connection still sending it then is cut (the headers have 5 s)",
     false, HK_CONFIG_INGRESS},
    {"HOOKD_SHUTDOWN_GRACE_MS", "--shutdown-grace-ms", INT(shutdown_grace_ms, 0, 3600000), "20000",
     "on SIGTERM or SIGINT, the time to exit: deliveries in flight may finish until its "
     "last quarter (at most 5 s), then the rest go to their retry tier, offsets are "
     "committed and hookd exits 0",
     false, ALL},
    {"HOOKD_DISABLE_AFTER", "--disable-after", OPT_DURATION, offsetof(hk_config, disable_after_ms),
     0, 0, "5d",
     "disable a webhook task whose deliveries have all failed finally (dead-lettered) for "
     "longer than this (5d, 12h, 30m, 2s); any delivered attempt resets the clock; the task "
     "is disabled with its reason and time and task.disabled goes to <prefix>events; 0: never",
     false, HK_CONFIG_HOOKD},
    {"HOOKD_LOG_LEVEL", "--log-level", OPT_LEVEL, offsetof(hk_config, log_level), 0, 0, "info",
     "debug, info, warn or error; JSON lines on stdout", false, ALL},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

static const hk_kv kafka_defaults[] = {
    {"bootstrap.servers", "localhost:9092"},
    {"group.id", "hookd"},
};

static void kafka_set(hk_config *cfg, const char *key, const char *value)
{
    for (size_t i = 0; i < cfg->kafka_len; i++) {
        if (strcmp(cfg->kafka[i].key, key) == 0) {
            free(cfg->kafka[i].value);
            cfg->kafka[i].value = hk_strdup(value);
            return;
        }
    }
    cfg->kafka = hk_xrealloc(cfg->kafka, (cfg->kafka_len + 1) * sizeof *cfg->kafka);
    cfg->kafka[cfg->kafka_len].key = hk_strdup(key);
    cfg->kafka[cfg->kafka_len].value = hk_strdup(value);
    cfg->kafka_len++;
}

/* "BOOTSTRAP_SERVERS" or "bootstrap-servers" -> "bootstrap.servers" */
static char *kafka_key(const char *raw)
{
    char *key = hk_strdup(raw);
    for (char *p = key; *p; p++) {
        if (*p == '_' || *p == '-')
            *p = '.';
        else
            *p = (char)tolower((unsigned char)*p);
    }
    return key;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

/* Kafka's rule for a topic's name: 1 to 249 of A-Z a-z 0-9 . _ -, and not "." or "..". */
static bool topic_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' && *c != '-')
            return false;
    return true;
}

#define TOPIC_RULE "1 to 249 of A-Z a-z 0-9 . _ - (a Kafka topic's name)"
#define PREFIX_RULE                                                                                \
    "1 to 228 of A-Z a-z 0-9 . _ - (so that <prefix>retry.<delay> stays a Kafka topic's name)"
_Static_assert(HK_TOPIC_PREFIX_MAX == 228, "PREFIX_RULE says 228");

void hk_topic_name(char out[HK_TOPIC_NAME_MAX + 1], const char *prefix, const char *suffix)
{
    snprintf(out, HK_TOPIC_NAME_MAX + 1, "%s%s", prefix, suffix);
}

static int set_option(hk_config *cfg, const opt *o, const char *value, const char *source,
                      hk_error *err)
{
    char *base = (char *)cfg + o->offset;
    switch (o->kind) {
    case OPT_TOPIC: /* the value is not echoed: it may hold any byte */
        if (!topic_name_ok(value))
            return hk_error_set(err, HK_EINVAL, source, "must be " TOPIC_RULE);
        /* fall through */
    case OPT_PREFIX:
        if (o->kind == OPT_PREFIX &&
            (strlen(value) > HK_TOPIC_PREFIX_MAX || !*value || !topic_name_ok(value)))
            return hk_error_set(err, HK_EINVAL, source, "must be " PREFIX_RULE);
        /* fall through */
    case OPT_STR: {
        char **slot = (char **)base;
        free(*slot);
        *slot = hk_strdup(value);
        return HK_OK;
    }
    case OPT_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < o->min || v > o->max) {
            /* A secret option is never an integer, so echoing the value is safe here. */
            return hk_error_set(err, HK_EINVAL, source,
                                "must be an integer from %ld to %ld, got '%s'", o->min, o->max,
                                value);
        }
        if (o->offset == offsetof(hk_config, http_timeout_ms))
            *(long *)base = v;
        else
            *(int *)base = (int)v;
        return HK_OK;
    }
    case OPT_LIST: {
        char ***slot = (char ***)base;
        size_t *len = &cfg->topics_len;
        free_list(*slot, *len);
        *slot = NULL;
        *len = 0;
        char *copy = hk_strdup(value), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (isspace((unsigned char)*tok))
                tok++;
            char *e = tok + strlen(tok);
            while (e > tok && isspace((unsigned char)e[-1]))
                *--e = '\0';
            if (!*tok)
                continue;
            if (!topic_name_ok(tok)) {
                free(copy);
                return hk_error_set(err, HK_EINVAL, source, "each topic must be " TOPIC_RULE);
            }
            *slot = hk_xrealloc(*slot, (*len + 1) * sizeof **slot);
            (*slot)[(*len)++] = hk_strdup(tok);
        }
        free(copy);
        if (*len == 0)
            return hk_error_set(err, HK_EINVAL, source, "must name at least one topic");
        return HK_OK;
    }
    case OPT_ONOFF:
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
            return hk_error_set(err, HK_EINVAL, source, "must be on or off, got '%s'", value);
        *(bool *)base = strcmp(value, "on") == 0;
        return HK_OK;
    case OPT_DURATION: /* "0", or what hk_parse_duration reads; a bad value is not echoed */
        if (strcmp(value, "0") == 0) {
            *(uint64_t *)base = 0;
            return HK_OK;
        }
        if (!hk_parse_duration(value, (uint64_t *)base))
            return hk_error_set(err, HK_EINVAL, source,
                                "must be a duration (digits and one unit of ms, s, m, h or d: "
                                "5d, 30m) or 0 for never");
        return HK_OK;
    case OPT_LEVEL:
        if (hk_log_level_parse(value, (hk_log_level *)base) != HK_OK)
            return hk_error_set(err, HK_EINVAL, source,
                                "must be debug, info, warn or error, got '%s'", value);
        return HK_OK;
    }
    return HK_EINVAL;
}

static bool ends_with(const char *s, size_t len, const char *suffix, size_t *rest)
{
    size_t n = strlen(suffix);
    if (len <= n || memcmp(s + len - n, suffix, n) != 0)
        return false; /* a suffix alone is no name: something must come before it */
    *rest = len - n;
    return true;
}

/* Whether s[0, len) ends in "_PORT_<digits>_<TCP|UDP|SCTP>" with a name before it. */
static bool port_proto_tail(const char *s, size_t len)
{
    static const char *const protos[] = {"_TCP", "_UDP", "_SCTP"};
    size_t rest = 0;
    bool proto = false;
    for (size_t i = 0; i < sizeof protos / sizeof protos[0] && !proto; i++)
        proto = ends_with(s, len, protos[i], &rest);
    if (!proto)
        return false;
    size_t digits = rest;
    while (digits > 0 && isdigit((unsigned char)s[digits - 1]))
        digits--;
    return digits < rest && ends_with(s, digits, "_PORT_", &rest);
}

/* The names Kubernetes makes for a Service (see hk_core.h). No librdkafka property maps to one:
 * CONFIGURATION.md has none ending in .port, .service.host, .service.port or .port.<n>.<proto>,
 * and its one "service" property is sasl.kerberos.service.name. */
bool hk_config_is_service_link(const char *name, size_t len)
{
    size_t rest = 0;
    if (ends_with(name, len, "_SERVICE_HOST", &rest) ||
        ends_with(name, len, "_SERVICE_PORT", &rest) || ends_with(name, len, "_PORT", &rest))
        return true;
    for (size_t i = 1; i + 14 < len; i++) /* _SERVICE_PORT_<PORTNAME>, the port's name after it */
        if (memcmp(name + i, "_SERVICE_PORT_", 14) == 0)
            return true;
    if (port_proto_tail(name, len))
        return true;
    return (ends_with(name, len, "_PROTO", &rest) || ends_with(name, len, "_ADDR", &rest)) &&
           port_proto_tail(name, rest);
}

static void service_link_skip(hk_config *cfg, const char *name, size_t len)
{
    hk_buf b = {0};
    if (cfg->service_links)
        hk_buf_printf(&b, "%s, ", cfg->service_links);
    hk_buf_append(&b, name, len);
    free(cfg->service_links);
    cfg->service_links = hk_buf_take(&b);
    cfg->service_links_len++;
}

void hk_config_log_service_links(const hk_config *cfg)
{
    if (cfg->service_links_len == 0)
        return;
    hk_log_field f[] = {HK_NUM("ignored", cfg->service_links_len),
                        HK_STR("names", cfg->service_links)};
    HK_LOGF(HK_LOG_WARN, "config.service_links", f,
            "ignored %zu HOOKD_KAFKA_* variable(s) shaped like Kubernetes service links, not "
            "librdkafka properties: %s (set enableServiceLinks: false in the pod spec)",
            cfg->service_links_len, cfg->service_links);
}

static const opt *find_env(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strlen(options[i].env) == len && strncmp(options[i].env, name, len) == 0)
            return &options[i];
    return NULL;
}

static const opt *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strlen(options[i].flag) == len && strncmp(options[i].flag, name, len) == 0)
            return &options[i];
    return NULL;
}

int hk_config_load(hk_config *cfg, int argc, char **argv, char **envp, int *rest_argc,
                   hk_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    int rc;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        /* A default in <angle brackets> is derived once the rest is read (below). */
        if (options[i].def && options[i].def[0] != '<' &&
            (rc = set_option(cfg, &options[i], options[i].def, options[i].env, err)) != HK_OK)
            goto error;
    }
    for (size_t i = 0; i < sizeof kafka_defaults / sizeof kafka_defaults[0]; i++)
        kafka_set(cfg, kafka_defaults[i].key, kafka_defaults[i].value);

    for (char **e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, "HOOKD_", 6) != 0)
            continue;
        size_t nlen = (size_t)(eq - *e);
        if (nlen > 12 && strncmp(*e, "HOOKD_KAFKA_", 12) == 0) {
            if (hk_config_is_service_link(*e, nlen)) {
                service_link_skip(cfg, *e, nlen);
                continue;
            }
            char *raw = hk_strndup(*e + 12, nlen - 12);
            char *key = kafka_key(raw);
            kafka_set(cfg, key, eq + 1);
            free(raw);
            free(key);
            continue;
        }
        const opt *o = find_env(*e, nlen);
        if (o && (rc = set_option(cfg, o, eq + 1, o->env, err)) != HK_OK)
            goto error;
    }

    int out = 1;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        bool kafka = strncmp(arg, "--kafka-", 8) == 0 && nlen > 8;
        const opt *o = kafka ? NULL : find_flag(arg, nlen);
        if (!kafka && !o) {
            argv[out++] = arg;
            continue;
        }
        char flag[96];
        snprintf(flag, sizeof flag, "%.*s", (int)nlen, arg);
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                rc = hk_error_set(err, HK_EINVAL, flag, "needs a value");
                goto error;
            }
            value = argv[++i];
        }
        if (kafka) {
            char *key = kafka_key(flag + 8);
            kafka_set(cfg, key, value);
            free(key);
        } else if ((rc = set_option(cfg, o, value, flag, err)) != HK_OK) {
            goto error;
        }
    }
    if (out < argc)
        argv[out] = NULL;
    if (rest_argc)
        *rest_argc = out;
    if (cfg->max_inflight_per_host > cfg->max_inflight)
        cfg->max_inflight_per_host = cfg->max_inflight;
    if (!cfg->ingress_topic) { /* "<prefix>inbound": a prefix of at most 228 keeps it a name */
        char topic[HK_TOPIC_NAME_MAX + 1];
        hk_topic_name(topic, cfg->topic_prefix, HK_TOPIC_INBOUND);
        cfg->ingress_topic = hk_strdup(topic);
    }
    return HK_OK;
error:
    hk_config_free(cfg);
    return rc;
}

void hk_config_free(hk_config *cfg)
{
    if (!cfg)
        return;
    hk_kv_free(cfg->kafka, cfg->kafka_len);
    free(cfg->service_links);
    free_list(cfg->topics, cfg->topics_len);
    for (size_t i = 0; i < N_OPTIONS; i++) /* every string setting, from the one table */
        if (options[i].kind == OPT_STR || options[i].kind == OPT_TOPIC ||
            options[i].kind == OPT_PREFIX)
            free(*(char **)((char *)cfg + options[i].offset));
    memset(cfg, 0, sizeof *cfg);
}

const char *hk_config_kafka(const hk_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->kafka_len; i++)
        if (strcmp(cfg->kafka[i].key, key) == 0)
            return cfg->kafka[i].value;
    return NULL;
}

void hk_config_print_help(FILE *out, unsigned programs)
{
    fprintf(out, "Configuration (environment variable / flag, default):\n");
    fprintf(out, "  %-30s %s\n      %s\n", "HOOKD_KAFKA_<PROPERTY>", "--kafka-<property>=V",
            "any librdkafka property, '_' read as '.' (defaults: bootstrap.servers=localhost:9092,"
            " group.id=hookd)");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const opt *o = &options[i];
        if (!(o->programs & programs))
            continue;
        fprintf(out, "  %-30s %s (default: %s)\n      %s\n", o->env, o->flag,
                o->def && *o->def ? o->def : "unset", o->help);
    }
}
