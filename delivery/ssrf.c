/*
 * ssrf.c — the private-address guard: which addresses a webhook may never reach, and the
 * HOOKD_ALLOW_NETWORKS exemptions. The engine calls hk_ssrf_classify() on the address curl is
 * about to connect to, after DNS, so it judges what is really dialled. IPv6 forms that carry an
 * IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that IPv4 address.
 */
#include "hk_delivery.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

typedef struct cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network, in network order */
    int prefix;
} cidr;

struct hk_cidr_list {
    cidr *items;
    size_t len;
};

static bool prefix_match(const unsigned char *a, const unsigned char *net, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

static const char *classify_v4(const unsigned char a[4])
{
    static const struct {
        unsigned char net[4];
        int prefix;
        const char *reason;
    } ranges[] = {
        {{0, 0, 0, 0}, 8, "unspecified"},       {{10, 0, 0, 0}, 8, "private"},
        {{100, 64, 0, 0}, 10, "cgnat"},         {{127, 0, 0, 0}, 8, "loopback"},
        {{169, 254, 0, 0}, 16, "link-local"},   {{172, 16, 0, 0}, 12, "private"},
        {{192, 0, 0, 0}, 24, "reserved"},       {{192, 0, 2, 0}, 24, "reserved"},
        {{192, 168, 0, 0}, 16, "private"},      {{198, 18, 0, 0}, 15, "reserved"},
        {{198, 51, 100, 0}, 24, "reserved"},    {{203, 0, 113, 0}, 24, "reserved"},
        {{224, 0, 0, 0}, 4, "multicast"},       {{240, 0, 0, 0}, 4, "reserved"},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (prefix_match(a, ranges[i].net, ranges[i].prefix))
            return ranges[i].reason;
    return NULL;
}

/* The IPv4 address an IPv6 address stands for, if any. */
static bool embedded_v4(const unsigned char a[16], unsigned char v4[4])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char compat[12] = {0};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0 ||
        (memcmp(a, compat, 12) == 0 && (a[12] | a[13] | a[14] | a[15]) != 0 &&
         !(a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] == 1))) {
        memcpy(v4, a + 12, 4);
        return true;
    }
    if (a[0] == 0x20 && a[1] == 0x02) { /* 6to4: 2002:AABB:CCDD::/48 */
        memcpy(v4, a + 2, 4);
        return true;
    }
    return false;
}

static const char *classify_v6(const unsigned char a[16])
{
    static const unsigned char zero[16] = {0};
    static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    unsigned char v4[4];
    if (memcmp(a, zero, 16) == 0)
        return "unspecified";
    if (memcmp(a, one, 16) == 0)
        return "loopback";
    if (embedded_v4(a, v4))
        return classify_v4(v4);
    if ((a[0] & 0xfe) == 0xfc)
        return "private"; /* fc00::/7 unique local */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return "link-local"; /* fe80::/10 */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return "reserved"; /* fec0::/10 site-local */
    if (a[0] == 0xff)
        return "multicast";
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
        return "reserved"; /* 2001:db8::/32 documentation */
    return NULL;
}

const char *hk_ssrf_classify(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return classify_v4((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family == AF_INET6)
        return classify_v6((const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return "reserved"; /* not an internet address at all */
}

int hk_cidr_list_parse(const char *csv, hk_cidr_list **out, hk_error *err)
{
    hk_cidr_list *list = hk_xcalloc(1, sizeof *list);
    char *copy = hk_strdup(csv ? csv : ""), *save = NULL;
    int rc = HK_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        char *end = tok + strlen(tok);
        while (end > tok && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (!*tok)
            continue;
        cidr c = {0};
        char *slash = strchr(tok, '/');
        long prefix = -1;
        if (slash) {
            *slash = '\0';
            char *pend;
            prefix = strtol(slash + 1, &pend, 10);
            if (!slash[1] || *pend)
                prefix = -2;
        }
        if (inet_pton(AF_INET, tok, c.addr) == 1) {
            c.family = AF_INET;
            if (prefix == -1)
                prefix = 32;
            if (prefix < 0 || prefix > 32)
                goto bad;
        } else if (inet_pton(AF_INET6, tok, c.addr) == 1) {
            c.family = AF_INET6;
            if (prefix == -1)
                prefix = 128;
            if (prefix < 0 || prefix > 128)
                goto bad;
        } else {
            goto bad;
        }
        c.prefix = (int)prefix;
        list->items = hk_xrealloc(list->items, (list->len + 1) * sizeof *list->items);
        list->items[list->len++] = c;
        continue;
    bad:
        if (slash)
            *slash = '/';
        rc = hk_error_set(err, HK_EINVAL, "HOOKD_ALLOW_NETWORKS", "'%s' is not an address or CIDR",
                          tok);
        break;
    }
    free(copy);
    if (rc != HK_OK) {
        hk_cidr_list_destroy(list);
        return rc;
    }
    *out = list;
    return HK_OK;
}

void hk_cidr_list_destroy(hk_cidr_list *list)
{
    if (!list)
        return;
    free(list->items);
    free(list);
}

bool hk_cidr_list_contains(const hk_cidr_list *list, const struct sockaddr *sa)
{
    if (!list)
        return false;
    const unsigned char *a4 = NULL, *a6 = NULL;
    unsigned char v4[4];
    if (sa->sa_family == AF_INET) {
        a4 = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        a6 = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a6, mapped, 12) == 0) {
            memcpy(v4, a6 + 12, 4);
            a4 = v4; /* an IPv4 CIDR covers its IPv4-mapped form too */
        }
    }
    for (size_t i = 0; i < list->len; i++) {
        const cidr *c = &list->items[i];
        if (c->family == AF_INET && a4 && prefix_match(a4, c->addr, c->prefix))
            return true;
        if (c->family == AF_INET6 && a6 && prefix_match(a6, c->addr, c->prefix))
            return true;
    }
    return false;
}
