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
