/* cmd/logplane/iam.c: `logplane iam-policy [--markdown|--calls]`, the
 * operator's IAM policy from the one table in pkg/aws/iam.c. */
#include <stdio.h>
#include <string.h>
#include "../../pkg/aws/iam.h"
#include "../../pkg/util/mem.h"
#include "cli.h"

int lp_cli_iam_policy(int argc, char **argv)
{
	const struct lp_aws_iam_action *a;
	char *text = NULL;
	size_t n;
	lp_err err;

	if (argc > 2 ||
	    (argc == 2 && strcmp(argv[1], "--markdown") != 0 && strcmp(argv[1], "--calls") != 0)) {
		fprintf(stderr,
		        "logplane iam-policy: unknown argument \"%s\" (want --markdown or "
		        "--calls, or nothing for the policy JSON)\n",
		        argv[argc - 1]);
		return 2;
	}
	if (argc == 2 && !strcmp(argv[1], "--calls")) {
		a = lp_aws_iam_actions(&n);
		for (size_t i = 0; i < n; i++)
			printf("%s\t%s\t%s\n", a[i].action, a[i].service, a[i].operation);
		return 0;
	}
	err = argc == 2 ? lp_aws_iam_markdown(&text) : lp_aws_iam_policy_json(&text);
	if (err) {
		fprintf(stderr, "logplane iam-policy: %s\n", lp_strerror(err));
		return 2;
	}
	fputs(text, stdout);
	lp_free(text);
	return 0;
}
