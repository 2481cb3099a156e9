/*
 * main.c — hookd-ingress: flags, --help, --version, then the loop (server.c).
 */
#include "ingress.h"

#include <stdio.h>
#include <string.h>

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hookd-ingress [flags]\n\n"
            "Receives third-party webhooks on /in/<endpointId>, verifies each as its provider\n"
            "signs it (GitHub, Slack, Stripe, Twilio, PagerDuty, Zendesk, Twitter, Facebook,\n"
            "SendGrid, Standard Webhooks, hookd, or a custom scheme), and publishes every\n"
            "accepted request to Kafka keyed by its endpoint's flow. A request is answered as\n"
            "accepted only once Kafka acknowledged its record; otherwise 503 with Retry-After,\n"
            "so the provider sends it again. Unknown endpoints and failed verification get 404\n"
            "with no detail (the reason is logged and counted). Endpoints are managed with\n"
            "`hookctl inbound` and kept in Redis. Also serves /healthz, /readyz and /metrics.\n\n"
            "  -h, --help      this text\n"
            "      --version   the version\n\n");
    hk_config_print_help(out, HK_CONFIG_INGRESS);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("hookd-ingress %s\n", HK_VERSION);
            return 0;
        }
    }
    hk_config cfg;
    hk_error err = {0};
    int rest = 0;
    if (hk_config_load(&cfg, argc, argv, environ, &rest, &err) != HK_OK) {
        fprintf(stderr, "hookd-ingress: %s\n", err.msg);
        return 2;
    }
    if (rest > 1) {
        fprintf(stderr, "hookd-ingress: %s: unknown flag or argument (see hookd-ingress --help)\n",
                argv[1]);
        hk_config_free(&cfg);
        return 2;
    }
    hk_log_set_level(cfg.log_level);
    hk_config_log_service_links(&cfg);
    hk_metrics_include_process(); /* process_* on /metrics */
    int status = ing_run(&cfg, &err);
    if (status != 0 && err.msg[0])
        fprintf(stderr, "hookd-ingress: %s\n", err.msg);
    hk_config_free(&cfg);
    return status;
}
