/*
 * hk_core.h — the substrate of hookd, and core's whole public surface.
 *
 * core owns: result codes and one-line errors, JSON logging, buffers and small helpers, time,
 * configuration (environment and flags), the event loop (epoll + timers) and the metrics
 * mechanism (counters, gauges, a histogram, labelled sets, rendering: each module declares its
 * own families). It depends only on libc and pthreads; every other module builds on it and
 * nothing here knows about JSON documents, job events, tasks, Kafka, Redis or curl (the job
 * event and task model is model/, hk_model.h), nor names any metric.
 */
#ifndef HK_CORE_H
#define HK_CORE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef HK_VERSION
#define HK_VERSION "0.0.0"
#endif

/* ---------------------------------------------------------------- results and errors --- */

/* The small error vocabulary every module returns. */
enum {
    HK_OK = 0,
    HK_ERR = -1,       /* runtime failure (I/O, remote service) */
    HK_EINVAL = -2,    /* bad input: the hk_error names the field */
    HK_ENOTFOUND = -3, /* the thing asked for does not exist */
    HK_ELIMIT = -4,    /* a configured limit refused the request */
    HK_ENOMEM = -5,
    HK_ECONFLICT = -6, /* the request conflicts with what exists (a taken id, a disabled task) */
};

/* A one-line error that names the field or flag at fault. Never holds a secret. */
typedef struct hk_error {
    char field[64]; /* e.g. "trigger.event", "--max-inflight"; may be empty */
    char msg[320];  /* full one-line message, already including the field */
} hk_error;

/* Formats msg as "<field>: <fmt...>" (or just fmt when field is NULL/empty). err may be NULL.
 * Always returns rc, so callers can write `return hk_error_set(err, HK_EINVAL, "url", ...)`. */
