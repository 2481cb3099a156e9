/*
 * test_cmd.c — hk_cmd (cmd/common/): a command's flags read by hk_cmd_next, getopt_long over
 * the command's table, in order and whole names only, as hookctl's hand-written loops did.
 */
#include "hk_cmd.h"

#include <criterion/criterion.h>

static const struct option flags[] = {
    {"help", no_argument, NULL, 'h'},
    {"file", required_argument, NULL, 'f'},
    {"flow", required_argument, NULL, 'F'},
    {0},
};

/* Reads argv (argv[0] the command's name) into "c:token=value;" steps, up to the end or the
 * first error. */
static void read_all(int argc, char **argv, char *out, size_t cap)
{
    hk_cmd_args args = {.argc = argc, .argv = argv, .flags = flags};
    size_t used = 0;
    out[0] = 0;
    for (int c; (c = hk_cmd_next(&args)) != -1;) {
        used += (size_t)snprintf(out + used, cap - used, "%c:%s=%s;", c == HK_CMD_ARG ? 'A' : c,
                                 args.token, args.value ? args.value : "");
        if (c == HK_CMD_UNKNOWN || c == HK_CMD_NO_VALUE)
            return;
    }
}

#define READ(expect, ...)                                                                          \
    do {                                                                                           \
        char *argv[] = {"cmd", __VA_ARGS__, NULL};                                                 \
        char got[512];                                                                             \
        read_all((int)(sizeof argv / sizeof *argv) - 1, argv, got, sizeof got);                    \
        cr_assert_str_eq(got, expect);                                                             \
    } while (0)

Test(cmd_args, flags_and_arguments_in_order)
{
    READ("A:wh_1=wh_1;f:--file=a.json;F:--flow=7;A:-=-;", "wh_1", "--file", "a.json", "--flow", "7",
         "-");
    READ("f:--file=x=y=x=y;h:--help=;", "--file=x=y", "--help"); /* token as typed, value */
    READ("f:--file=--flow;", "--file", "--flow");                /* a value may look like a flag */
}

Test(cmd_args, only_whole_names)
{
    READ("?:--fi=;", "--fi", "x");
    READ("?:--fl=;", "--fl", "7"); /* ambiguous too */
    READ("?:--frob=;", "--frob");
    READ("?:-f=;", "-f", "x");
    READ("A:a=a;?:--=;", "a", "--", "b");
    READ("?:--help=x=;", "--help=x");
}

Test(cmd_args, a_missing_value_names_the_flag)
{
    READ("A:wh_1=wh_1;::--file=;", "wh_1", "--file");
}

Test(cmd_args, starts_over_for_each_command)
{
    READ("F:--flow=1;", "--flow", "1");
    READ("F:--flow=2;", "--flow", "2");
}
