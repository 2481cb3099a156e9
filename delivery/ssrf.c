/*
 * ssrf.c — the private-address guard: which addresses a webhook may never reach, and the
 * HOOKD_ALLOW_NETWORKS exemptions. The engine calls hk_ssrf_classify() on the address curl is
 * about to connect to, after DNS, so it judges what is really dialled. IPv6 forms that carry an
 * IPv4 address (mapped, translated, compatible, NAT64, 6to4, Teredo) are judged by that IPv4
 * address; IPv6 outside global unicast (2000::/3) is never a webhook receiver and is refused.
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
        {{0, 0, 0, 0}, 8, "unspecified"},     {{10, 0, 0, 0}, 8, "private"},
        {{100, 64, 0, 0}, 10, "cgnat"},       {{127, 0, 0, 0}, 8, "loopback"},
        {{169, 254, 0, 0}, 16, "link-local"}, {{172, 16, 0, 0}, 12, "private"},
        {{192, 0, 0, 0}, 24, "reserved"},     {{192, 0, 2, 0}, 24, "reserved"},
        {{192, 168, 0, 0}, 16, "private"},    {{198, 18, 0, 0}, 15, "reserved"},
        {{198, 51, 100, 0}, 24, "reserved"},  {{203, 0, 113, 0}, 24, "reserved"},
        {{224, 0, 0, 0}, 4, "multicast"},     {{240, 0, 0, 0}, 4, "reserved"},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (prefix_match(a, ranges[i].net, ranges[i].prefix))
            return ranges[i].reason;
    return NULL;
}

/* The IPv4 address an IPv6 address stands for, if any: IPv4-mapped ::ffff:0:0/96,
 * IPv4-translated ::ffff:0:0:0/96 (SIIT, written ::ffff:0:a.b.c.d), IPv4-compatible ::/96 (but
 * :: and ::1), the well-known NAT64 prefix 64:ff9b::/96 and 6to4 2002::/16. */
static bool embedded_v4(const unsigned char a[16], unsigned char v4[4])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char translated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
    static const unsigned char compat[12] = {0};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, translated, 12) == 0 || memcmp(a, nat64, 12) == 0 ||
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

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Local-use NAT64, 64:ff9b:1::/48 (RFC 8215). The network's translator may use any prefix of
 * /48 or longer, so where the IPv4 address sits (RFC 6052 section 2.2) is not known: every
 * layout the address fits is judged, and one non-public reading refuses it. An address that
 * fits no layout (bits 64-71 set) shows nothing public and is refused. */
static const char *classify_nat64_local(const unsigned char a[16])
{
    if (a[8] != 0)
        return "reserved";
    const struct {
        unsigned char at[4]; /* bytes of the IPv4 address, in order */
        size_t suffix;       /* first byte of the zero suffix */
    } layouts[] = {
        {{6, 7, 9, 10}, 11},    /* /48 */
        {{7, 9, 10, 11}, 12},   /* /56 */
        {{9, 10, 11, 12}, 13},  /* /64 */
        {{12, 13, 14, 15}, 16}, /* /96 */
    };
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        if (!all_zero(a + layouts[i].suffix, 16 - layouts[i].suffix))
            continue;
        unsigned char v4[4];
        for (int k = 0; k < 4; k++)
            v4[k] = a[layouts[i].at[k]];
        const char *why = classify_v4(v4);
        if (why)
            return why;
    }
    return NULL; /* the /96 layout always fits, so some reading was judged public */
}

/* Teredo, 2001::/32 (RFC 4380): 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC, the server's IPv4 in
 * bits 32-63 and the client's in the last 32 bits, inverted. The packet ends up at the client,
 * by way of the server and a relay: both must be public. */
static const char *classify_teredo(const unsigned char a[16])
{
    unsigned char client[4], server[4];
    for (int k = 0; k < 4; k++)
        client[k] = (unsigned char)(a[12 + k] ^ 0xff);
    memcpy(server, a + 4, 4);
    const char *why = classify_v4(client);
    return why ? why : classify_v4(server);
}

