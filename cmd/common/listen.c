/*
 * listen.c — reading a listener's "host:port" setting (HOOKD_LISTEN, HOOKD_PROBE_LISTEN,
 * HOOKD_INGRESS_LISTEN) into an IPv4 socket address, with one error naming the setting.
 */
#include "hk_cmd.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hk_cmd_listen_addr(const char *field, const char *listen, struct sockaddr_in *out,
                       hk_error *err)
{
    const char *colon = strrchr(listen, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || !*(colon + 1) || *end || port < 0 || port > 65535)
        return hk_error_set(err, HK_EINVAL, field, "expected host:port, got '%s'", listen);
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    *out = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, *host ? host : "0.0.0.0", &out->sin_addr) != 1)
        return hk_error_set(err, HK_EINVAL, field, "'%s' is not an IPv4 address", host);
    return HK_OK;
}
