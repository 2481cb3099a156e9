/*
 * args.c — reading a command's flags with getopt_long, in order, whole names only.
 */
#include "hk_cmd.h"

#include <string.h>

/* True when token is "--name" or "--name=..." for one of the table's names. getopt_long would
 * also take an unambiguous prefix ("--fi" for --file); hookctl never has, so neither does this. */
static bool whole_name(const struct option *flags, const char *token)
{
    if (strncmp(token, "--", 2) != 0)
        return false;
    const char *name = token + 2;
    size_t len = strcspn(name, "=");
    for (const struct option *f = flags; f->name; f++)
        if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
            return true;
    return false;
}

int hk_cmd_next(hk_cmd_args *a)
{
    if (!a->started) {
        a->started = true;
        optind = 0; /* glibc: start over (a fresh argv), in the mode the optstring asks */
    }
    opterr = 0;
    int at = optind ? optind : 1;
    /* "-": every argument is returned in order (HK_CMD_ARG), none moved; ":": a missing value
     * is ':' rather than '?'. No short flags. */
    int c = getopt_long(a->argc, a->argv, "-:", a->flags, NULL);
    a->token = at < a->argc ? a->argv[at] : NULL;
    a->value = optarg;
    if (c == -1) {
        if (a->token && strcmp(a->token, "--") == 0)
            return HK_CMD_UNKNOWN; /* "--" ends nothing here: it is an unknown flag */
        return -1;
    }
    if (c == HK_CMD_ARG)
        return HK_CMD_ARG;
    if (!a->token || !whole_name(a->flags, a->token)) {
        a->value = NULL; /* getopt_long took an abbreviation and maybe its value */
        return HK_CMD_UNKNOWN;
    }
    if (c == ':')
        return HK_CMD_NO_VALUE;
    if (c == '?')
        return HK_CMD_UNKNOWN; /* a value given to a flag that takes none: --flag=x */
    return c;
}
