/*
 * fuzz_cidr.c — HOOKD_ALLOW_NETWORKS: hk_cidr_list_parse and hk_cidr_list_contains.
 * Input: NUL-separated fields
 *   list \0 address bytes (16: an IPv6 address, or its first 4 as IPv4) \0 family (first byte)
 * Checked: a list it accepts contains exactly what its entries contain, each entry taken alone;
 * an entry contains its own network with any host bits, and no address that differs inside the
 * prefix; an IPv4 entry contains the IPv4-mapped IPv6 form of the same addresses; refusals name
 * the variable.
 * Also issue 12's rule: a prefix is plain decimal digits ("/-0", "/+8", "/ 8" and, found here,
 * "/-1" are refused).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>

#include "fuzz_common.h"
#include "hk_delivery.h"

enum { F_LIST, F_ADDR, F_FAMILY, F_COUNT };

static struct sockaddr_storage make_sa(int family, const unsigned char *bytes)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, bytes, 4);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, bytes, 16);
    }
    return ss;
}

static bool contains(const hk_cidr_list *list, int family, const unsigned char *bytes)
{
    struct sockaddr_storage ss = make_sa(family, bytes);
    return hk_cidr_list_contains(list, (const struct sockaddr *)&ss);
}

/* One entry of an accepted list, read by hand: its family, network bytes and prefix. */
static bool read_entry(char *tok, int *family, unsigned char addr[16], int *prefix)
{
    char *slash = strchr(tok, '/');
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, tok, addr) == 1)
        *family = AF_INET;
    else if (inet_pton(AF_INET6, tok, addr) == 1)
        *family = AF_INET6;
    else
        return false;
    *prefix = slash ? (int)strtol(slash + 1, NULL, 10) : (*family == AF_INET ? 32 : 128);
    return true;
}

static void check_entry(const char *text, const unsigned char *fuzz_bytes)
{
    hk_cidr_list *one = NULL;
    hk_error err = {0};
    HK_FUZZ_CHECK(hk_cidr_list_parse(text, &one, &err) == HK_OK,
                  "entry '%s' of an accepted list refused alone: %s", text, err.msg);
    char *copy = hk_strdup(text);
    int family, prefix;
    unsigned char net[16] = {0};
    HK_FUZZ_CHECK(read_entry(copy, &family, net, &prefix), "entry '%s' unreadable", text);
    int bits = family == AF_INET ? 32 : 128;
    HK_FUZZ_CHECK(prefix >= 0 && prefix <= bits, "entry '%s': prefix %d accepted", text, prefix);

    /* The network with the fuzz bytes as host bits: inside. */
    unsigned char a[16];
    for (int i = 0; i < bits / 8; i++) {
        int keep = prefix - i * 8; /* network bits in this byte */
        unsigned char mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
        a[i] = (unsigned char)((net[i] & mask) | (fuzz_bytes[i] & ~mask));
    }
    HK_FUZZ_CHECK(contains(one, family, a), "'%s' does not contain an address of its own", text);
    if (family == AF_INET) {
        unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(mapped + 12, a, 4);
        HK_FUZZ_CHECK(contains(one, AF_INET6, mapped), "'%s' misses the mapped form", text);
    }
    /* One network bit flipped: outside. */
    if (prefix > 0) {
        int bit = fuzz_bytes[15] % prefix;
        a[bit / 8] ^= (unsigned char)(0x80 >> (bit % 8));
        HK_FUZZ_CHECK(!contains(one, family, a), "'%s' contains an address outside it (bit %d)",
                      text, bit);
    }
    free(copy);
    hk_cidr_list_destroy(one);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_fuzz_fields ff;
    hk_fuzz_split(data, size, F_COUNT, &ff);
    unsigned char bytes[16] = {0};
    memcpy(bytes, ff.f[F_ADDR], ff.len[F_ADDR] < 16 ? ff.len[F_ADDR] : 16);
    int family = ff.len[F_FAMILY] && (ff.f[F_FAMILY][0] & 1) ? AF_INET6 : AF_INET;

    hk_cidr_list *list = (hk_cidr_list *)1;
    hk_error err = {0};
    int rc = hk_cidr_list_parse(ff.f[F_LIST], &list, &err);
    if (rc != HK_OK) {
        HK_FUZZ_CHECK(rc == HK_EINVAL, "rc %d", rc);
        HK_FUZZ_CHECK(strstr(err.msg, "HOOKD_ALLOW_NETWORKS"), "refusal names no variable: %s",
                      err.msg);
        hk_fuzz_fields_free(&ff);
        return 0;
    }
    HK_FUZZ_CHECK(list != NULL, "HK_OK without a list");

    /* The list contains what any of its entries, alone, contains. */
    char *copy = hk_strdup(ff.f[F_LIST]), *save = NULL;
    bool any = false;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        char *end = tok + strlen(tok);
        while (end > tok && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (!*tok)
            continue;
        const char *slash = strchr(tok, '/');
        bool plain_prefix =
            !slash || (slash[1] && strspn(slash + 1, "0123456789") == strlen(slash + 1));
        HK_FUZZ_CHECK(plain_prefix, "'%s' accepted: its prefix is not decimal digits", tok);
        if (plain_prefix)
            check_entry(tok, bytes);
        hk_cidr_list *one = NULL;
        HK_FUZZ_CHECK(hk_cidr_list_parse(tok, &one, &err) == HK_OK, "entry '%s'", tok);
        any = any || contains(one, family, bytes);
        hk_cidr_list_destroy(one);
    }
    HK_FUZZ_CHECK(contains(list, family, bytes) == any,
                  "the list and its entries disagree on an address");
    HK_FUZZ_CHECK(!hk_cidr_list_contains(
                      NULL, (const struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET}),
                  "a NULL list contains something");
    free(copy);
    hk_cidr_list_destroy(list);
    hk_fuzz_fields_free(&ff);
    return 0;
}
