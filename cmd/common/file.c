/*
 * file.c — reading a file named on a command line (or standard input for "-").
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
