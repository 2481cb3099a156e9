/*
 * verify.c — `hookctl verify`: its flags, the body file and the output. The check itself is
 * hk_verify() (delivery/verify.c), shared with `hookctl listen`.
 */
#include "hookctl.h"

#include "hk_delivery.h"
#include "hk_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void verify_usage(FILE *out)
{
    fprintf(out,
            "Usage: hookctl verify --secret S --header 'Name: value' [--header ...]\n"
            "                      [--scheme timestamped|body|standard]\n"
            "                      [--body-file F | --url U] [--method M] [--tolerance 300]\n"
            "\n"
            "Checks a hookd signature as a receiver would, in the scheme you expect (--scheme):\n"
            "  timestamped  X-Webhook-Signature: t=<unix ms>,sha256=<hex> over '<t>.<body>' for\n"
            "               POST, PUT and PATCH, '<t>.<url>' for GET and DELETE (--url U implies\n"
            "               GET unless --method says otherwise). The default.\n"
            "  body         X-Webhook-Signature: sha256=<hex> over the body (or the task's own\n"
            "               header name, as set by its signatureHeader).\n"
            "  standard     webhook-id, webhook-timestamp and webhook-signature (Standard\n"
            "               Webhooks); the default when only those headers are given.\n"
            "A header without t= never passes as timestamped, nor one with t= as body, and a t=\n"
            "that is not the unix time in milliseconds (digits only: not -1, not abc) is bad\n"
            "input. --tolerance is the largest accepted age in seconds of a timestamped or\n"
            "standard signature (default 300; 0 accepts any age, for checking old samples).\n"
            "Exit 0 when it verifies, 1 when it does not, 2 on bad usage or a malformed header.\n"
            "Example: hookctl verify --secret mySecret --header 'X-Webhook-Signature: "
            "t=1568818215724,sha256=...' --body-file body.txt --tolerance 0\n");
}

/* What hk_cmd_verify's flags gave: the input for hk_verify, and the flags it reads itself.
 * in.signature_name points into sig_name, so this stays where it was filled. */
typedef struct {
    hk_verify_input in;
    const char *body_file, *method;
    char sig_name[64];
} verify_opts;

/* --scheme's value; 2 (after saying why) when it is none of the three. */
static int verify_scheme(const char *v, hk_verify_input *in)
{
    if (strcmp(v, "timestamped") == 0)
        in->scheme = HK_SIG_TIMESTAMPED;
    else if (strcmp(v, "body") == 0)
        in->scheme = HK_SIG_BODY;
    else if (strcmp(v, "standard") == 0)
        in->scheme = HK_SIG_STANDARD;
    else {
        fprintf(stderr, "hookctl: --scheme: expected timestamped, body or standard\n");
        return 2;
    }
    return 0;
}

/* One --header 'Name: value': the Standard Webhooks trio by name, anything else is the signature
 * header of the timestamped or body scheme. 2 (after saying why) without a colon. */
static int verify_header(const char *v, verify_opts *o)
{
    const char *colon = strchr(v, ':');
    if (!colon) {
        fprintf(stderr, "hookctl: --header: expected 'Name: value'\n");
        return 2;
    }
    size_t nlen = (size_t)(colon - v);
    const char *val = colon + 1;
    while (*val == ' ')
        val++;
    if (nlen == 10 && strncasecmp(v, "webhook-id", 10) == 0)
        o->in.wh_id = val;
    else if (nlen == 17 && strncasecmp(v, "webhook-timestamp", 17) == 0)
        o->in.wh_timestamp = val;
    else if (nlen == 17 && strncasecmp(v, "webhook-signature", 17) == 0)
        o->in.wh_signature = val;
    else {
        o->in.signature = val;
        snprintf(o->sig_name, sizeof o->sig_name, "%.*s", (int)nlen, v);
        o->in.signature_name = o->sig_name;
    }
    return 0;
}

