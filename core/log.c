/*
 * log.c — JSON log lines on stdout, one object per line, so an operator's log pipeline can
 * parse every field. Callers never pass secrets; the writer escapes everything it prints.
 */
#include "hk_core.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

static _Atomic int log_level = HK_LOG_INFO;
static FILE *log_stream;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int hk_log_level_parse(const char *s, hk_log_level *out)
{
    for (int i = HK_LOG_DEBUG; i <= HK_LOG_ERROR; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (hk_log_level)i;
            return HK_OK;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = HK_LOG_WARN;
        return HK_OK;
    }
    return HK_EINVAL;
}

void hk_log_set_level(hk_log_level level)
{
    atomic_store(&log_level, (int)level);
}

bool hk_log_enabled(hk_log_level level)
{
    return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void hk_log_set_stream(FILE *stream)
{
    pthread_mutex_lock(&log_lock);
    log_stream = stream;
    pthread_mutex_unlock(&log_lock);
}

void hk_log_write(hk_log_level level, const char *event, const hk_log_field *fields, size_t n,
                  const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char ts[32];
    hk_format_time(hk_wall_ms(), ts);

    hk_buf line = {0};
    hk_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"", ts, level_names[level]);
    hk_buf_json_escape(&line, event, strlen(event));
    hk_buf_puts(&line, "\",\"msg\":\"");
    hk_buf_json_escape(&line, msg, strlen(msg));
    hk_buf_puts(&line, "\"");
    for (size_t i = 0; i < n; i++) {
        hk_buf_puts(&line, ",\"");
        hk_buf_json_escape(&line, fields[i].key, strlen(fields[i].key));
        if (fields[i].str) {
            hk_buf_puts(&line, "\":\"");
            hk_buf_json_escape(&line, fields[i].str, strlen(fields[i].str));
            hk_buf_puts(&line, "\"");
        } else {
            hk_buf_printf(&line, "\":%lld", fields[i].num);
        }
    }
    hk_buf_puts(&line, "}\n");

    pthread_mutex_lock(&log_lock);
    FILE *out = log_stream ? log_stream : stdout;
    fwrite(line.data, 1, line.len, out);
    fflush(out);
    pthread_mutex_unlock(&log_lock);
    hk_buf_free(&line);
}
