/*
 * hookd.c — the worker program: flags, --help, --version, then the shards' loops.
 */
#include "shards.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hookd [flags]\n"
            "\n"
            "Consumes job events from Kafka, looks up each flow's webhook tasks in Redis, and\n"
            "delivers signed HTTP requests, at least once. Every outcome is published to\n"
            "<prefix>deliveries and kept per job in Redis; failures go to <prefix>dlq, retries\n"
            "wait on <prefix>retry.<delay> (HOOKD_TOPIC_PREFIX, \"hookd.\" by default).\n"
            "SIGTERM or SIGINT drains deliveries in flight, commits, and exits 0.\n"
            "\n"
            "Every setting is an environment variable with a matching flag (--flag V or\n"
            "--flag=V); flags win.\n\n");
    hk_config_print_help(out, HK_CONFIG_HOOKD);
    fprintf(out,
            "\nExit status: 0 stopped cleanly, 1 runtime failure, 2 bad configuration.\n"
            "Example: HOOKD_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 hookd --topics job-events\n");
}

/* Each delivery in flight holds a socket, and curl keeps up to 4 x HOOKD_MAX_INFLIGHT
 * open for reuse (decision 78), beside Kafka's and Redis's: a default soft limit of 1,024 ran out
 * at 1,024 in flight. The soft limit goes up to the hard one, as nginx's worker_rlimit_nofile does;
 * if even that is short, the operator is told which setting to raise. */
static void raise_open_files(int max_inflight)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t want = 4 * (rlim_t)max_inflight + 256;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        hk_log_field f[] = {HK_STR("field", "config.open_files"), HK_NUM("limit", rl.rlim_cur),
                            HK_NUM("wanted", want)};
        HK_LOGF(HK_LOG_WARN, "config", f,
                "config.open_files: the open-file limit (%llu) is below 4 x HOOKD_MAX_INFLIGHT + "
                "256 (%llu); raise the container's nofile ulimit or lower HOOKD_MAX_INFLIGHT",
                (unsigned long long)rl.rlim_cur, (unsigned long long)want);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("hookd %s\n", HK_VERSION);
            return 0;
        }
    }
    hk_config cfg;
    hk_error err = {0};
    int rest = 0;
    if (hk_config_load(&cfg, argc, argv, environ, &rest, &err) != HK_OK) {
        fprintf(stderr, "hookd: %s\n", err.msg);
        return 2;
    }
    if (rest > 1) {
        fprintf(stderr, "hookd: %s: unknown flag or argument (see hookd --help)\n", argv[1]);
        hk_config_free(&cfg);
        return 2;
    }
    hk_log_set_level(cfg.log_level);
    hk_config_log_service_links(&cfg);
    raise_open_files(cfg.max_inflight);
    hk_metrics_include_process(); /* process_* on /metrics */
    int status = hk_shards_run(&cfg, &err);
    if (status != 0)
        fprintf(stderr, "hookd: %s\n", err.msg[0] ? err.msg : "stopped on a runtime failure");
    hk_config_free(&cfg);
    return status;
}
