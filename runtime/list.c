/* list [--format table|json] [--quiet]: every container under the state root. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"

int
verb_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct bk_err err = BK_ERR_INIT;
	bool json = false, quiet = false;
	char *text = NULL;
	json_t *arr, *e;
	size_t i;
	int c;

	opterr = 0;
	while ((c = getopt_long_only(argc, argv, "+f:q", opts, NULL)) != -1) {
		if (c == 'q')
			quiet = true;
		else if (c == 'f' && (!strcmp(optarg, "json") || !strcmp(optarg, "table")))
			json = strcmp(optarg, "json") == 0;
		else
			return cli_usage(cli, "list", "expects [--format table|json] [--quiet]");
	}
	if (bk_rt_list(&cli->rt, &text, &err) < 0)
		return cli_fail(cli, &err);
	if (json) {
		printf("%s\n", text);
		free(text);
		return 0;
	}
	arr = json_loads(text, 0, NULL);
	free(text);
	if (!quiet)
		printf("%-24s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE",
		       "CREATED", "OWNER");
	json_array_foreach (arr, i, e) {
		if (quiet)
			printf("%s\n", json_string_value(json_object_get(e, "id")));
		else
			printf("%-24s %-8lld %-10s %-40s %-32s %s\n",
			       json_string_value(json_object_get(e, "id")),
			       (long long)json_integer_value(json_object_get(e, "pid")),
			       json_string_value(json_object_get(e, "status")),
			       json_string_value(json_object_get(e, "bundle")),
			       json_string_value(json_object_get(e, "created")), "root");
	}
	json_decref(arr);
	return 0;
}
