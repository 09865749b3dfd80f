/* Structured logging: JSON lines by default ({"time","level","msg", and the
 * object's "kind","namespace","name" when given}), plain text with a flag. */
#ifndef LP_UTIL_LOG_H
#define LP_UTIL_LOG_H
#include <stdio.h>

enum lp_log_level { LP_LOG_DEBUG = 0, LP_LOG_INFO, LP_LOG_WARN, LP_LOG_ERROR };

struct lp_log {
	FILE *out;             /* borrowed */
	enum lp_log_level min; /* lower levels are dropped */
	int text;              /* 1: "TIME LEVEL kind/ns/name msg" instead of JSON */
};

/* The object a message is about; any member may be NULL. */
struct lp_log_obj {
	const char *kind;
	const char *ns;
	const char *name;
};

void lp_log_init(struct lp_log *log, FILE *out, enum lp_log_level min, int text);
/* Parses "debug|info|warn|error"; returns -1 when unknown. */
int lp_log_level_parse(const char *s);
void lp_log(const struct lp_log *log, enum lp_log_level level, const struct lp_log_obj *obj,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
