#include "log.h"
#include "buf.h"
#include <jansson.h>
#include <stdarg.h>
#include <string.h>
#include "clock.h"

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void lp_log_init(struct lp_log *log, FILE *out, enum lp_log_level min, int text)
{
	log->out = out;
	log->min = min;
	log->text = text;
}

int lp_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (s && strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

static void log_json(const struct lp_log *log, enum lp_log_level level,
                     const struct lp_log_obj *obj, const char *ts, const char *msg)
{
	json_t *o = json_object();
	char *line;

	if (!o)
		return;
	json_object_set_new(o, "time", json_string(ts));
	json_object_set_new(o, "level", json_string(level_names[level]));
	json_object_set_new(o, "msg", json_string_nocheck(msg));
	if (obj && obj->kind)
		json_object_set_new(o, "kind", json_string(obj->kind));
	if (obj && obj->ns)
		json_object_set_new(o, "namespace", json_string(obj->ns));
	if (obj && obj->name)
		json_object_set_new(o, "name", json_string(obj->name));
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	if (line) {
		fprintf(log->out, "%s\n", line);
		free(line);
	}
	json_decref(o);
}

void lp_log(const struct lp_log *log, enum lp_log_level level, const struct lp_log_obj *obj,
            const char *fmt, ...)
{
	struct lp_buf msg;
	char ts[21];
	va_list ap;
	lp_err err;

	if (!log || !log->out || level < log->min)
		return;
	lp_buf_init(&msg, 64 * 1024);
	va_start(ap, fmt);
	err = lp_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	if (err)
		return;
	lp_clock_rfc3339(ts);
	if (log->text) {
		fprintf(log->out, "%s %-5s ", ts, level_names[level]);
		if (obj && obj->kind)
			fprintf(log->out, "%s/%s/%s ", obj->kind, obj->ns ? obj->ns : "",
			        obj->name ? obj->name : "");
		fprintf(log->out, "%s\n", lp_buf_str(&msg));
	} else {
		log_json(log, level, obj, ts, lp_buf_str(&msg));
	}
	fflush(log->out);
	lp_buf_free(&msg);
}
