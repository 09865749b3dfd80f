#include "cloudwatch.h"
#include <stdio.h>
#include <string.h>

lp_err lp_cwl_describe(struct lp_aws_client *c, const char *group, int *found, int *retention_days,
                       char arn[512], struct lp_aws_error *e)
{
	json_t *ans = NULL, *list;
	int f = 0, days = 0;
	char a[512] = "";
	lp_err err = lp_aws_json_send(c, "DescribeLogGroups",
	                              json_pack("{s:s}", "logGroupNamePrefix", group), &ans, e);

	if (err)
		return err;
	list = json_object_get(ans, "logGroups");
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *g = json_array_get(list, i);
		const char *n = json_string_value(json_object_get(g, "logGroupName"));
		if (n && strcmp(n, group) == 0) {
			const char *s = json_string_value(json_object_get(g, "arn"));
			f = 1;
			days = (int)json_integer_value(json_object_get(g, "retentionInDays"));
			snprintf(a, sizeof(a), "%s", s ? s : "");
		}
	}
	json_decref(ans);
	*found = f;
	*retention_days = days;
	memcpy(arn, a, sizeof(a));
	return LP_OK;
}

lp_err lp_cwl_create(struct lp_aws_client *c, const char *group, const struct lp_kv *tags,
                     size_t n_tags, struct lp_aws_error *e)
{
	struct lp_aws_error tmp = {0};
	json_t *req = json_pack("{s:s}", "logGroupName", group);
	lp_err err;

	if (req && n_tags) {
		json_t *t = json_object();
		for (size_t i = 0; t && i < n_tags; i++)
			json_object_set_new(t, tags[i].key, json_string(tags[i].value));
		json_object_set_new(req, "tags", t);
	}
	err = lp_aws_json_send(c, "CreateLogGroup", req, NULL, &tmp);
	if (err && strcmp(tmp.code, "ResourceAlreadyExistsException") == 0)
		return LP_OK;
	if (err && e && !e->err)
		*e = tmp;
	return err;
}

lp_err lp_cwl_set_retention(struct lp_aws_client *c, const char *group, int days,
                            struct lp_aws_error *e)
{
	if (days <= 0)
		return lp_aws_json_send(c, "DeleteRetentionPolicy",
		                        json_pack("{s:s}", "logGroupName", group), NULL, e);
	return lp_aws_json_send(
	    c, "PutRetentionPolicy",
	    json_pack("{s:s, s:i}", "logGroupName", group, "retentionInDays", days), NULL, e);
}

lp_err lp_cwl_delete(struct lp_aws_client *c, const char *group, struct lp_aws_error *e)
{
	return lp_aws_json_send(c, "DeleteLogGroup", json_pack("{s:s}", "logGroupName", group),
	                        NULL, e);
}
