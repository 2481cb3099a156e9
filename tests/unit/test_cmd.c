/*
 * test_cmd.c — hk_cmd (cmd/common/): a command's flags read by hk_cmd_next, getopt_long over
 * the command's table, in order and whole names only, as hookctl's hand-written loops did; and
 * `hookctl inbound wait --match 'PATH=VALUE'` read by hk_cmd_wait_match.
 */
#include "hk_cmd.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ------------------------------------------------- hookctl inbound wait --match (inbound.c) --- */

/* arg read by hk_cmd_wait_match as "<path> <value as compact JSON>", or "error: <message>". */
static void match(const char *arg, char *out, size_t cap)
{
    char *path = NULL;
    cJSON *value = NULL;
    hk_error err = {0};
    if (hk_cmd_wait_match(arg, &path, &value, &err) != HK_OK) {
        cr_assert_null(path);
        cr_assert_null(value);
        cr_assert_str_eq(err.field, "--match");
        snprintf(out, cap, "error: %s", err.msg);
        return;
    }
    char *text = cJSON_PrintUnformatted(value);
    snprintf(out, cap, "%s %s", path, text);
    free(text);
    free(path);
    cJSON_Delete(value);
}

#define MATCH(arg, expect)                                                                         \
    do {                                                                                           \
        char got[512];                                                                             \
        match(arg, got, sizeof got);                                                               \
        cr_assert_str_eq(got, expect, "%s", arg);                                                  \
    } while (0)

Test(cmd_wait_match, value_is_json_when_it_parses_else_the_string_as_written)
{
    MATCH("$.n=3", "$.n 3");
    MATCH("$.t=message", "$.t \"message\"");
    MATCH("$.t=\"3\"", "$.t \"3\"");
    MATCH("$.b=true", "$.b true");
    MATCH("$.z=null", "$.z null");
    MATCH("$.o={\"a\":[1,2]}", "$.o {\"a\":[1,2]}");
    MATCH("$.x= 3 ", "$.x 3");                           /* JSON's own whitespace */
    MATCH("$.o={\"a\":1} x", "$.o \"{\\\"a\\\":1} x\""); /* not one whole value: a string */
    MATCH("$.t=3abc", "$.t \"3abc\"");
    MATCH("$.e=", "$.e \"\"");
}

Test(cmd_wait_match, splits_at_the_first_equals_outside_a_quoted_name)
{
    MATCH("$.a=b=c", "$.a \"b=c\"");
    MATCH("$['a=b']=1", "$['a=b'] 1");
    MATCH("$[\"a=b\"]=x", "$[\"a=b\"] \"x\"");
    MATCH("$['x']['a=b'][0]=1", "$['x']['a=b'][0] 1");
    MATCH("$['it\\'s=']=1", "$['it\\'s='] 1"); /* \' does not close the name */
    MATCH("$[\"a\\\\\"]=1", "$[\"a\\\\\"] 1"); /* \\ does not escape the closing quote */
    MATCH("$.it's=1", "$.it's 1");             /* a quote opens a name only after '[' */
    MATCH("$[ 'a=b']=1", "$[ 'a=b'] 1");
}

Test(cmd_wait_match, refusals_name_the_flag)
{
    char got[512];
    match("$.a", got, sizeof got);
    cr_assert(strstr(got, "error: --match: expected PATH=VALUE"), "%s", got);
    match("$['a=b", got, sizeof got); /* the '=' is inside a name never closed */
    cr_assert(strstr(got, "error: --match: expected PATH=VALUE"), "%s", got);
    match("=3", got, sizeof got);
    cr_assert(strstr(got, "error: --match: the path before '=' is empty"), "%s", got);
    match("$.a=\"x\\u0000y\"", got, sizeof got);
    cr_assert(strstr(got, "error: --match: the value after '=' is JSON with a \\u0000"), "%s", got);
}
