#ifndef LP_CLI_H
#define LP_CLI_H
#define LP_VERSION "0.1.0"
/* Each returns the process exit code: 0 ok, 1 invalid input found, 2 usage. */
int lp_cli_validate(int argc, char **argv); /* validate.c */
int lp_cli_render(int argc, char **argv);   /* render.c */
int lp_cli_iam_policy(int argc, char **argv); /* iam.c */
int lp_cli_tail(int argc, char **argv);     /* tail.c: 0 stopped, 1 refused or lost, 2 usage */
#endif
