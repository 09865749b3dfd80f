/* pkg/reconcile/agents.c: the chart's agent settings file (see agents.h). */
#include "agents.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "../api/api.h"
#include "../util/mem.h"

#define AGENT_CONFIG_MAX (1024u * 1024u)

enum key_type {
	K_STR,      /* non-empty string */
	K_STR_NONE, /* string, "" allowed (means none) */
	K_PULL,     /* Always | IfNotPresent | Never */
	K_PATH,     /* absolute path */
	K_QTY,      /* a quantity: digits, optional fraction and unit */
	K_SIZE,     /* a buffer size Fluent Bit reads: 512K, 100M, 1G, 10Gi */
	K_RES,      /* {requests: {name: qty}, limits: {name: qty}} */
	K_TOLS,     /* array of objects */
	K_MAP,      /* object of string values */
};

enum { FB = 1, AGG = 2 };

struct key_def { /* one key: where it may appear, its type, where it goes */
	const char *name;
	unsigned where;
	enum key_type type;
	size_t off;
};

#define OFF(m) offsetof(struct lp_agent_settings, m)
static const struct key_def keys[] = {
    {"image", FB | AGG, K_STR, OFF(image)},
    {"fluentdImage", AGG, K_STR, OFF(fluentd_image)},
    {"imagePullPolicy", FB | AGG, K_PULL, OFF(image_pull_policy)},
    {"resources", FB | AGG, K_RES, OFF(resources)},
    {"tolerations", FB | AGG, K_TOLS, OFF(tolerations)},
    {"nodeSelector", FB | AGG, K_MAP, OFF(node_selector)},
    {"priorityClassName", FB | AGG, K_STR_NONE, OFF(priority_class)},
    {"serviceAccountAnnotations", FB, K_MAP, OFF(sa_annotations)},
    {"hostPath", FB, K_PATH, OFF(host_path)},
    {"totalLimitSize", FB, K_SIZE, OFF(total_limit_size)},
    {"storageClassName", AGG, K_STR_NONE, OFF(storage_class)},
    {"storageSize", AGG, K_QTY, OFF(storage_size)},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static void setmsg(char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void setmsg(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;
	if (!msg || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
}

static void settings_free(struct lp_agent_settings *s)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		char *base = (char *)s + keys[i].off;
		switch (keys[i].type) {
		case K_RES:
		case K_TOLS:
		case K_MAP:
			json_decref(*(json_t **)base);
			break;
		default:
			lp_free(*(char **)base);
			break;
		}
	}
	memset(s, 0, sizeof(*s));
}

void lp_agent_config_free(struct lp_agent_config *c)
{
	if (!c)
		return;
	settings_free(&c->fluent_bit);
	settings_free(&c->aggregator);
}

/* "100m", "1.5Gi", "512Mi", "10G", "2" */
static int quantity_ok(const char *s)
{
	size_t i = 0, digits = 0;
	static const char *const units[] = {"",   "m",  "k",  "M",  "G",  "T",  "P", "E",
	                                    "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", NULL};

	while (s[i] >= '0' && s[i] <= '9') {
		i++;
		digits++;
	}
	if (s[i] == '.') {
		i++;
		while (s[i] >= '0' && s[i] <= '9') {
			i++;
			digits++;
		}
	}
	if (!digits)
		return 0;
	for (size_t u = 0; units[u]; u++)
		if (!strcmp(s + i, units[u]))
			return 1;
	return 0;
}

/* Checks v against type; returns 0 or -1 with msg set (naming field). */
static int check_value(const json_t *v, enum key_type type, const char *field, char *msg,
                       size_t msglen)
{
	const char *s = json_string_value(v), *k;
	const json_t *x, *y;
	size_t i;

	switch (type) {
	case K_STR:
	case K_STR_NONE:
		if (!s || (type == K_STR && !*s) || strlen(s) > 1024) {
			setmsg(msg, msglen, "%s: must be a %sstring", field,
			       type == K_STR ? "non-empty " : "");
			return -1;
		}
		return 0;
	case K_PULL:
		if (!s ||
		    (strcmp(s, "Always") && strcmp(s, "IfNotPresent") && strcmp(s, "Never"))) {
			setmsg(msg, msglen, "%s: must be Always, IfNotPresent or Never", field);
			return -1;
		}
		return 0;
	case K_PATH:
		if (!s || s[0] != '/' || strlen(s) > 1024 || strstr(s, "/../") || strchr(s, '\n')) {
			setmsg(msg, msglen, "%s: must be an absolute path", field);
			return -1;
		}
		return 0;
	case K_QTY:
		if (!s || !quantity_ok(s)) {
			setmsg(msg, msglen, "%s: must be a quantity such as 10Gi", field);
			return -1;
		}
		return 0;
	case K_SIZE: {
		uint64_t b;
		if (!s || lp_size_parse(s, &b) != LP_OK || b == 0) {
			setmsg(msg, msglen, "%s: must be a size such as 512M, 1G or 10Gi", field);
			return -1;
		}
		return 0;
	}
	case K_RES:
		if (!json_is_object(v)) {
			setmsg(msg, msglen, "%s: must be an object with requests and limits",
			       field);
			return -1;
		}
		json_object_foreach((json_t *)v, k, x)
		{
			const char *r;
			if (strcmp(k, "requests") && strcmp(k, "limits")) {
				setmsg(msg, msglen, "%s.%s: unknown key (requests or limits)",
				       field, k);
				return -1;
			}
			if (!json_is_object(x)) {
				setmsg(msg, msglen, "%s.%s: must be an object", field, k);
				return -1;
			}
			json_object_foreach((json_t *)x, r, y)
			{
				char buf[64];
				const char *q = json_string_value(y);
				if (json_is_integer(y) && json_integer_value(y) >= 0) {
					snprintf(buf, sizeof(buf), "%lld",
					         (long long)json_integer_value(y));
					q = buf;
				}
				if (!q || !quantity_ok(q)) {
					setmsg(msg, msglen,
					       "%s.%s.%s: must be a quantity such as 100m or 128Mi",
					       field, k, r);
					return -1;
				}
			}
		}
		return 0;
	case K_TOLS:
		if (!json_is_array(v)) {
			setmsg(msg, msglen, "%s: must be an array of tolerations", field);
			return -1;
		}
		json_array_foreach(v, i, x)
		{
			if (!json_is_object(x)) {
				setmsg(msg, msglen, "%s[%zu]: must be an object", field, i);
				return -1;
			}
		}
		return 0;
	case K_MAP:
		if (!json_is_object(v)) {
			setmsg(msg, msglen, "%s: must be an object of strings", field);
			return -1;
		}
		json_object_foreach((json_t *)v, k, x)
		{
			if (!json_is_string(x)) {
				setmsg(msg, msglen, "%s.%s: must be a string", field, k);
				return -1;
			}
		}
		return 0;
	}
	return -1;
}

static lp_err section_parse(struct lp_agent_settings *out, const json_t *obj, unsigned where,
                            const char *sect, char *msg, size_t msglen)
{
	const char *k;
	json_t *v;

	if (!obj)
		return LP_OK;
	if (!json_is_object(obj)) {
		setmsg(msg, msglen, "%s: must be an object", sect);
		return LP_ERR_PARSE;
	}
	json_object_foreach((json_t *)obj, k, v)
	{
		const struct key_def *d = NULL;
		char field[128];
		char *base;

		for (size_t i = 0; i < N_KEYS && !d; i++)
			if (!strcmp(keys[i].name, k) && (keys[i].where & where))
				d = &keys[i];
		snprintf(field, sizeof(field), "%s.%s", sect, k);
		if (!d) {
			setmsg(msg, msglen, "%.100s: unknown key", field);
			return LP_ERR_PARSE;
		}
		if (json_is_null(v))
			continue; /* as if absent */
		if (check_value(v, d->type, field, msg, msglen))
			return LP_ERR_PARSE;
		base = (char *)out + d->off;
		if (d->type == K_RES || d->type == K_TOLS || d->type == K_MAP) {
			json_t *copy = json_deep_copy(v);
			if (!copy)
				return LP_ERR_NOMEM;
			*(json_t **)base = copy;
		} else {
			char *s = lp_strdup(json_string_value(v));
			if (!s)
				return LP_ERR_NOMEM;
			*(char **)base = s;
		}
	}
	return LP_OK;
}

lp_err lp_agent_config_parse(struct lp_agent_config *out, const char *text, size_t len, char *msg,
                             size_t msglen)
{
	struct lp_agent_config c;
	json_error_t jerr;
	json_t *root = NULL;
	const char *k;
	json_t *v;
	lp_err err = LP_ERR_PARSE;

	if (!out || !text)
		return LP_ERR_INVALID;
	memset(&c, 0, sizeof(c));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		setmsg(msg, msglen, "not JSON: %s (line %d)", jerr.text, jerr.line);
		goto out;
	}
	if (!json_is_object(root)) {
		setmsg(msg, msglen, "must be a JSON object with fluentBit and aggregator");
		goto out;
	}
	json_object_foreach(root, k, v)
	{
		if (strcmp(k, "fluentBit") && strcmp(k, "aggregator")) {
			setmsg(msg, msglen, "%.100s: unknown key (fluentBit or aggregator)", k);
			goto out;
		}
	}
	err = section_parse(&c.fluent_bit, json_object_get(root, "fluentBit"), FB, "fluentBit", msg,
	                    msglen);
	if (!err)
		err = section_parse(&c.aggregator, json_object_get(root, "aggregator"), AGG,
		                    "aggregator", msg, msglen);
out:
	json_decref(root);
	if (err) {
		lp_agent_config_free(&c);
		return err;
	}
	*out = c;
	return LP_OK;
}

lp_err lp_agent_config_load(struct lp_agent_config *out, const char *path, char *msg, size_t msglen)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t n = 0;
	lp_err err = LP_ERR_INVALID;

	if (!out || !path)
		return LP_ERR_INVALID;
	f = fopen(path, "rb");
	if (!f) {
		setmsg(msg, msglen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? LP_ERR_NOTFOUND : LP_ERR_IO;
	}
	buf = lp_malloc(AGENT_CONFIG_MAX + 1);
	if (!buf) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	n = fread(buf, 1, AGENT_CONFIG_MAX + 1, f);
	if (ferror(f)) {
		setmsg(msg, msglen, "%s: read error", path);
		err = LP_ERR_IO;
		goto out;
	}
	if (n > AGENT_CONFIG_MAX) {
		setmsg(msg, msglen, "%s: larger than %u bytes", path, AGENT_CONFIG_MAX);
		err = LP_ERR_TOO_LARGE;
		goto out;
	}
	err = lp_agent_config_parse(out, buf, n, msg, msglen);
	if (err && msg && msglen) { /* prefix the path */
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s", msg);
		setmsg(msg, msglen, "%s: %s", path, tmp);
	}
out:
	lp_free(buf);
	fclose(f);
	return err;
}
