/*
 * hookd.c — the worker program: flags, --help, --version, then the shards' loops.
 */
#include "shards.h"

#include <stdio.h>
#include <string.h>

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
    fprintf(out, "\nExit status: 0 stopped cleanly, 1 runtime failure, 2 bad configuration.\n"
                 "Example: HOOKD_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 hookd --topics job-events\n");
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
    hk_metrics_include_process(); /* process_* on /metrics */
    int status = hk_shards_run(&cfg, &err);
    if (status != 0)
        fprintf(stderr, "hookd: %s\n", err.msg[0] ? err.msg : "stopped on a runtime failure");
    hk_config_free(&cfg);
    return status;
}
