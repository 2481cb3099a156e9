/*
 * engine_bench.c — the delivery engine alone: N POSTs to one URL through hk_delivery, no Kafka,
 * no Redis, no signing. Prints requests/s and CPU seconds per request, to split hookd's cost
 * between the engine (curl + loop) and the rest of the pipeline. Not a test.
 *   engine_bench URL [N] [INFLIGHT]
 * BENCH_NO_VERIFY=1 turns validateSsl off (an https:// receiver with a certificate of its own,
 * as in the HTTP/2 comparison of bench/README.md).
 */
#include "hk_delivery.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static size_t done, failed;

static void on_done(const hk_delivery_result *res, void *arg)
{
    (void)arg;
    done++;
    if (res->status != HK_DELIVERY_OK && failed++ == 0)
        fprintf(stderr, "engine_bench: first failure: HTTP %ld, %s\n", res->http_status,
                res->error);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: engine_bench URL [N] [INFLIGHT]\n");
        return 2;
    }
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 100000;
    int inflight = argc > 3 ? atoi(argv[3]) : 32;
    const char *no_verify = getenv("BENCH_NO_VERIFY");
    bool verify = !(no_verify && strcmp(no_verify, "1") == 0);
    hk_loop *loop = hk_loop_create();
    hk_cidr_list *allow = NULL;
    hk_cidr_list_parse("127.0.0.0/8", &allow, NULL);
    hk_delivery_config cfg = {.max_inflight = inflight, .max_inflight_per_host = inflight,
                              .allow = allow};
    hk_delivery_engine *engine;
    if (hk_delivery_create(loop, &cfg, &engine, NULL) != HK_OK)
        return 1;
    uint64_t start = hk_now_ms();
    double cpu0 = cpu_seconds();
    size_t submitted = 0;
    while (done < n) {
        /* keep about 4x the in-flight cap queued, as the worker does */
        while (submitted < n && hk_delivery_pending(engine) < (size_t)inflight * 4) {
            hk_request *req = hk_xcalloc(1, sizeof *req);
            req->method = HK_METHOD_POST;
            req->url = hk_strdup(argv[1]);
            req->body = hk_strdup("{\"job\":\"12345\",\"status\":\"Complete\"}");
            req->body_len = strlen(req->body);
            hk_kv h[] = {{"Content-Type", "application/json"},
                         {"User-Agent", "hookd/bench"},
                         {"X-Webhook-Id", "msg_0123456789abcdef0123456789"}};
            hk_request_set_headers(req, h, 3);
            req->timeout_ms = 30000;
            req->validate_ssl = verify;
            hk_delivery_submit(engine, req, on_done, NULL);
            submitted++;
        }
        hk_loop_run_once(loop, 100);
    }
    double secs = (double)(hk_now_ms() - start) / 1000.0, cpu = cpu_seconds() - cpu0;
    printf("engine: %zu requests (%zu failed) in %.2f s = %.0f req/s; %.1f us CPU per request\n",
           n, failed, secs, (double)n / secs, cpu * 1e6 / (double)n);
    hk_delivery_destroy(engine);
    hk_cidr_list_destroy(allow);
    hk_loop_destroy(loop);
    return 0;
}