int hk_error_set(hk_error *err, int rc, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---------------------------------------------------------------------------- logging --- */

typedef enum { HK_LOG_DEBUG = 0, HK_LOG_INFO, HK_LOG_WARN, HK_LOG_ERROR } hk_log_level;

int hk_log_level_parse(const char *s, hk_log_level *out); /* HK_OK or HK_EINVAL */
void hk_log_set_level(hk_log_level level);
bool hk_log_enabled(hk_log_level level);
/* Logs go to stdout by default; tests may redirect. The stream is borrowed. */
void hk_log_set_stream(FILE *stream);

/* An extra field of a log line: a string (str != NULL) or a number. Build them with HK_STR and
 * HK_NUM. */
typedef struct hk_log_field {
    const char *key;
    const char *str;
    long long num;
} hk_log_field;
#define HK_STR(k, v) ((hk_log_field){.key = (k), .str = (v) ? (v) : ""})
#define HK_NUM(k, n) ((hk_log_field){.key = (k), .num = (long long)(n)})

/* Writes one JSON line: {"ts":"...","level":"info","event":"<event>","msg":"<fmt...>"}
 * followed by the n extra fields (fields may be NULL when n is 0). Thread-safe. Never pass a
 * secret in any argument. */
void hk_log_write(hk_log_level level, const char *event, const hk_log_field *fields, size_t n,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define HK_LOG(level, event, ...)                                                                  \
    do {                                                                                           \
        if (hk_log_enabled(level))                                                                 \
            hk_log_write(level, event, NULL, 0, __VA_ARGS__);                                      \
    } while (0)
/* With fields: an array of hk_log_field, e.g. HK_LOGF(HK_LOG_WARN, "x", f, "msg %d", 1). */
#define HK_LOGF(level, event, fields, ...)                                                         \
    do {                                                                                           \
        if (hk_log_enabled(level))                                                                 \
            hk_log_write(level, event, fields, sizeof(fields) / sizeof((fields)[0]), __VA_ARGS__); \
    } while (0)
#define HK_DEBUG(event, ...) HK_LOG(HK_LOG_DEBUG, event, __VA_ARGS__)
#define HK_INFO(event, ...) HK_LOG(HK_LOG_INFO, event, __VA_ARGS__)
#define HK_WARN(event, ...) HK_LOG(HK_LOG_WARN, event, __VA_ARGS__)
#define HK_ERROR(event, ...) HK_LOG(HK_LOG_ERROR, event, __VA_ARGS__)

/* ---------------------------------------------------------------------- small helpers --- */

typedef struct hk_kv {
    char *key;
    char *value;
} hk_kv;

/* Frees n pairs and the array itself. Accepts NULL. */
void hk_kv_free(hk_kv *kv, size_t n);

/* strdup that aborts on OOM: allocation failure is not a recoverable outcome for a worker. */
char *hk_strdup(const char *s);
char *hk_strndup(const char *s, size_t n);
void *hk_xmalloc(size_t n);
void *hk_xcalloc(size_t n, size_t size);
void *hk_xrealloc(void *p, size_t n);

/* Growable byte buffer, always NUL-terminated. */
typedef struct hk_buf {
    char *data;
    size_t len;
    size_t cap;
} hk_buf;
void hk_buf_append(hk_buf *b, const void *data, size_t len);
void hk_buf_puts(hk_buf *b, const char *s);
void hk_buf_printf(hk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with JSON string escaping (no surrounding quotes). */
void hk_buf_json_escape(hk_buf *b, const char *s, size_t len);
/* The length of s's longest prefix that JSON writes in a string as it is (no '"', '\\' or byte
 * below 0x20). */
size_t hk_json_plain_prefix(const char *s, size_t len);
/* The JSON string escape of one byte into out ("\\n", "\\u001f", ...) and its length, or 0
 * when the byte stands as it is. */
size_t hk_json_escape_byte(unsigned char c, char out[6]);
/* Hands the data over (caller frees with free()) and resets b. Never NULL. */
char *hk_buf_take(hk_buf *b);
void hk_buf_free(hk_buf *b);

/* Monotonic and wall clocks in milliseconds. */
uint64_t hk_now_ms(void);
uint64_t hk_wall_ms(void);
/* RFC 3339 UTC with milliseconds, e.g. 2026-11-22T10:00:00.123Z. out must hold 32 bytes. */
void hk_format_time(uint64_t wall_ms, char out[32]);
/* Parses "2026-11-22T10:00:00Z", with optional fractional seconds and a "Z" or "+hh:mm"
 * offset, into wall-clock ms. False when it is not such a time. */
bool hk_parse_time(const char *text, uint64_t *wall_ms);
/* Parses a duration: digits then exactly one unit of ms, s, m, h or d ("5s", "24h"), nothing
 * else (no sign, no space, no fraction), positive and far from overflowing. False otherwise. */
bool hk_parse_duration(const char *text, uint64_t *ms);

/* True when the len bytes at s are well-formed UTF-8 text (RFC 3629: no overlong form, no
 * UTF-16 surrogate, nothing past U+10FFFF) and hold no NUL byte. */
bool hk_utf8_valid(const char *s, size_t len);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void hk_hex(const unsigned char *in, size_t len, char *out);
/* A hex digit's value (either case), or -1. */
int hk_hex_digit(char c);

/* Masks a secret for display: "****" plus its last 4 characters ("****" alone when short).
 * out must hold 16 bytes. */
void hk_secret_mask(const char *secret, char out[16]);

/* ------------------------------------------------------------------------- event loop --- */

/* One loop owns every fd and timer of a worker: Kafka queues, curl sockets, timers. */
typedef struct hk_loop hk_loop;
typedef struct hk_timer hk_timer;

enum { HK_IO_READ = 1u, HK_IO_WRITE = 2u, HK_IO_ERROR = 4u };

typedef void (*hk_io_cb)(hk_loop *loop, int fd, unsigned events, void *arg);
typedef void (*hk_timer_cb)(hk_loop *loop, void *arg);

hk_loop *hk_loop_create(void);
/* Destroys the loop; remaining timers are freed, fds are not closed. Accepts NULL. */
void hk_loop_destroy(hk_loop *loop);

/* Watches fd for events (HK_IO_READ|HK_IO_WRITE); replaces an earlier watch of the same fd.
 * events == 0 stops watching. Returns HK_OK or HK_ERR. */
int hk_loop_io(hk_loop *loop, int fd, unsigned events, hk_io_cb cb, void *arg);

/* Timers are one-shot; start() on a running timer re-arms it. The timer is owned by the caller
 * and freed with hk_timer_destroy (which also stops it). */
hk_timer *hk_timer_create(hk_loop *loop, hk_timer_cb cb, void *arg);
void hk_timer_start(hk_timer *t, uint64_t delay_ms);
void hk_timer_stop(hk_timer *t);
bool hk_timer_active(const hk_timer *t);
void hk_timer_destroy(hk_timer *t);

/* Runs one iteration: waits up to max_wait_ms (-1: until the next timer or fd), dispatches.
 * Returns the number of callbacks run, or HK_ERR. */
int hk_loop_run_once(hk_loop *loop, int max_wait_ms);
/* Runs until hk_loop_stop() is called (from a callback or a signal handler). */
void hk_loop_run(hk_loop *loop);
void hk_loop_stop(hk_loop *loop); /* async-signal-safe */
bool hk_loop_stopping(const hk_loop *loop);

/* ---------------------------------------------------------------------- configuration --- */

/* Everything the contract's configuration table names. Strings are owned by the config. */
typedef struct hk_config {
    hk_kv *kafka; /* librdkafka properties from HOOKD_KAFKA_* / --kafka-*, keys with dots */
    size_t kafka_len;
    /* HOOKD_KAFKA_* variables skipped as Kubernetes service links (hk_config_is_service_link):
     * how many, and their names (never their values), ", "-joined. */
    size_t service_links_len;
    char *service_links;
    char **topics;
    size_t topics_len;
    char *redis_url;
    char *redis_password; /* secret */
    char *redis_prefix;
    char *retry_delays;
    int retry_max_attempts;
    long http_timeout_ms;
    int max_inflight;
    int max_inflight_per_host;
    int max_queue_per_host; /* 0: unbounded */
    int threads; /* event loops (shards) in the worker */
    int topic_partitions;  /* for topics hookd creates; -1: broker default */
    int topic_replication; /* likewise */
    int max_webhooks_per_flow;
    char *allow_networks;
    int max_body_bytes; /* a rendered request body may be at most this long */
    bool history_bodies; /* HOOKD_HISTORY_BODIES: the history keeps request bodies */
    char *http_proxy;   /* secret (may hold credentials); NULL: no proxy, the environment's unused */
    char *listen;
    char *probe_listen; /* /healthz and /readyz on a listener of their own */
    char *ingress_listen;       /* hookd-ingress */
    char *topic_prefix;         /* HOOKD_TOPIC_PREFIX: "hookd." */
    char *ingress_topic;        /* hookd-ingress: <prefix>inbound unless set */
    int ingress_max_body;       /* hookd-ingress: bytes */
    int ingress_ack_timeout_ms; /* hookd-ingress */
    int ingress_body_timeout_ms; /* hookd-ingress */
    char *api_token; /* secret: one token or several, comma-separated (a rotation) */
    char *api_listen; /* NULL or "": the admin API on HOOKD_LISTEN; else there alone */
    char *api_url;        /* hookctl: the admin API's base URL; NULL: Redis and Kafka directly */
    char *api_token_file; /* hookctl: the token read from this file (wins over api_token) */
    int shutdown_grace_ms; /* SIGTERM: time for deliveries in flight to finish */
    uint64_t disable_after_ms; /* HOOKD_DISABLE_AFTER: failing that long disables; 0 never */
    hk_log_level log_level;
} hk_config;

/* Topic names: every topic hookd and hookd-ingress write is HOOKD_TOPIC_PREFIX ("hookd.")
 * followed by one of these (a retry tier's by "retry.<delay>", retry/). A prefix is at most
 * HK_TOPIC_PREFIX_MAX long so that the longest, "<prefix>retry.<delay of 15 characters>", stays
 * within Kafka's 249. */
#define HK_TOPIC_NAME_MAX 249
#define HK_TOPIC_PREFIX_MAX (HK_TOPIC_NAME_MAX - 6 - 15)
#define HK_TOPIC_DELIVERIES "deliveries"
#define HK_TOPIC_DLQ "dlq"
#define HK_TOPIC_EVENTS "events" /* operational events (task.disabled): published and read back */
#define HK_TOPIC_INBOUND "inbound"
/* "<prefix><suffix>" into out (HK_TOPIC_NAME_MAX + 1 bytes; cut there). */
void hk_topic_name(char out[HK_TOPIC_NAME_MAX + 1], const char *prefix, const char *suffix);

/* Fills cfg from defaults, then the environment (envp, NULL-terminated "K=V" strings), then
 * argv flags (--topics X, --topics=X, --kafka-bootstrap.servers=..., --max-inflight 10, ...).
 * Arguments that are not configuration flags are left in place and their count returned through
 * *rest_argc (argv is reordered so they come first after argv[0]). Returns HK_OK or HK_EINVAL
 * with err naming the variable or flag. */
int hk_config_load(hk_config *cfg, int argc, char **argv, char **envp, int *rest_argc,
                   hk_error *err);
void hk_config_free(hk_config *cfg);
/* Whether an environment variable's name (len bytes) has the shape of those Kubernetes gives
 * a pod for each Service of its namespace: <NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT,
 * <NAME>_SERVICE_PORT_<PORTNAME>, <NAME>_PORT, <NAME>_PORT_<n>_<TCP|UDP|SCTP> and that with
 * _PROTO, _PORT or _ADDR. hk_config_load skips such HOOKD_KAFKA_* variables (a Service named
 * hookd-kafka-bootstrap would otherwise become librdkafka's "bootstrap.service.host"). */
bool hk_config_is_service_link(const char *name, size_t len);
/* Logs, once, the HOOKD_KAFKA_* variables hk_config_load skipped as service links (one warning
 * line with their count and names); nothing when there were none. */
void hk_config_log_service_links(const hk_config *cfg);
/* Looks up a librdkafka property the config holds (NULL when absent). */
const char *hk_config_kafka(const hk_config *cfg, const char *key);
/* Which programs a setting is for: every program reads every HOOKD_* variable (one ConfigMap
 * may serve all), but each --help lists only its own. */
#define HK_CONFIG_HOOKD 1u
#define HK_CONFIG_HOOKCTL 2u
#define HK_CONFIG_INGRESS 4u
/* Prints the configuration table (variable, flag, default, meaning) for --help: the settings
 * of `programs` (HK_CONFIG_*). */
void hk_config_print_help(FILE *out, unsigned programs);

/* ---------------------------------------------------------------------------- metrics --- */

/* Metrics: the mechanism only. core declares no metric of its own: each module declares its
 * families in a struct of its own (struct hk_store_metrics in hk_store.h, ...), defines it in
 * one .c file with the HK_COUNTER/HK_GAUGE/... initialisers below, and registers that struct
 * with HK_METRICS_REGISTER. A handle is a member of that struct, in static storage:
 *
 *     hk_counter_add(&hk_store_metrics.history_written, 1);   // one relaxed atomic add
 *
 * A family is every member with the same name (hookd_deliveries_total); each member carries
 * the family's name, HELP text and its own label pair (outcome="succeeded"), so a labelled
 * family is one member per label value and every series exists, at 0, from the start.
 * hk_metrics_render() writes every registered family in the Prometheus text format: families
 * sorted by name, HELP and TYPE once each, members in their declaration order. Relaxed
 * atomics: metrics are read for dashboards, never to synchronise anything. */

typedef enum {
    HK_METRIC_COUNTER = 1, /* 0: a member left out of its struct's initialiser */
    HK_METRIC_GAUGE,
    HK_METRIC_HISTOGRAM,
    HK_METRIC_COUNTER_VEC,
    HK_METRIC_SET,
} hk_metric_kind;

/* What every metric object starts with. */
typedef struct hk_metric_head {
    hk_metric_kind kind;
    const char *name;  /* the family: "hookd_deliveries_total" */
    const char *help;  /* the family's HELP text: the same for each of its members */
    const char *label; /* this member's label pair, `outcome="succeeded"`, or NULL */
} hk_metric_head;

typedef struct hk_counter {
    hk_metric_head head;
    _Atomic uint64_t value;
} hk_counter;

typedef struct hk_gauge {
    hk_metric_head head;
    _Atomic int64_t value;
} hk_gauge;

/* label: NULL, or one `key="value"` pair for a member of a labelled family. */
#define HK_COUNTER(name, label, help) {{HK_METRIC_COUNTER, (name), (help), (label)}, 0}
#define HK_GAUGE(name, label, help) HK_GAUGE_AT(name, label, help, 0)
#define HK_GAUGE_AT(name, label, help, start) {{HK_METRIC_GAUGE, (name), (help), (label)}, (start)}

static inline void hk_counter_add(hk_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}
static inline uint64_t hk_counter_get(const hk_counter *c)
{
    return atomic_load_explicit(&c->value, memory_order_relaxed);
}
static inline void hk_gauge_add(hk_gauge *g, int64_t delta)
{
    atomic_fetch_add_explicit(&g->value, delta, memory_order_relaxed);
}
static inline void hk_gauge_set(hk_gauge *g, int64_t value)
{
    atomic_store_explicit(&g->value, value, memory_order_relaxed);
}
static inline int64_t hk_gauge_get(const hk_gauge *g)
{
    return atomic_load_explicit(&g->value, memory_order_relaxed);
}

/* A histogram of durations observed in milliseconds and rendered in seconds (the Prometheus
 * base unit): bounds_ms are the buckets' upper bounds, ascending, inclusive; +Inf is implicit. */
#define HK_HISTOGRAM_MAX_BOUNDS 15
typedef struct hk_histogram {
    hk_metric_head head;
    const uint64_t *bounds_ms;
    size_t bounds_len;
    /* not cumulative; summed when rendered */
    _Atomic uint64_t buckets[HK_HISTOGRAM_MAX_BOUNDS + 1];
    _Atomic uint64_t sum_ms;
} hk_histogram;
/* bounds: a static const uint64_t array (its length is taken with sizeof). */
#define HK_HISTOGRAM_MS(name, help, bounds)                                                     \
    {{HK_METRIC_HISTOGRAM, (name), (help), NULL},                                              \
     (bounds),                                                                                 \
     sizeof(bounds) / sizeof((bounds)[0]),                                                     \
     {0},                                                                                      \
     0}
void hk_histogram_observe_ms(hk_histogram *h, uint64_t ms);

/* A counter family whose label values are known only at start (the retry tiers: tier="5s"): set
 * them once with hk_counter_vec_set_labels() before anything counts or scrapes; until then the
 * family renders its HELP and TYPE alone. Member i counts under the i-th value. */
#define HK_COUNTER_VEC_MAX 16
typedef struct hk_counter_vec {
    hk_metric_head head;
    const char *key; /* the label's name: "tier" */
    size_t len;
    char values[HK_COUNTER_VEC_MAX][32];
    _Atomic uint64_t counts[HK_COUNTER_VEC_MAX];
} hk_counter_vec;
#define HK_COUNTER_VEC(name, key, help)                                                         \
    {{HK_METRIC_COUNTER_VEC, (name), (help), NULL}, (key), 0, {{0}}, {0}}
/* Copies at most HK_COUNTER_VEC_MAX values. */
void hk_counter_vec_set_labels(hk_counter_vec *v, const char *const *values, size_t n);
static inline void hk_counter_vec_add(hk_counter_vec *v, size_t i, uint64_t n)
{
    if (i < HK_COUNTER_VEC_MAX)
        atomic_fetch_add_explicit(&v->counts[i], n, memory_order_relaxed);
}

/* A gauge family whose label sets come and go (per-host queue depth, per-partition lag). Each
 * publisher (a shard's engine, a consumer) owns a source of the set and replaces its whole set
 * of samples at once; a scrape merges the sources: equal label sets are summed (HK_MERGE_SUM)
 * or the larger kept (HK_MERGE_MAX: a partition two consumers report for a moment, during a
 * rebalance). limit 0 lists every sample by labels; otherwise only the `limit` largest,
 * largest first. */
typedef enum { HK_MERGE_SUM, HK_MERGE_MAX } hk_metric_merge;
typedef struct hk_metric_set {
    hk_metric_head head;
    hk_metric_merge merge;
    size_t limit;
} hk_metric_set;
#define HK_METRIC_SET(name, help, merge, limit)                                                 \
    {{HK_METRIC_SET, (name), (help), NULL}, (merge), (limit)}

typedef struct hk_metric_sample {
    char labels[320]; /* rendered label pairs: host="https://a.example:443" */
    int64_t value;
} hk_metric_sample;
typedef struct hk_metric_source hk_metric_source;
hk_metric_source *hk_metric_source_create(hk_metric_set *set);
/* Replaces the source's samples with a copy of s[0..n). */
void hk_metric_source_publish(hk_metric_source *src, const hk_metric_sample *s, size_t n);
void hk_metric_source_destroy(hk_metric_source *src); /* its samples vanish; accepts NULL */
/* Writes `key="value"` (value escaped for the text format) into a sample's labels, after any
 * pair already there. */
void hk_metric_sample_label(hk_metric_sample *s, const char *key, const char *value);

/* One module's block of metrics: a struct whose every member is one of the metric types above
 * (checked when registered). core links the registered modules together. */
typedef struct hk_metric_module {
    const char *module; /* "store": named in refusals */
    void *block;
    size_t size;
    struct hk_metric_module *next; /* core's */
} hk_metric_module;

/* Adds a module's block, or refuses it (err says why, naming the family or the member's byte
 * offset) and adds nothing: a member that is not a metric (left out of the initialiser), a bad
 * name or empty HELP, a family another registered module already declares, members of one
 * family with another HELP or type or without distinct labels, a histogram, vec or set sharing
 * its name. m must stay valid (static storage). Thread-safe. */
bool hk_metrics_register(hk_metric_module *m, hk_error *err);
/* Registers or, on a refusal (a programming error: it shows at the first start of every program
 * and test that links the module), prints why and aborts. */
void hk__metrics_register_or_abort(hk_metric_module *m);

/* Registers `block` (a module's struct of metrics: an identifier at file scope) before main:
 * with gcc and clang, a constructor. The families exist from the start in every program that
 * links the object file defining the block, which every use of one of its handles does. */
#define HK_METRICS_REGISTER(module_name, block)                                                 \
    static hk_metric_module hk__metric_module_##block = {(module_name), &(block), sizeof(block), \
                                                         NULL};                                 \
    __attribute__((constructor)) static void hk__metrics_register_##block(void)                 \
    {                                                                                           \
        hk__metrics_register_or_abort(&hk__metric_module_##block);                              \
    }

/* Appends every registered family in Prometheus text format (version 0.0.4), then, once
 * hk_metrics_include_process() was called, the process collector's families as Prometheus'
 * client libraries name them, read from /proc at the scrape: process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
 * process_max_fds, process_start_time_seconds. */
void hk_metrics_render(hk_buf *out);
/* For the programs that serve /metrics (hookd, hookd-ingress); off in the unit suites, whose
 * renders are compared byte for byte. */
void hk_metrics_include_process(void);

#endif
