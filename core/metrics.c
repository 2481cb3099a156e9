/*
 * metrics.c — the metrics mechanism: modules' blocks of families registered at start, the
 * labelled sets their owners publish, and rendering in the Prometheus text format. core names
 * no metric: each module declares its own (see hk_core.h). Counting is one relaxed atomic add
 * on the module's static storage (inline, in hk_core.h); everything here runs at registration
 * or at scrape time. The labelled sets (per-host queue depth, per-partition lag) are published
 * whole by their owners and merged at scrape time under one mutex.
 */
#include "hk_core.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Every metric type is a whole number of heads' alignment, so a block (a struct of them) has
 * no padding and can be walked member by member. */
#define WALKABLE(T)                                                                                \
    _Static_assert(_Alignof(T) == _Alignof(hk_metric_head) &&                                      \
                       sizeof(T) % _Alignof(hk_metric_head) == 0 && offsetof(T, head) == 0,        \
                   #T " cannot be walked in a block")
WALKABLE(hk_counter);
WALKABLE(hk_gauge);
WALKABLE(hk_histogram);
WALKABLE(hk_counter_vec);
WALKABLE(hk_metric_set);

static size_t kind_size(hk_metric_kind kind)
{
    switch (kind) {
    case HK_METRIC_COUNTER:
        return sizeof(hk_counter);
    case HK_METRIC_GAUGE:
        return sizeof(hk_gauge);
    case HK_METRIC_HISTOGRAM:
        return sizeof(hk_histogram);
    case HK_METRIC_COUNTER_VEC:
        return sizeof(hk_counter_vec);
    case HK_METRIC_SET:
        return sizeof(hk_metric_set);
    }
    return 0;
}

static const char *kind_type(hk_metric_kind kind)
{
    switch (kind) {
    case HK_METRIC_COUNTER:
    case HK_METRIC_COUNTER_VEC:
        return "counter";
    case HK_METRIC_HISTOGRAM:
        return "histogram";
    case HK_METRIC_GAUGE:
    case HK_METRIC_SET:
        break;
    }
    return "gauge";
}

/* The member at byte off of a module's block, or NULL at its end or when what is there is not
 * a metric that fits (*bad set). */
static hk_metric_head *member_at(const hk_metric_module *m, size_t off, bool *bad)
{
    *bad = false;
    if (off >= m->size)
        return NULL;
    if (m->size - off < sizeof(hk_metric_head)) {
        *bad = true;
        return NULL;
    }
    hk_metric_head *h = (hk_metric_head *)((char *)m->block + off);
    size_t size = kind_size(h->kind);
    if (!size || size > m->size - off) {
        *bad = true;
        return NULL;
    }
    return h;
}

#define EACH_MEMBER(m, h, off, bad)                                                                \
    for (size_t off = 0; ((h) = member_at((m), off, &(bad))) != NULL; off += kind_size((h)->kind))

/* ------------------------------------------------------------------------- registration --- */

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static hk_metric_module *modules;

static bool valid_name(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == ':'))
            return false;
    return true;
}

/* key="value" pairs, comma-separated: each a name, then a quoted value without a quote,
 * backslash or line feed (an attempt's outcome="http_error",status_class="5xx"). */
static bool valid_label(const char *s)
{
    for (;;) {
        const char *eq = strchr(s, '=');
        if (!eq || eq == s || eq[1] != '"')
            return false;
        const char *end = strchr(eq + 2, '"'); /* the value's closing quote */
        if (!end || end == eq + 2)
            return false;
        char key[64];
        if ((size_t)(eq - s) >= sizeof key)
            return false;
        memcpy(key, s, (size_t)(eq - s));
        key[eq - s] = '\0';
        if (!valid_name(key) || strchr(key, ':'))
            return false;
        for (const char *p = eq + 2; p < end; p++)
            if (*p == '\\' || *p == '\n')
                return false;
        if (end[1] == '\0')
            return true;
        if (end[1] != ',')
            return false;
        s = end + 2;
    }
}

