/*
 * fuzz_verify_header.c — libFuzzer target for hookctl verify's X-Webhook-Signature reader
 * (hk_signature_header_parse). Any bytes: never a crash, an out-of-bounds read or UB; a success
 * always has 1..8 values of 64 lowercase hex and a t no later than year 9999, and an error
 * always carries its one-line message.
 */
#include <stdlib.h>
#include <string.h>

#include "hk_delivery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_signature_header sh;
    hk_error err = {0};
    int rc = hk_signature_header_parse((const char *)data, size, &sh, &err);
    if (rc == HK_OK) {
        if (sh.n_sigs < 1 || sh.n_sigs > HK_SIGNATURE_MAX_SIGS || sh.t_ms > HK_SIGNATURE_T_MAX ||
            (!sh.has_t && sh.t_ms != 0))
            abort();
        for (size_t i = 0; i < sh.n_sigs; i++)
            if (strlen(sh.sigs[i]) != 64 || strspn(sh.sigs[i], "0123456789abcdef") != 64)
                abort();
    } else if (rc != HK_EINVAL || !err.msg[0]) {
        abort();
    }
    return 0;
}
