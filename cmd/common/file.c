/*
 * file.c — reading a file named on a command line (or standard input for "-"), as bytes or as
 * one strict JSON value.
 */
#include "hk_cmd.h"

#include <string.h>

int hk_cmd_read_file(const char *path, hk_buf *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return HK_ERR;
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        hk_buf_append(out, chunk, r);
    if (f != stdin)
        fclose(f);
    return HK_OK;
}

int hk_cmd_load_json(const char *path, const char *flag, cJSON **out, hk_error *err)
{
    *out = NULL;
    hk_buf text = {0};
    if (hk_cmd_read_file(path, &text) != HK_OK)
        return hk_error_set(err, HK_EINVAL, flag, "cannot read %s", path);
    int rc = hk_json_refuse_nul(text.data ? text.data : "", text.len, flag, err);
    if (rc == HK_OK && !(*out = hk_json_parse_whole(text.data ? text.data : "", text.len, NULL)))
        rc = hk_error_set(err, HK_EINVAL, flag, "not valid JSON");
    hk_buf_free(&text);
    return rc;
}