static bool check_member(const hk_metric_module *m, const hk_metric_head *h, size_t off,
                         hk_error *err)
{
    if (!valid_name(h->name)) {
        hk_error_set(err, HK_EINVAL, m->module, "the member at byte %zu has no valid name", off);
        return false;
    }
    if (!h->help || !*h->help) {
        hk_error_set(err, HK_EINVAL, m->module, "%s has no HELP text", h->name);
        return false;
    }
    if (h->label &&
        (!valid_label(h->label) || (h->kind != HK_METRIC_COUNTER && h->kind != HK_METRIC_GAUGE))) {
        hk_error_set(err, HK_EINVAL, m->module,
                     "%s: the label %s is not key=\"value\" pairs of a counter or gauge", h->name,
                     h->label);
        return false;
    }
    if (h->kind == HK_METRIC_HISTOGRAM) {
        const hk_histogram *hist = (const hk_histogram *)h;
        bool ascending = hist->bounds_len > 0 && hist->bounds_len <= HK_HISTOGRAM_MAX_BOUNDS;
        for (size_t i = 1; ascending && i < hist->bounds_len; i++)
            ascending = hist->bounds_ms[i - 1] < hist->bounds_ms[i];
        if (!ascending) {
            hk_error_set(err, HK_EINVAL, m->module, "%s: 1 to %d ascending bounds", h->name,
                         HK_HISTOGRAM_MAX_BOUNDS);
            return false;
        }
    }
    if (h->kind == HK_METRIC_COUNTER_VEC && !valid_name(((const hk_counter_vec *)h)->key)) {
        hk_error_set(err, HK_EINVAL, m->module, "%s: no valid label key", h->name);
        return false;
    }
    return true;
}

/* a (of module am) and b (of bm) share a name: both must be members of one labelled family of
 * counters or gauges, declared by one module with one HELP. */
static bool check_pair(const hk_metric_module *am, const hk_metric_head *a,
                       const hk_metric_module *bm, const hk_metric_head *b, hk_error *err)
{
    const char *why = NULL;
    if (am != bm)
        why = strcmp(a->help, b->help) ? "declared by two modules, with another HELP"
                                       : "declared by two modules";
    else if (a->kind != b->kind)
        why = "members of one family of another type";
    else if (strcmp(a->help, b->help))
        why = "members of one family with another HELP";
    else if (a->kind != HK_METRIC_COUNTER && a->kind != HK_METRIC_GAUGE)
        why = "a histogram, vec or set is a family of its own";
    else if (!a->label || !b->label || !strcmp(a->label, b->label))
        why = "members of one family need distinct labels";
    if (!why)
        return true;
    hk_error_set(err, HK_EINVAL, NULL, "%s (%s, %s): %s", a->name, am->module, bm->module, why);
    return false;
}

bool hk_metrics_register(hk_metric_module *m, hk_error *err)
{
    pthread_mutex_lock(&modules_lock);
    bool ok = m->block && m->size;
    if (!ok)
        hk_error_set(err, HK_EINVAL, m->module, "an empty block");
    for (hk_metric_module *o = modules; ok && o; o = o->next) {
        if (o == m || o->block == m->block) {
            hk_error_set(err, HK_EINVAL, m->module, "registered twice");
            ok = false;
        }
    }
    hk_metric_head *h, *o;
    bool bad = false, obad;
    size_t end = 0;
    EACH_MEMBER(m, h, off, bad)
    {
        if (!ok)
            break;
        end = off + kind_size(h->kind);
        ok = check_member(m, h, off, err);
        /* earlier members of this block, then every registered block */
        EACH_MEMBER(m, o, ooff, obad)
        {
            if (!ok || ooff >= off)
                break;
            if (!strcmp(o->name, h->name))
                ok = check_pair(m, h, m, o, err);
        }
        for (hk_metric_module *om = modules; ok && om; om = om->next) {
            EACH_MEMBER(om, o, ooff, obad)
            {
                if (!strcmp(o->name, h->name) && !(ok = check_pair(m, h, om, o, err)))
                    break;
            }
        }
    }
    if (ok && (bad || end != m->size)) {
        hk_error_set(err, HK_EINVAL, m->module,
                     "the member at byte %zu is not a metric (left out of the initialiser?)", end);
        ok = false;
    }
    if (ok) {
        m->next = modules;
        modules = m;
    }
    pthread_mutex_unlock(&modules_lock);
    return ok;
}

