/* inbound/: the receiving side's logic (endpoints, verification, payloads, the record), with no
 * Kafka, Redis or socket. */
#include <criterion/criterion.h>
#include <string.h>

#include "hk_inbound.h"

Test(request, headers_by_name_and_query_parameters)
{
    hk_kv headers[] = {{.key = "Content-Type", .value = "application/json"},
                       {.key = "X-Hub-Signature-256", .value = "sha256=ab"}};
    hk_inbound_request req = {.method = "GET",
                              .path = "/in/in_1",
                              .query = "hub.mode=subscribe&hub.challenge=a%2Bb+c&flag&x=%zz",
                              .headers = headers,
                              .headers_len = 2};
    cr_assert_str_eq(hk_inbound_header(&req, "x-hub-signature-256"), "sha256=ab");
    cr_assert_null(hk_inbound_header(&req, "X-Missing"));
    char v[64];
    cr_assert(hk_inbound_query_param(&req, "hub.challenge", v, sizeof v));
    cr_assert_str_eq(v, "a+b c");
    cr_assert(hk_inbound_query_param(&req, "flag", v, sizeof v));
    cr_assert_str_eq(v, "");
    cr_assert(hk_inbound_query_param(&req, "x", v, sizeof v));
    cr_assert_str_eq(v, "%zz", "a bad escape is kept as written");
    cr_assert_not(hk_inbound_query_param(&req, "hub", v, sizeof v));
    char small[4];
    cr_assert(hk_inbound_query_param(&req, "hub.mode", small, sizeof small));
    cr_assert_str_eq(small, "sub", "cut to the buffer");
}
