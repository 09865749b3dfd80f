/* pkg/api/outtypes.c: the one table of output types (their descriptors live in
 * out_aws.c, out_net.c and out_misc.c) and the accessors the other layers
 * use instead of switching on the type.
 *
 * Adding an output type: its enum value and sub-object struct in api.h; its
 * descriptor (reader, free, rules, Secret references, key table) in an
 * out_*.c file and a row here; the render hooks its key table names in
 * pkg/render/fb_outputs.c (none when every key is a table row); its <store>
 * in pkg/render/fluentd.c's table; for an AWS target, its service in
 * pkg/aws/provision.c's svc_ops; its schema in hack/gen-crds.py. Nothing else
 * switches on the type (tests/integration/code_shape.sh checks). */
#include "outtype.h"
#include <string.h>

static const struct lp_output_type_desc *const output_types[LP_OUT_TYPE_COUNT] = {
    [LP_OUT_KINESIS] = &lp_otd_kinesis,
    [LP_OUT_FIREHOSE] = &lp_otd_firehose,
    [LP_OUT_S3] = &lp_otd_s3,
    [LP_OUT_CLOUDWATCH] = &lp_otd_cloudwatch,
    [LP_OUT_OPENSEARCH] = &lp_otd_opensearch,
    [LP_OUT_ELASTICSEARCH] = &lp_otd_elasticsearch,
    [LP_OUT_KAFKA] = &lp_otd_kafka,
    [LP_OUT_LOKI] = &lp_otd_loki,
    [LP_OUT_HTTP] = &lp_otd_http,
    [LP_OUT_SLACK] = &lp_otd_slack,
    [LP_OUT_FORWARD] = &lp_otd_forward,
    [LP_OUT_STDOUT] = &lp_otd_stdout,
    [LP_OUT_LIVETAIL] = &lp_otd_livetail,
    [LP_OUT_ALERT] = &lp_otd_alert,
};

const struct lp_output_type_desc *lp_output_type_desc(enum lp_output_type t)
{
	if ((int)t <= LP_OUT_NONE || (int)t >= LP_OUT_TYPE_COUNT)
		return NULL;
	return output_types[t];
}

const void *lp_output_member(const struct lp_output *o, long off)
{
	return o && off >= 0 ? (const char *)o + off : NULL;
}

/* The descriptor offset at field of o's descriptor, -1 without one. */
static long desc_off(const struct lp_output *o, size_t field)
{
	const struct lp_output_type_desc *d = o ? lp_output_type_desc(o->type) : NULL;

	return d ? *(const long *)((const char *)d + field) : -1;
}

#define MEMBER(o, f) lp_output_member(o, desc_off(o, offsetof(struct lp_output_type_desc, f)))

const struct lp_tls *lp_output_tls(const struct lp_output *o)
{
	return MEMBER(o, tls);
}

const struct lp_basic_auth *lp_output_auth(const struct lp_output *o)
{
	return MEMBER(o, auth);
}

const char *lp_output_aws_target(const struct lp_output *o)
{
	const char *const *p = MEMBER(o, target);
	return p ? *p : NULL;
}

const char *lp_output_host(const struct lp_output *o)
{
	const char *const *p = MEMBER(o, host);
	return p ? *p : NULL;
}

int lp_output_provision(const struct lp_output *o)
{
	const int *p = MEMBER(o, provision);
	return p ? *p : 0;
}

enum lp_deletion_policy lp_output_deletion(const struct lp_output *o)
{
	const enum lp_deletion_policy *p = MEMBER(o, deletion);
	return p ? *p : LP_DELETION_RETAIN;
}

int lp_output_signs_aws(const struct lp_output *o)
{
	const int *p = MEMBER(o, aws_auth);
	return o && (lp_output_type_is_aws(o->type) || (p && *p));
}

const char *lp_output_type_name(enum lp_output_type t)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(t);
	return d ? d->name : NULL;
}

enum lp_output_type lp_output_type_parse(const char *s)
{
	if (!s)
		return LP_OUT_NONE;
	for (int t = LP_OUT_NONE + 1; t < LP_OUT_TYPE_COUNT; t++)
		if (strcmp(s, output_types[t]->name) == 0)
			return (enum lp_output_type)t;
	return LP_OUT_NONE;
}

int lp_output_type_is_aws(enum lp_output_type t)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(t);
	return d && d->aws;
}

int lp_output_type_via_hub(enum lp_output_type t)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(t);
	return d && d->via_hub;
}

int lp_output_hub_rate(const struct lp_output *o)
{
	const struct lp_output_type_desc *d = o ? lp_output_type_desc(o->type) : NULL;
	const int *p = d && d->via_hub ? lp_output_member(o, d->hub_rate) : NULL;
	return p ? *p : 0;
}