void hk__metrics_register_or_abort(hk_metric_module *m)
{
    hk_error err;
    if (!hk_metrics_register(m, &err)) {
        fprintf(stderr, "metrics: %s\n", err.msg);
        abort();
    }
}

/* ---------------------------------------------------------------- histogram, vectors --- */

void hk_histogram_observe_ms(hk_histogram *h, uint64_t ms)
{
    size_t b = 0;
    while (b < h->bounds_len && ms > h->bounds_ms[b])
        b++;
    atomic_fetch_add_explicit(&h->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ms, ms, memory_order_relaxed);
}

void hk_counter_vec_set_labels(hk_counter_vec *v, const char *const *values, size_t n)
{
    if (n > HK_COUNTER_VEC_MAX)
        n = HK_COUNTER_VEC_MAX;
    for (size_t i = 0; i < n; i++)
        snprintf(v->values[i], sizeof v->values[i], "%s", values[i]);
    v->len = n;
}

/* ------------------------------------------------------------------------ labelled sets --- */

struct hk_metric_source {
    const hk_metric_set *set;
    hk_metric_sample *samples;
    size_t n;
    hk_metric_source *next;
};

static pthread_mutex_t sources_lock = PTHREAD_MUTEX_INITIALIZER;
static hk_metric_source *sources;

hk_metric_source *hk_metric_source_create(hk_metric_set *set)
{
    hk_metric_source *src = hk_xcalloc(1, sizeof *src);
    src->set = set;
    pthread_mutex_lock(&sources_lock);
    src->next = sources;
    sources = src;
    pthread_mutex_unlock(&sources_lock);
    return src;
}

void hk_metric_source_publish(hk_metric_source *src, const hk_metric_sample *s, size_t n)
{
    hk_metric_sample *copy = n ? hk_xmalloc(n * sizeof *copy) : NULL;
    if (n)
        memcpy(copy, s, n * sizeof *copy);
    pthread_mutex_lock(&sources_lock);
    hk_metric_sample *old = src->samples;
    src->samples = copy;
    src->n = n;
    pthread_mutex_unlock(&sources_lock);
    free(old);
}

void hk_metric_source_destroy(hk_metric_source *src)
{
    if (!src)
        return;
    pthread_mutex_lock(&sources_lock);
    for (hk_metric_source **p = &sources; *p; p = &(*p)->next) {
        if (*p == src) {
            *p = src->next;
            break;
        }
    }
    pthread_mutex_unlock(&sources_lock);
    free(src->samples);
    free(src);
}

void hk_metric_sample_label(hk_metric_sample *s, const char *key, const char *value)
{
    size_t len = strlen(s->labels), cap = sizeof s->labels;
    int n = snprintf(s->labels + len, cap - len, "%s%s=\"", len ? "," : "", key);
    if (n < 0 || (size_t)n >= cap - len) {
        s->labels[len] = '\0';
        return;
    }
    len += (size_t)n;
    /* The text format escapes backslash, double quote and line feed in label values. Leave
     * room for the closing quote. */
    for (const char *p = value; *p && len + 3 < cap; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n') {
            s->labels[len++] = '\\';
            s->labels[len++] = *p == '\n' ? 'n' : *p;
        } else {
            s->labels[len++] = *p;
        }
    }
    s->labels[len++] = '"';
    s->labels[len] = '\0';
}

static int by_labels(const void *a, const void *b)
{
    return strcmp(((const hk_metric_sample *)a)->labels, ((const hk_metric_sample *)b)->labels);
}

static int by_value_desc(const void *a, const void *b)
{
    int64_t x = ((const hk_metric_sample *)a)->value, y = ((const hk_metric_sample *)b)->value;
    return x < y ? 1 : x > y ? -1 : by_labels(a, b);
}

