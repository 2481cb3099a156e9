/*
 * publish.c — `hookctl publish`: sends one job event to Kafka and waits for the broker's
 * acknowledgement, so a script knows the event is durable when the command returns.
 */
#include "hookctl.h"

#include "hk_model.h"
#include "hk_producer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct publish_state {
    hk_loop *loop;
    int err;
    char errstr[256];
    bool done;
} publish_state;

static void on_ack(int err, const char *errstr, void *arg)
{
    publish_state *s = arg;
    s->err = err;
    snprintf(s->errstr, sizeof s->errstr, "%s", errstr);
    s->done = true;
}

static void publish_usage(FILE *out)
{
    fprintf(out,
            "Usage: hookctl publish --file event.json [--topic job-events] [--key K]\n"
            "\n"
            "Validates a job event (the contract's 'Job event' form) and publishes it to Kafka\n"
            "(HOOKD_KAFKA_BOOTSTRAP_SERVERS), waiting for the broker's acknowledgement.\n"
            "--file - reads standard input. The key defaults to the event's flowId.\n"
            "Example: hookctl publish --file event.json --topic job-events\n");
}

int hk_cmd_publish(int argc, char **argv, const hk_config *cfg)
{
    const char *file = NULL, *topic = NULL, *key = NULL;
    static const struct option flags[] = {
        {"help", no_argument, NULL, 'h'},
        {"file", required_argument, NULL, 'f'},
        {"topic", required_argument, NULL, 't'},
        {"key", required_argument, NULL, 'k'},
        {0},
    };
    hk_cmd_args args = {.argc = argc, .argv = argv, .flags = flags};
    for (int c; (c = hk_cmd_next(&args)) != -1;) {
        const char *v = args.value;
        switch (c) {
        case 'h':
            publish_usage(stdout);
            return 0;
        case 'f':
            file = v;
            break;
        case 't':
            topic = v;
            break;
        case 'k':
            key = v;
            break;
        case HK_CMD_NO_VALUE:
            fprintf(stderr, "hookctl: %s: needs a value (see hookctl publish --help)\n",
                    args.token);
            return 2;
        default:
            fprintf(stderr, "hookctl: %s: unknown flag (see hookctl publish --help)\n",
                    args.token);
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "hookctl: --file: required\n");
        return 2;
    }
    hk_buf text = {0};
    if (hk_cmd_read_file(file, &text) != HK_OK) {
        fprintf(stderr, "hookctl: --file: cannot open %s\n", file);
        return 2;
    }

    int status = 1;
    hk_event *ev = NULL;
    hk_producer *p = NULL;
    hk_error err = {0};
    publish_state s = {0};
    if (hk_event_parse(text.data ? text.data : "", text.len, "-", &ev, &err) != HK_OK) {
        fprintf(stderr, "hookctl: %s\n", err.msg);
        status = 2;
        goto done;
    }
    if (!topic)
        topic = cfg->topics[0];
    if (!key)
        key = ev->flow_id;
    s.loop = hk_loop_create();
    if (hk_producer_create(s.loop, cfg->kafka, cfg->kafka_len, &p, &err) != HK_OK) {
        fprintf(stderr, "hookctl: %s\n", err.msg);
        goto done;
    }
    if (hk_producer_send(p, topic, key, strlen(key), text.data, text.len, on_ack, &s) != HK_OK) {
        fprintf(stderr, "hookctl: cannot queue the event for %s\n", topic);
        goto done;
    }
    uint64_t deadline = hk_now_ms() + 30000;
    while (!s.done && hk_now_ms() < deadline)
        hk_loop_run_once(s.loop, 100);
    if (!s.done) {
        fprintf(stderr, "hookctl: HOOKD_KAFKA_BOOTSTRAP_SERVERS: no acknowledgement within 30 s\n");
    } else if (s.err) {
        fprintf(stderr, "hookctl: publish to %s failed: %s\n", topic, s.errstr);
    } else {
        if (hk_cmd_json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "topic", topic);
            cJSON_AddStringToObject(o, "jobId", ev->job_id);
            cJSON_AddStringToObject(o, "flowId", ev->flow_id);
            cJSON_AddStringToObject(o, "eventId", ev->event_id);
            hk_print_json(o);
            cJSON_Delete(o);
        } else {
            printf("published job %s (flow %s) to %s\n", ev->job_id, ev->flow_id, topic);
        }
        status = 0;
    }
done:
    hk_producer_destroy(p, 1000);
    hk_loop_destroy(s.loop);
    hk_event_destroy(ev);
    hk_buf_free(&text);
    return status;
}