static const char *classify_v6(const unsigned char a[16])
{
    static const unsigned char zero[16] = {0};
    static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 1};
    static const unsigned char teredo[4] = {0x20, 0x01, 0, 0};
    unsigned char v4[4];
    if (memcmp(a, zero, 16) == 0)
        return "unspecified";
    if (memcmp(a, one, 16) == 0)
        return "loopback";
    if (embedded_v4(a, v4))
        return classify_v4(v4);
    if (memcmp(a, nat64_local, 6) == 0)
        return classify_nat64_local(a);
    if (memcmp(a, teredo, 4) == 0)
        return classify_teredo(a);
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
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0x02 && a[4] == 0 && a[5] == 0)
        return "reserved"; /* 2001:2::/48 benchmarking */
    if ((a[0] & 0xe0) != 0x20)
        return "reserved"; /* outside 2000::/3, the only global unicast space (64:ff9b::/32
                              beyond the NAT64 prefixes, 100::/64 discard, ...) */
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
        /* The prefix length is plain decimal digits and nothing else: strtol alone would take
         * "-0", "+8" and " 8", and "10.0.0.0/-0" would then exempt all of IPv4. */
        int prefix = -1, max;
        bool bad_prefix = false;
        if (slash) {
            *slash = '\0';
            size_t digits = strspn(slash + 1, "0123456789");
            bad_prefix = digits == 0 || digits > 3 || slash[1 + digits] != '\0';
            if (!bad_prefix)
                prefix = atoi(slash + 1);
        }
        if (inet_pton(AF_INET, tok, c.addr) == 1) {
            c.family = AF_INET;
            max = 32;
        } else if (inet_pton(AF_INET6, tok, c.addr) == 1) {
            c.family = AF_INET6;
            max = 128;
        } else {
            if (slash)
                *slash = '/';
            rc = hk_error_set(err, HK_EINVAL, "HOOKD_ALLOW_NETWORKS",
                              "'%s' is not an address or CIDR", tok);
            break;
        }
        if (bad_prefix || prefix > max) {
            *slash = '/';
            rc = hk_error_set(err, HK_EINVAL, "HOOKD_ALLOW_NETWORKS",
                              "'%s': the prefix length must be a number from 0 to %d", tok, max);
            break;
        }
        c.prefix = prefix < 0 ? max : prefix;
        list->items = hk_xrealloc(list->items, (list->len + 1) * sizeof *list->items);
        list->items[list->len++] = c;
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

/* Whether the list's entries of family cover all of the block net/len: one entry holds it, or
 * both its halves are covered. Only blocks with an entry strictly inside are split, so the
 * walk stays within (entries x address bits) steps. */
static bool covers_block(const hk_cidr_list *list, int family, const unsigned char net[16], int len,
                         int max)
{
    bool split = false;
    for (size_t i = 0; i < list->len; i++) {
        const cidr *c = &list->items[i];
        if (c->family != family)
            continue;
        if (c->prefix <= len && prefix_match(net, c->addr, c->prefix))
            return true;
        if (c->prefix > len && prefix_match(c->addr, net, len))
            split = true;
    }
    if (!split || len >= max)
        return false;
    unsigned char half[16];
    memcpy(half, net, 16);
    if (!covers_block(list, family, half, len + 1, max))
        return false;
    half[len / 8] |= (unsigned char)(0x80 >> (len % 8));
    return covers_block(list, family, half, len + 1, max);
}

bool hk_cidr_list_covers_all(const hk_cidr_list *list, int family)
{
    static const unsigned char zero[16] = {0};
    if (!list || (family != AF_INET && family != AF_INET6))
        return false;
    return covers_block(list, family, zero, 0, family == AF_INET ? 32 : 128);
}