/* Every sample of the set, equal label sets merged (summed, or the larger kept). */
static hk_metric_sample *gather(const hk_metric_set *set, size_t *len)
{
    pthread_mutex_lock(&sources_lock);
    size_t total = 0;
    for (hk_metric_source *s = sources; s; s = s->next)
        if (s->set == set)
            total += s->n;
    hk_metric_sample *all = hk_xmalloc((total ? total : 1) * sizeof *all);
    size_t n = 0;
    for (hk_metric_source *s = sources; s; s = s->next) {
        if (s->set == set && s->n) {
            memcpy(all + n, s->samples, s->n * sizeof *all);
            n += s->n;
        }
    }
    pthread_mutex_unlock(&sources_lock);
    qsort(all, n, sizeof *all, by_labels);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out && strcmp(all[out - 1].labels, all[i].labels) == 0) {
            if (set->merge == HK_MERGE_SUM)
                all[out - 1].value += all[i].value;
            else if (all[i].value > all[out - 1].value)
                all[out - 1].value = all[i].value;
        } else {
            all[out++] = all[i];
        }
    }
    *len = out;
    return all;
}

/* ------------------------------------------------------------------------------ render --- */

static void render_histogram(hk_buf *out, const hk_histogram *hist)
{
    const char *h = hist->head.name;
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= hist->bounds_len; b++) {
        cumulative += atomic_load_explicit(&hist->buckets[b], memory_order_relaxed);
        if (b < hist->bounds_len)
            hk_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", h,
                          (double)hist->bounds_ms[b] / 1000.0, (unsigned long long)cumulative);
        else
            hk_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", h, (unsigned long long)cumulative);
    }
    hk_buf_printf(out, "%s_sum %.3f\n%s_count %llu\n", h,
                  (double)atomic_load_explicit(&hist->sum_ms, memory_order_relaxed) / 1000.0, h,
                  (unsigned long long)cumulative);
}

static void render_set(hk_buf *out, const hk_metric_set *set)
{
    size_t n;
    hk_metric_sample *s = gather(set, &n);
    if (set->limit) {
        qsort(s, n, sizeof *s, by_value_desc);
        if (n > set->limit)
            n = set->limit;
    }
    for (size_t i = 0; i < n; i++)
        hk_buf_printf(out, "%s{%s} %lld\n", set->head.name, s[i].labels, (long long)s[i].value);
    free(s);
}

static void render_member(hk_buf *out, const hk_metric_head *h)
{
    const char *open = h->label ? "{" : "", *label = h->label ? h->label : "",
               *close = h->label ? "}" : "";
    switch (h->kind) {
    case HK_METRIC_COUNTER:
        hk_buf_printf(out, "%s%s%s%s %llu\n", h->name, open, label, close,
                      (unsigned long long)hk_counter_get((const hk_counter *)h));
        break;
    case HK_METRIC_GAUGE:
        hk_buf_printf(out, "%s%s%s%s %lld\n", h->name, open, label, close,
                      (long long)hk_gauge_get((const hk_gauge *)h));
        break;
    case HK_METRIC_HISTOGRAM:
        render_histogram(out, (const hk_histogram *)h);
        break;
    case HK_METRIC_COUNTER_VEC: {
        const hk_counter_vec *v = (const hk_counter_vec *)h;
        for (size_t i = 0; i < v->len; i++) {
            hk_metric_sample s = {0};
            hk_metric_sample_label(&s, v->key, v->values[i]);
            hk_buf_printf(
                out, "%s{%s} %llu\n", h->name, s.labels,
                (unsigned long long)atomic_load_explicit(&v->counts[i], memory_order_relaxed));
        }
        break;
    }
    case HK_METRIC_SET:
        render_set(out, (const hk_metric_set *)h);
        break;
    }
}

typedef struct {
    const hk_metric_head *h;
    size_t seq; /* declaration order, which orders a family's members */
} entry;