/* Reads the flags into o: -1 to go on, else the exit code (0 after --help, 2 on bad usage). */
static int verify_flags(int argc, char **argv, verify_opts *o)
{
    static const struct option flags[] = {
        {"help", no_argument, NULL, 'h'},
        {"secret", required_argument, NULL, 's'},
        {"body-file", required_argument, NULL, 'b'},
        {"url", required_argument, NULL, 'u'},
        {"method", required_argument, NULL, 'm'},
        {"scheme", required_argument, NULL, 'S'},
        {"tolerance", required_argument, NULL, 't'},
        {"header", required_argument, NULL, 'H'},
        {0},
    };
    hk_cmd_args args = {.argc = argc, .argv = argv, .flags = flags};
    for (int c; (c = hk_cmd_next(&args)) != -1;) {
        const char *v = args.value;
        char *end;
        switch (c) {
        case 'h':
            verify_usage(stdout);
            return 0;
        case 's':
            o->in.secret = v;
            break;
        case 'b':
            o->body_file = v;
            break;
        case 'u':
            o->in.url = v;
            break;
        case 'm':
            o->method = v;
            break;
        case 'S':
            if (verify_scheme(v, &o->in) != 0)
                return 2;
            break;
        case 't':
            o->in.tolerance_s = strtol(v, &end, 10);
            if (*end || o->in.tolerance_s < 0) {
                fprintf(stderr, "hookctl: --tolerance: must be a number of seconds\n");
                return 2;
            }
            break;
        case 'H':
            if (verify_header(v, o) != 0)
                return 2;
            break;
        case HK_CMD_NO_VALUE:
            fprintf(stderr, "hookctl: %s: needs a value (see hookctl verify --help)\n", args.token);
            return 2;
        default:
            fprintf(stderr, "hookctl: %s: unknown flag (see hookctl verify --help)\n", args.token);
            return 2;
        }
    }
    return -1;
}

/* The flags' combination: a secret, a signature header, and the scheme (given, or the one the
 * headers leave) with the header it needs. -1 to go on, else 2 after saying why. */
static int verify_check(verify_opts *o)
{
    hk_verify_input *in = &o->in;
    if (!in->secret) {
        fprintf(stderr, "hookctl: --secret: required\n");
        return 2;
    }
    if (!in->signature && !in->wh_signature) {
        fprintf(stderr, "hookctl: --header: give the signature header as received\n");
        return 2;
    }
    if (in->scheme == HK_SIG_NONE) { /* the caller's scheme, never a guess from the value */
        if (in->signature && in->wh_signature) {
            fprintf(stderr,
                    "hookctl: --scheme: both an %s and a webhook-signature header; say "
                    "which scheme to check\n",
                    o->sig_name);
            return 2;
        }
        in->scheme = in->wh_signature ? HK_SIG_STANDARD : HK_SIG_TIMESTAMPED;
    }
    if (in->scheme == HK_SIG_STANDARD ? !in->wh_signature : !in->signature) {
        fprintf(stderr, "hookctl: --header: the %s scheme needs the %s header\n",
                in->scheme == HK_SIG_STANDARD ? "standard"
                : in->scheme == HK_SIG_BODY   ? "body"
                                              : "timestamped",
                in->scheme == HK_SIG_STANDARD ? "webhook-signature" : "X-Webhook-Signature");
        return 2;
    }
    return -1;
}

/* hk_verify's answer to the user: exit 0 valid, 1 not, 2 on a malformed header. */
static int verify_report(int rc, const char *detail)
{
    if (rc == HK_EINVAL) { /* a malformed header is bad input, whatever --json says */
        fprintf(stderr, "hookctl: %s\n", detail);
        return 2;
    }
    if (hk_cmd_json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "valid", rc == HK_OK);
        cJSON_AddStringToObject(o, "detail", detail);
        hk_print_json(o);
        cJSON_Delete(o);
    } else if (rc == HK_OK) {
        printf("%s\n", detail);
    } else {
        fprintf(stderr, "hookctl: %s\n", detail);
    }
    return rc == HK_OK ? 0 : 1;
}

int hk_cmd_verify(int argc, char **argv, const hk_config *cfg)
{
    (void)cfg;
    verify_opts o = {.in = {.tolerance_s = 300}};
    char *body = NULL;
    int rc = verify_flags(argc, argv, &o);
    if (rc < 0)
        rc = verify_check(&o);
    if (rc >= 0)
        return rc;
    if (o.body_file) {
        hk_buf text = {0};
        if (hk_cmd_read_file(o.body_file, &text) != HK_OK) {
            fprintf(stderr, "hookctl: --body-file: cannot read %s\n", o.body_file);
            return 2;
        }
        o.in.body_len = text.len;
        o.in.body = body = hk_buf_take(&text);
    }
    o.in.method = o.method ? o.method : (o.in.url && !o.body_file ? "GET" : "POST");
    char detail[256];
    rc = hk_verify(&o.in, detail, sizeof detail);
    free(body);
    return verify_report(rc, detail);
}
