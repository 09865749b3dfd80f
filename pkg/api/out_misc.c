/* pkg/api/out_misc.c: the output types without a network block of their own
 * (slack, stdout, livetail, alert): each one's reader, free, rules, Secret
 * references, Fluent Bit keys and descriptor (see struct lp_output_type_desc
 * in api.h). */
#include "outtype.h"
#include "../util/mem.h"
#include <stdio.h>

/* ---------- slack ---------- */

static void parse_slack(struct lp_rd *r, const json_t *b, const char *path, struct lp_output *o)
{
	static const char *const known[] = {"webhookSecretRef", NULL};

	if (!b)
		return;
	lp_rd_known(r, b, path, known);
	lp_rd_secret_ref(r, b, path, "webhookSecretRef", &o->u.slack.webhook, 1);
}

static void clear_slack(struct lp_output *o)
{
	lp_secret_ref_clear(&o->u.slack.webhook);
}

static void check_slack(struct lp_chk *k, const struct lp_output *o)
{
	if (lp_chk_need(k, "spec.slack.webhook.name", o->u.slack.webhook.name))
		lp_chk_token(k, "spec.slack.webhook.name", o->u.slack.webhook.name, NULL);
	if (lp_chk_need(k, "spec.slack.webhook.key", o->u.slack.webhook.key))
		lp_chk_token(k, "spec.slack.webhook.key", o->u.slack.webhook.key, NULL);
}

static int secret_slack(const struct lp_output *o, size_t i, struct lp_output_secret *s)
{
	if (i > 0)
		return 0;
	return lp_out_secret_one(s, "spec.slack.webhookSecretRef", &o->u.slack.webhook, NULL,
	                         LP_SECRET_HTTPS_URL);
}

static const struct lp_out_key slack_keys[] = {
    LP_KHOOK("webhook", LP_HOOK_SECRET, "spec.slack.webhookSecretRef", "webhook_url",
             "${LP_SECRET_...}"),
};

/* ---------- stdout ---------- */

static void parse_stdout(struct lp_rd *r, const json_t *b, const char *path, struct lp_output *o)
{
	static const char *const known[] = {"format", NULL};
	static const char *const formats[] = {"json_lines", "json", "msgpack"};
	int fmt = 0;

	lp_rd_known(r, b, path, known);
	lp_rd_enum(r, b, path, "format", formats, 3, &fmt, 0);
	o->u.std_out.format = lp_strdup(formats[fmt]);
	if (!o->u.std_out.format)
		r->err = LP_ERR_NOMEM;
}

static void clear_stdout(struct lp_output *o)
{
	lp_free(o->u.std_out.format);
}

static void check_stdout(struct lp_chk *k, const struct lp_output *o)
{
	lp_chk_token(k, "spec.stdout.format", o->u.std_out.format, NULL);
}

static const struct lp_out_key stdout_keys[] = {
    LP_KSTR("format", u.std_out.format, "json_lines", "spec.stdout.format", "@type stdout", NULL),
};

/* ---------- livetail ---------- */

static void parse_livetail(struct lp_rd *r, const json_t *b, const char *path, struct lp_output *o)
{
	static const char *const known[] = {"maxRecordsPerSecond", NULL};

	o->u.livetail.max_records_per_second = 100;
	lp_rd_known(r, b, path, known);
	lp_rd_int(r, b, path, "maxRecordsPerSecond", &o->u.livetail.max_records_per_second, 1,
	          10000, 0);
}

static void clear_livetail(struct lp_output *o)
{
	(void)o;
}

static void check_livetail(struct lp_chk *k, const struct lp_output *o)
{
	if (o->u.livetail.max_records_per_second < 0)
		lp_chk_bad(k, "spec.livetail.maxRecordsPerSecond", "must be positive");
}

/* Fluent Bit's http output, not its websocket output (see docs/livetail.md):
 * the websocket output keeps its handshake flag per output, not per
 * connection, and loses records after a hub restart. */
static const struct lp_out_key livetail_keys[] = {
    LP_KHOOK("host,port,uri,header", LP_HOOK_LIVETAIL, "spec.livetail", "@type http, headers",
             "POST to the live-tail hub (Service logplane-hub:8081, --hub-service) "
             "/ingest/<ns>/<name> with the hub's ingest token, every record copied"),
    LP_KCONST("format", "json", "spec.livetail", NULL, "always json"),
    LP_KCONST("json_date_key", "date", "spec.livetail", NULL, "the hub reads the time there"),
    LP_KCONST("json_date_format", "double", "spec.livetail", NULL, NULL),
};

/* ---------- alert ---------- */

