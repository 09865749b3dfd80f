#include "firehose.h"
#include "../util/mem.h"
#include <stdio.h>
#include <string.h>

void lp_firehose_stream_free(struct lp_firehose_stream *s)
{
	if (!s)
		return;
	lp_free(s->arn);
	lp_free(s->status);
	lp_free(s->version_id);
	lp_free(s->destination_id);
	lp_free(s->source_arn);
	lp_free(s->bucket_arn);
	lp_free(s->prefix);
	lp_free(s->error_prefix);
	lp_free(s->compression);
	lp_free(s->role_arn);
	memset(s, 0, sizeof(*s));
}

lp_err lp_firehose_describe(struct lp_aws_client *c, const char *name,
                            struct lp_firehose_stream *out, struct lp_aws_error *e)
{
	json_t *ans = NULL, *d, *dst, *s3, *bh;
	struct lp_firehose_stream s = {0};
	lp_err err = lp_aws_json_send(c, "DescribeDeliveryStream",
	                              json_pack("{s:s}", "DeliveryStreamName", name), &ans, e);

	if (err)
		return err;
	d = json_object_get(ans, "DeliveryStreamDescription");
	dst = json_array_get(json_object_get(d, "Destinations"), 0);
	s3 = json_object_get(dst, "ExtendedS3DestinationDescription");
	if (!s3)
		s3 = json_object_get(dst, "S3DestinationDescription");
	bh = json_object_get(s3, "BufferingHints");
	s.arn = lp_aws_json_strdup(d, "DeliveryStreamARN");
	s.status = lp_aws_json_strdup(d, "DeliveryStreamStatus");
	s.version_id = lp_aws_json_strdup(d, "VersionId");
	s.destination_id = lp_aws_json_strdup(dst, "DestinationId");
	s.source_arn = lp_aws_json_strdup(
	    json_object_get(json_object_get(d, "Source"), "KinesisStreamSourceDescription"),
	    "KinesisStreamARN");
	s.bucket_arn = lp_aws_json_strdup(s3, "BucketARN");
	s.prefix = lp_aws_json_strdup(s3, "Prefix");
	s.error_prefix = lp_aws_json_strdup(s3, "ErrorOutputPrefix");
	s.compression = lp_aws_json_strdup(s3, "CompressionFormat");
	s.role_arn = lp_aws_json_strdup(s3, "RoleARN");
	s.buffer_mib = (int)json_integer_value(json_object_get(bh, "SizeInMBs"));
	s.buffer_seconds = (int)json_integer_value(json_object_get(bh, "IntervalInSeconds"));
	json_decref(ans);
	if (!s.arn || !s.status || !s.version_id || !s.destination_id || !s.source_arn ||
	    !s.bucket_arn || !s.prefix || !s.error_prefix || !s.compression || !s.role_arn) {
		lp_firehose_stream_free(&s);
		return lp_aws_error_set(e, LP_ERR_NOMEM, 0, NULL, "out of memory");
	}
	*out = s;
	return LP_OK;
}

static json_t *s3_config(const struct lp_firehose_want *w)
{
	json_t *o =
	    json_pack("{s:s, s:s, s:{s:i, s:i}, s:s}", "RoleARN", w->role_arn, "BucketARN",
	              w->bucket_arn, "BufferingHints", "SizeInMBs", w->buffer_mib,
	              "IntervalInSeconds", w->buffer_seconds, "CompressionFormat", w->compression);

	if (o && w->prefix && *w->prefix)
		json_object_set_new(o, "Prefix", json_string(w->prefix));
	if (o && w->error_prefix && *w->error_prefix)
		json_object_set_new(o, "ErrorOutputPrefix", json_string(w->error_prefix));
	return o;
}

lp_err lp_firehose_create(struct lp_aws_client *c, const struct lp_firehose_want *w,
                          struct lp_aws_error *e)
{
	json_t *req =
	    json_pack("{s:s, s:s, s:o}", "DeliveryStreamName", w->name, "DeliveryStreamType",
	              w->source_arn ? "KinesisStreamAsSource" : "DirectPut",
	              "ExtendedS3DestinationConfiguration", s3_config(w));

	if (req && w->source_arn)
		json_object_set_new(req, "KinesisStreamSourceConfiguration",
		                    json_pack("{s:s, s:s}", "KinesisStreamARN", w->source_arn,
		                              "RoleARN", w->role_arn));
	if (req && w->n_tags) {
		json_t *tags = json_array();
		for (size_t i = 0; tags && i < w->n_tags; i++)
			json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", w->tags[i].key,
			                                      "Value", w->tags[i].value));
		json_object_set_new(req, "Tags", tags);
	}
	return lp_aws_json_send(c, "CreateDeliveryStream", req, NULL, e);
}

int lp_firehose_differs(const struct lp_firehose_stream *h, const struct lp_firehose_want *w,
                        char what[256])
{
	const char *wp = w->prefix ? w->prefix : "", *we = w->error_prefix ? w->error_prefix : "";

	if (h->buffer_mib != w->buffer_mib)
		snprintf(what, 256, "buffering size %d MiB (want %d)", h->buffer_mib,
		         w->buffer_mib);
	else if (h->buffer_seconds != w->buffer_seconds)
		snprintf(what, 256, "buffering interval %d s (want %d)", h->buffer_seconds,
		         w->buffer_seconds);
	else if (strcmp(h->compression, w->compression) != 0)
		snprintf(what, 256, "compression %.60s (want %.60s)", h->compression,
		         w->compression);
	else if (strcmp(h->prefix, wp) != 0)
		snprintf(what, 256, "prefix \"%.100s\" (want \"%.100s\")", h->prefix, wp);
	else if (strcmp(h->error_prefix, we) != 0)
		snprintf(what, 256, "error prefix \"%.100s\" (want \"%.100s\")", h->error_prefix,
		         we);
	else if (strcmp(h->role_arn, w->role_arn) != 0)
		snprintf(what, 256, "role %.100s (want %.100s)", h->role_arn, w->role_arn);
	else
		return 0;
	return 1;
}

lp_err lp_firehose_update(struct lp_aws_client *c, const struct lp_firehose_stream *have,
                          const struct lp_firehose_want *w, struct lp_aws_error *e)
{
	json_t *upd = s3_config(w);

	if (upd && (!w->prefix || !*w->prefix))
		json_object_set_new(upd, "Prefix", json_string(""));
	return lp_aws_json_send(c, "UpdateDestination",
	                        json_pack("{s:s, s:s, s:s, s:o}", "DeliveryStreamName", w->name,
	                                  "CurrentDeliveryStreamVersionId", have->version_id,
	                                  "DestinationId", have->destination_id,
	                                  "ExtendedS3DestinationUpdate", upd),
	                        NULL, e);
}

lp_err lp_firehose_delete(struct lp_aws_client *c, const char *name, struct lp_aws_error *e)
{
	return lp_aws_json_send(c, "DeleteDeliveryStream",
	                        json_pack("{s:s}", "DeliveryStreamName", name), NULL, e);
}
