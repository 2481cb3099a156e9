/* delivery: the private-address classifier and HOOKD_ALLOW_NETWORKS. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "hk_delivery.h"

static struct sockaddr_storage addr(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1)
        v4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1)
        v6->sin6_family = AF_INET6;
    else
        cr_assert_fail("bad test address %s", text);
    return ss;
}

static const char *classify(const char *text)
{
    struct sockaddr_storage ss = addr(text);
    return hk_ssrf_classify((struct sockaddr *)&ss);
}

Test(ssrf, refused_ranges)
{
    static const struct {
        const char *addr;
        const char *reason;
    } cases[] = {
        {"0.0.0.0", "unspecified"},        {"0.1.2.3", "unspecified"},
        {"10.0.0.1", "private"},           {"10.255.255.255", "private"},
        {"172.16.0.1", "private"},         {"172.31.255.254", "private"},
        {"192.168.1.1", "private"},        {"127.0.0.1", "loopback"},
        {"127.255.0.9", "loopback"},       {"169.254.169.254", "link-local"},
        {"169.254.0.1", "link-local"},     {"100.64.0.1", "cgnat"},
        {"100.127.255.255", "cgnat"},      {"224.0.0.1", "multicast"},
        {"239.255.255.250", "multicast"},  {"240.0.0.1", "reserved"},
        {"255.255.255.255", "reserved"},   {"198.18.0.1", "reserved"},
        {"::", "unspecified"},             {"::1", "loopback"},
        {"fc00::1", "private"},            {"fd12:3456::1", "private"},
        {"fe80::1", "link-local"},         {"febf::1", "link-local"},
        {"ff02::1", "multicast"},          {"fec0::1", "reserved"},
        {"::ffff:127.0.0.1", "loopback"},  {"::ffff:10.0.0.1", "private"},
        {"::ffff:169.254.169.254", "link-local"}, {"::ffff:0.0.0.0", "unspecified"},
        {"::127.0.0.1", "loopback"},       {"64:ff9b::10.0.0.1", "private"},
        {"64:ff9b::a9fe:a9fe", "link-local"}, {"2002:7f00:1::", "loopback"},
        {"2002:c0a8:101::1", "private"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = classify(cases[i].addr);
        cr_assert_not_null(why, "%s must be refused", cases[i].addr);
        cr_assert_str_eq(why, cases[i].reason, "%s", cases[i].addr);
    }
}

Test(ssrf, public_addresses_pass)
{
    const char *ok[] = {"8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "100.63.255.255",
                        "100.128.0.1", "169.253.255.255", "11.0.0.1", "2606:4700::1111",
                        "2a00:1450:4001::200e", "::ffff:8.8.8.8", "64:ff9b::808:808",
                        "2002:808:808::1"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_assert_null(classify(ok[i]), "%s is public", ok[i]);
}

Test(ssrf, allow_list)
{
    hk_cidr_list *list = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_cidr_list_parse(" 127.0.0.0/8, 10.1.2.3 ,fd00::/8", &list, &err), HK_OK, "%s",
                 err.msg);
    struct sockaddr_storage a = addr("127.9.9.9"), b = addr("10.1.2.3"), c = addr("10.1.2.4"),
                            d = addr("fd00::5"), e = addr("::ffff:127.0.0.1"), f = addr("::1");
    cr_assert(hk_cidr_list_contains(list, (struct sockaddr *)&a));
    cr_assert(hk_cidr_list_contains(list, (struct sockaddr *)&b));
    cr_assert_not(hk_cidr_list_contains(list, (struct sockaddr *)&c), "a bare address is /32");
    cr_assert(hk_cidr_list_contains(list, (struct sockaddr *)&d));
    cr_assert(hk_cidr_list_contains(list, (struct sockaddr *)&e), "IPv4-mapped form covered");
    cr_assert_not(hk_cidr_list_contains(list, (struct sockaddr *)&f));
    hk_cidr_list_destroy(list);

    cr_assert_eq(hk_cidr_list_parse("", &list, &err), HK_OK);
    cr_assert_not(hk_cidr_list_contains(list, (struct sockaddr *)&a), "empty list allows nothing");
    hk_cidr_list_destroy(list);

    const char *bad[] = {"127.0.0.0/33", "10.0.0.0/", "nonsense", "::1/129", "1.2.3.4/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(hk_cidr_list_parse(bad[i], &list, &err), HK_EINVAL, "%s", bad[i]);
        cr_assert_str_eq(err.field, "HOOKD_ALLOW_NETWORKS");
        cr_assert(strstr(err.msg, bad[i]) != NULL, "%s", err.msg);
    }
}

/* Issue 12: the IPv6 forms that carry an IPv4 address the guard used to miss. */
Test(ssrf, ipv4_translated_nat64_local_and_teredo)
{
    static const struct {
        const char *addr;
        const char *reason;
    } cases[] = {
        /* IPv4-translated (SIIT) ::ffff:0:0:0/96 */
        {"::ffff:0:127.0.0.1", "loopback"},
        {"::ffff:0:10.1.2.3", "private"},
        {"::ffff:0:169.254.169.254", "link-local"},
        {"::ffff:0:0.0.0.0", "unspecified"},
        /* local-use NAT64 64:ff9b:1::/48, IPv4 in the /96 layout */
        {"64:ff9b:1::127.0.0.1", "loopback"},
        {"64:ff9b:1::a9fe:a9fe", "link-local"},
        {"64:ff9b:1::a00:1", "private"},
        {"64:ff9b:1::6464:64c8", "cgnat"}, /* 100.100.100.200, Alibaba's metadata */
        /* ... in the /48 layout (bytes 6,7,9,10) and the /64 layout (bytes 9-12) */
        {"64:ff9b:1:7f00:0:100::", "loopback"},
        {"64:ff9b:1:0:a:0:100:0", "private"},
        /* bits 64-71 set: fits no RFC 6052 layout, nothing public shown */
        {"64:ff9b:1:0:100::808:808", "reserved"},
        /* Teredo 2001::/32: client = last 32 bits inverted, server = bits 32-63 */
        {"2001:0:808:808::80ff:fffe", "loopback"},   /* client 127.0.0.1 */
        {"2001:0:808:808:0:0:f5ff:fffe", "private"}, /* client 10.0.0.1 */
        {"2001:0:808:808::5601:5601", "link-local"}, /* client 169.254.169.254 */
        {"2001:0:a00:1::f7f7:f7f7", "private"},      /* public client 8.8.8.8, server 10.0.0.1 */
        /* outside 2000::/3 there is no receiver */
        {"64:ff9b:0:0:1::1", "reserved"},
        {"100::1", "reserved"},
        {"4000::1", "reserved"},
        {"2001:2::1", "reserved"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = classify(cases[i].addr);
        cr_expect_not_null(why, "%s must be refused", cases[i].addr);
        if (why)
            cr_expect_str_eq(why, cases[i].reason, "%s", cases[i].addr);
    }
    const char *ok[] = {"::ffff:0:8.8.8.8", "64:ff9b:1::808:808", "2001:0:808:808::f7f7:f7f7",
                        "2001:4860:4860::8888", "3fff:ffff::1"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_expect_null(classify(ok[i]), "%s is public (%s)", ok[i], classify(ok[i]));
}

Test(ssrf, allow_list_parsing_is_strict)
{
    hk_cidr_list *list = NULL;
    hk_error err = {0};
    const char *bad[] = {"10.0.0.0/-0",  "10.0.0.0/+8",    "10.0.0.0/ 8",   "10.0.0.0/",
                         "10.0.0.0/33",  "::/129",         "10.0.0.0/8x",   "10.0.0.0/8/8",
                         "10.0.0.0/0x8", "10.0.0.0 /8",    "10.0.0.0/0008", "127.0.0.1,::1/-1",
                         "fd00::/+8",    "10.0.0.0/8 junk"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        list = NULL;
        memset(&err, 0, sizeof err);
        int rc = hk_cidr_list_parse(bad[i], &list, &err);
        cr_expect_eq(rc, HK_EINVAL, "%s is accepted", bad[i]);
        if (rc != HK_EINVAL) {
            hk_cidr_list_destroy(list);
            continue;
        }
        cr_expect_null(list);
        cr_expect_str_eq(err.field, "HOOKD_ALLOW_NETWORKS");
        const char *entry = strrchr(bad[i], ',') ? strrchr(bad[i], ',') + 1 : bad[i];
        cr_expect(strstr(err.msg, entry) != NULL, "%s: %s", bad[i], err.msg);
    }
    struct sockaddr_storage meta = addr("169.254.169.254");
    const char *good[] = {"10.0.0.0/8",  "10.0.0.0/0", "::/0",
                          "10.1.2.3/32", "fd00::/08",  " 127.0.0.0/8 , ::1 "};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cr_assert_eq(hk_cidr_list_parse(good[i], &list, &err), HK_OK, "%s: %s", good[i], err.msg);
        hk_cidr_list_destroy(list);
    }
    cr_assert_eq(hk_cidr_list_parse("10.0.0.0/8", &list, &err), HK_OK);
    cr_assert_not(hk_cidr_list_contains(list, (struct sockaddr *)&meta));
    hk_cidr_list_destroy(list);
}

Test(ssrf, warning_predicate_covers_all)
{
    static const struct {
        const char *csv;
        bool v4, v6;
    } cases[] = {
        {"", false, false},
        {"127.0.0.0/8,::1", false, false},
        {"0.0.0.0/0", true, false},
        {"::/0", false, true},
        {"1.2.3.4/0", true, false}, /* host bits do not matter */
        {"0.0.0.0/1,128.0.0.0/1", true, false},
        {"0.0.0.0/1,128.0.0.0/2,192.0.0.0/2", true, false},
        {"0.0.0.0/1,128.0.0.0/2", false, false},
        {"::/1,8000::/1,10.0.0.0/8", false, true},
        {"0.0.0.0/0,::/0", true, true},
        {"::ffff:0:0/96", false, false}, /* all IPv4-mapped, not every address */
        {"0.0.0.0/1,127.0.0.0/8,192.0.0.0/3,160.0.0.0/3,128.0.0.0/3", false, false},
        {"0.0.0.0/1,127.0.0.0/8,192.0.0.0/3,160.0.0.0/3,128.0.0.0/3,224.0.0.0/3", true, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hk_cidr_list *list = NULL;
        hk_error err = {0};
        cr_assert_eq(hk_cidr_list_parse(cases[i].csv, &list, &err), HK_OK, "%s", err.msg);
        cr_expect_eq(hk_cidr_list_covers_all(list, AF_INET), cases[i].v4, "%s v4", cases[i].csv);
        cr_expect_eq(hk_cidr_list_covers_all(list, AF_INET6), cases[i].v6, "%s v6", cases[i].csv);
        hk_cidr_list_destroy(list);
    }
    cr_assert_not(hk_cidr_list_covers_all(NULL, AF_INET));
}