static int by_family(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = strcmp(x->h->name, y->h->name);
    return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ------------------------------------------------------------- the process, from /proc --- */

static atomic_bool process_on;

void hk_metrics_include_process(void)
{
    atomic_store(&process_on, true);
}

/* The fields of /proc/self/stat after the command's ")" (which may hold spaces): field 3, the
 * state, is f[0]; utime (14) f[11], stime (15) f[12], starttime (22) f[19], vsize (23) f[20],
 * rss (24) f[21]. */
static bool read_stat(unsigned long long f[22])
{
    char buf[1024];
    FILE *fp = fopen("/proc/self/stat", "re");
    if (!fp)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return false;
    p += 2; /* ") " */
    for (int i = 0; i < 22; i++) {
        while (*p == ' ')
            p++;
        if (i == 0) { /* the state, a letter */
            f[0] = 0;
            p++;
            continue;
        }
        char *end;
        f[i] = strtoull(p, &end, 10);
        if (end == p)
            return false;
        p = end;
    }
    return true;
}

static unsigned long long boot_time_s(void)
{
    unsigned long long btime = 0;
    char line[256];
    FILE *fp = fopen("/proc/stat", "re");
    if (!fp)
        return 0;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    fclose(fp);
    return btime;
}

static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* opendir's own */
}

/* The process collector's names and meanings, as Prometheus' client libraries export them. */
static void render_process(hk_buf *out)
{
    unsigned long long f[22];
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (!read_stat(f) || tick <= 0 || page <= 0)
        return;
    hk_buf_printf(out,
                  "# HELP process_cpu_seconds_total Total user and system CPU time spent in "
                  "seconds.\n# TYPE process_cpu_seconds_total counter\n"
                  "process_cpu_seconds_total %.2f\n",
                  (double)(f[11] + f[12]) / (double)tick);
    long fds = open_fds();
    struct rlimit rl;
    if (fds >= 0)
        hk_buf_printf(out,
                      "# HELP process_open_fds Number of open file descriptors.\n"
                      "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n",
                      fds);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        hk_buf_printf(out,
                      "# HELP process_max_fds Maximum number of open file descriptors.\n"
                      "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
                      (unsigned long long)rl.rlim_cur);
    hk_buf_printf(out,
                  "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                  "# TYPE process_resident_memory_bytes gauge\n"
                  "process_resident_memory_bytes %llu\n",
                  f[21] * (unsigned long long)page);
    unsigned long long btime = boot_time_s();
    if (btime)
        hk_buf_printf(out,
                      "# HELP process_start_time_seconds Start time of the process since unix "
                      "epoch in seconds.\n# TYPE process_start_time_seconds gauge\n"
                      "process_start_time_seconds %.2f\n",
                      (double)btime + (double)f[19] / (double)tick);
    hk_buf_printf(out,
                  "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                  "# TYPE process_virtual_memory_bytes gauge\n"
                  "process_virtual_memory_bytes %llu\n",
                  f[20]);
}

void hk_metrics_render(hk_buf *out)
{
    pthread_mutex_lock(&modules_lock);
    size_t n = 0, cap = 64;
    entry *all = hk_xmalloc(cap * sizeof *all);
    hk_metric_head *h;
    bool bad;
    for (hk_metric_module *m = modules; m; m = m->next) {
        EACH_MEMBER(m, h, off, bad)
        {
            if (n == cap)
                all = hk_xrealloc(all, (cap *= 2) * sizeof *all);
            all[n] = (entry){h, n};
            n++;
        }
    }
    /* Blocks are registered for good, in static storage: no lock needed past this point. */
    pthread_mutex_unlock(&modules_lock);
    qsort(all, n, sizeof *all, by_family);
    for (size_t i = 0; i < n; i++) {
        const hk_metric_head *m = all[i].h;
        if (i == 0 || strcmp(all[i - 1].h->name, m->name) != 0)
            hk_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                          kind_type(m->kind));
        render_member(out, m);
    }
    free(all);
    if (atomic_load(&process_on)) /* process_* sorts after every hookd_ family */
        render_process(out);
}
