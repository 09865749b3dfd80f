/* libFuzzer target: the admission webhook's answer (pkg/api/admission). Each
 * input is one request body as the API server would POST it, judged against a
 * small fixed world (two LogOutputs). The answer must be either a bad-request
 * text (HTTP 400) or an AdmissionReview whose response carries the request's
 * uid and an allowed verdict that matches the reported one. */
#include "../pkg/api/admission.h"
#include "../pkg/api/api.h"
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char outputs_json[] =
    "[{\"apiVersion\":\"logplane.io/v1alpha1\",\"kind\":\"LogOutput\","
    "\"metadata\":{\"name\":\"out\",\"namespace\":\"team-a\"},\"spec\":{\"type\":\"stdout\"}},"
    "{\"apiVersion\":\"logplane.io/v1alpha1\",\"kind\":\"LogOutput\","
    "\"metadata\":{\"name\":\"s3\",\"namespace\":\"logplane-system\"},\"spec\":{\"type\":\"s3\","
    "\"aws\":{\"region\":\"eu-west-1\"},\"s3\":{\"bucket\":\"logs-bucket\",\"provision\":{}}}}]";

static struct lp_world *world(void)
{
	static struct lp_world w;
	static const struct lp_output *outs[2];
	static int done;
	json_t *arr;

	if (done)
		return &w;
	done = 1;
	arr = json_loads(outputs_json, 0, NULL);
	for (size_t i = 0; i < 2; i++) {
		struct lp_problems pr = {NULL, 0};
		struct lp_output *o = NULL;
		if (lp_output_parse(&o, json_array_get(arr, i), &pr) != LP_OK)
			abort();
		lp_problems_free(&pr);
		outs[i] = o; /* kept for the process */
	}
	json_decref(arr);
	lp_outputs_sort(outs, 2);
	w.outputs = outs;
	w.n_outputs = 2;
	w.outputs_sorted = 1;
	return &w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_buf out;
	struct lp_admission_result res;
	lp_err err;

	lp_buf_init(&out, LP_BUF_DEFAULT_MAX);
	err = lp_admission_review((const char *)data, size, world(), &out, &res);
	if (err != LP_OK && err != LP_ERR_NOMEM)
		abort();
	if (err == LP_OK && res.http_status == 200) {
		json_t *ans = json_loads(lp_buf_str(&out), 0, NULL);
		json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
		const json_t *resp = json_object_get(ans, "response");
		const char *uid = json_string_value(json_object_get(resp, "uid"));
		const char *want =
		    json_string_value(json_object_get(json_object_get(in, "request"), "uid"));
		if (!json_is_object(resp) || !json_is_boolean(json_object_get(resp, "allowed")) ||
		    json_is_true(json_object_get(resp, "allowed")) !=
		        (res.verdict != LP_ADMISSION_REFUSED) ||
		    !uid || !want || strcmp(uid, want) != 0)
			abort();
		json_decref(ans);
		json_decref(in);
	} else if (err == LP_OK &&
	           (res.http_status != 400 || res.verdict != LP_ADMISSION_BAD_REQUEST)) {
		abort();
	}
	lp_buf_free(&out);
	return 0;
}