static void parse_alert(struct lp_rd *r, const json_t *b, const char *path, struct lp_output *o)
{
	static const char *const known[] = {"slack", "windowSeconds", "maxPerMinute",
	                                    "maxRecordsPerSecond", NULL};
	static const char *const sknown[] = {"webhookSecretRef", NULL};
	struct lp_out_alert *a = &o->u.alert;
	const json_t *slack;

	a->window_seconds = 60;
	a->max_per_minute = 10;
	a->max_records_per_second = 1000;
	if (!b)
		return;
	lp_rd_known(r, b, path, known);
	slack = lp_rd_get(r, b, path, "slack", LP_RD_OBJ, 1);
	if (slack) {
		lp_rd_known(r, slack, "spec.alert.slack", sknown);
		lp_rd_secret_ref(r, slack, "spec.alert.slack", "webhookSecretRef",
		                 &a->slack_webhook, 1);
	}
	lp_rd_int(r, b, path, "windowSeconds", &a->window_seconds, 1, 86400, 0);
	lp_rd_int(r, b, path, "maxPerMinute", &a->max_per_minute, 1, 600, 0);
	lp_rd_int(r, b, path, "maxRecordsPerSecond", &a->max_records_per_second, 1, 10000, 0);
}

static void clear_alert(struct lp_output *o)
{
	lp_secret_ref_clear(&o->u.alert.slack_webhook);
}

static void check_alert(struct lp_chk *k, const struct lp_output *o)
{
	const struct lp_secret_key_ref *w = &o->u.alert.slack_webhook;

	if (lp_chk_need(k, "spec.alert.slack.webhookSecretRef.name", w->name))
		lp_chk_token(k, "spec.alert.slack.webhookSecretRef.name", w->name, NULL);
	if (lp_chk_need(k, "spec.alert.slack.webhookSecretRef.key", w->key))
		lp_chk_token(k, "spec.alert.slack.webhookSecretRef.key", w->key, NULL);
	if (o->u.alert.max_records_per_second < 0)
		lp_chk_bad(k, "spec.alert.maxRecordsPerSecond", "must be positive");
}

/* Checked like any webhook; read by the hub (the operator copies it into the
 * hub's Secret), never by the agents (via_hub). */
static int secret_alert(const struct lp_output *o, size_t i, struct lp_output_secret *s)
{
	if (i > 0)
		return 0;
	return lp_out_secret_one(s, "spec.alert.slack.webhookSecretRef", &o->u.alert.slack_webhook,
	                         NULL, LP_SECRET_HTTPS_URL);
}

/* The same http output as livetail, to /alert/<ns>/<name>. */
static const struct lp_out_key alert_keys[] = {
    LP_KHOOK("host,port,uri,header", LP_HOOK_ALERT, "spec.alert", "@type http, headers",
             "POST to the hub (Service logplane-hub:8081, --hub-service) /alert/<ns>/<name> with "
             "the hub's ingest token; each route's copy names its pipeline (modify add "
             "lp_pipeline); the hub groups and posts to Slack"),
    LP_KCONST("format", "json", "spec.alert", NULL, "always json"),
    LP_KCONST("json_date_key", "date", "spec.alert", NULL, "the hub reads the time there"),
    LP_KCONST("json_date_format", "double", "spec.alert", NULL, NULL),
};

const struct lp_out_alert *lp_output_alert(const struct lp_output *o)
{
	return o && o->type == LP_OUT_ALERT ? &o->u.alert : NULL;
}

/* ---------- descriptors ---------- */

#define MISC_DESC(nm, plugin, sub, opt)                                                            \
	.name = nm, .fb_plugin = plugin, .body_optional = opt, .tls = -1, .auth = -1, .host = -1,  \
	.aws_auth = -1, .target = -1, .provision = -1, .deletion = -1, .parse = parse_##sub,       \
	.clear = clear_##sub, .check = check_##sub, .keys = sub##_keys,                            \
	.n_keys = sizeof(sub##_keys) / sizeof(sub##_keys[0])

const struct lp_output_type_desc lp_otd_slack = {MISC_DESC("slack", "slack", slack, 0),
                                                 .secret = secret_slack};
const struct lp_output_type_desc lp_otd_stdout = {MISC_DESC("stdout", "stdout", stdout, 1)};
const struct lp_output_type_desc lp_otd_livetail = {
    MISC_DESC("livetail", "http", livetail, 1), .not_shared = 1, .via_hub = 1,
    .hub_rate = LP_OFF(u.livetail.max_records_per_second)};
const struct lp_output_type_desc lp_otd_alert = {
    MISC_DESC("alert", "http", alert, 0), .secret = secret_alert, .not_shared = 1, .via_hub = 1,
    .hub_rate = LP_OFF(u.alert.max_records_per_second)};
