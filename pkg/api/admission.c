/* AdmissionReview v1 in, AdmissionReview v1 out (admission.h). */
#include "admission.h"
#include "../util/mem.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define MAX_MESSAGE 4096 /* the refusal message; every field is also a cause */
#define MAX_WARNING 512  /* the API server truncates longer warnings */
#define MAX_CAUSES  64

const char *lp_admission_verdict_name(enum lp_admission_verdict v)
{
	static const char *const names[] = {"allowed", "warned", "refused", "bad_request"};
	return (unsigned)v < LP_ADMISSION_VERDICT_COUNT ? names[v] : NULL;
}

static lp_err bad_request(struct lp_buf *out, struct lp_admission_result *res, const char *why)
{
	res->verdict = LP_ADMISSION_BAD_REQUEST;
	res->http_status = 400;
	return lp_buf_addf(out, "not an AdmissionReview (admission.k8s.io/v1): %s\n", why);
}

static const char *str_at(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Adds "field: message" to the refusal text (within MAX_MESSAGE) and a cause. */
static int add_problem(struct lp_buf *msg, json_t *causes, const struct lp_problem *p)
{
	size_t room = MAX_MESSAGE > msg->len ? MAX_MESSAGE - msg->len : 0;
	const char *field = p->field && p->field[0] ? p->field : "spec";

	if (room > 8 && lp_buf_addf(msg, "%s%.*s: %s", msg->len ? "; " : "", (int)(room / 2), field,
	                            p->message ? p->message : "invalid"))
		return -1;
	if (json_array_size(causes) < MAX_CAUSES &&
	    json_array_append_new(
	        causes, json_pack("{s:s, s:s, s:s}", "reason", "FieldValueInvalid", "message",
	                          p->message ? p->message : "invalid", "field", field)) != 0)
		return -1;
	return 0;
}

lp_err lp_admission_review(const char *body, size_t len, const struct lp_world *w,
                           struct lp_buf *out, struct lp_admission_result *res)
{
	json_t *review = NULL, *resp = NULL, *answer = NULL, *causes = NULL, *warnings = NULL;
	const json_t *req, *obj, *old, *md;
	struct lp_pipeline *p = NULL;
	struct lp_output *o = NULL;
	struct lp_problems probs = {0}, warns = {0};
	struct lp_world world = {0};
	struct lp_buf msg;
	const char *uid, *op, *kind, *ns;
	char *text = NULL, *dump;
	lp_err err = LP_ERR_NOMEM, verr = LP_OK;

	lp_buf_init(&msg, MAX_MESSAGE * 2);
	memset(res, 0, sizeof(*res));
	res->http_status = 200;
	review = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
	req = json_object_get(review, "request");
	uid = str_at(req, "uid");
	if (!json_is_object(review) || !json_is_object(req) || !uid) {
		err = bad_request(out, res, "no request.uid");
		goto out;
	}
	if (!str_at(review, "apiVersion") ||
	    strcmp(str_at(review, "apiVersion"), "admission.k8s.io/v1") != 0) {
		err = bad_request(out, res, "apiVersion must be admission.k8s.io/v1");
		goto out;
	}
	op = str_at(req, "operation");
	kind = str_at(json_object_get(req, "kind"), "kind");
	obj = json_object_get(req, "object");
	old = json_object_get(req, "oldObject");
	md = json_object_get(obj, "metadata");
	if (kind && (!strcmp(kind, "LogPipeline") || !strcmp(kind, "LogOutput")))
		snprintf(res->kind, sizeof(res->kind), "%s", kind);
	resp = json_object();
	if (!resp || json_object_set_new(resp, "uid", json_string(uid)))
		goto out;
	if (!res->kind[0] || !op || (strcmp(op, "CREATE") != 0 && strcmp(op, "UPDATE") != 0) ||
	    !json_is_object(obj) ||
	    (json_object_get(md, "deletionTimestamp") &&
	     !json_is_null(json_object_get(md, "deletionTimestamp"))) ||
	    (!strcmp(op, "UPDATE") && json_is_object(old) &&
	     json_equal(json_object_get(obj, "spec"), json_object_get(old, "spec")))) {
		res->verdict = LP_ADMISSION_ALLOWED;
		goto answer;
	}
	/* the namespace is in the request when the object does not carry it */
	ns = str_at(req, "namespace");
	if (ns && json_is_object(md) && !json_object_get(md, "namespace") &&
	    json_object_set_new((json_t *)md, "namespace", json_string(ns)))
		goto out;
	if (w)
		world = *w;
	world.ref_warnings = &warns;
	/* as `logplane validate` does: cross-object rules also on an object that
	 * has problems of its own, so that every problem is reported at once */
	if (!strcmp(res->kind, "LogPipeline")) {
		verr = lp_pipeline_parse(&p, obj, &probs);
		if (p && verr != LP_ERR_NOMEM &&
		    lp_pipeline_validate(p, &world, &probs) == LP_ERR_NOMEM)
			verr = LP_ERR_NOMEM;
		if (p && verr == LP_OK && !probs.n && world.pipeline_render_check &&
		    world.pipeline_render_check(world.render_check_ctx, p, &world, &probs))
			verr = LP_ERR_NOMEM;
	} else {
		verr = lp_output_parse(&o, obj, &probs);
		if (o && verr != LP_ERR_NOMEM &&
		    lp_output_validate(o, &world, &probs) == LP_ERR_NOMEM)
			verr = LP_ERR_NOMEM;
	}
	if (verr == LP_ERR_NOMEM)
		goto out;
	causes = json_array();
	warnings = json_array();
	if (!causes || !warnings)
		goto out;
	if (probs.n || (verr != LP_OK && verr != LP_ERR_INVALID)) {
		const char *name = p ? p->meta.name : o ? o->meta.name : NULL;
		const char *ons = p ? p->meta.ns : o ? o->meta.ns : NULL;
		json_t *status;
		if (!probs.n) {
			struct lp_problem none = {"spec", "cannot be read"};
			if (add_problem(&msg, causes, &none))
				goto out;
		}
		for (size_t i = 0; i < probs.n; i++)
			if (add_problem(&msg, causes, &probs.v[i]))
				goto out;
		res->verdict = LP_ADMISSION_REFUSED;
		text = lp_malloc(msg.len + 512);
		if (!text)
			goto out;
		snprintf(text, msg.len + 512, "%s %s/%s is invalid: %s", res->kind, ons ? ons : "",
		         name ? name : "", lp_buf_str(&msg));
		status =
		    json_pack("{s:s, s:s, s:i, s:s, s:{s:s, s:s, s:O}}", "status", "Failure",
		              "reason", "Invalid", "code", 422, "message", text, "details", "kind",
		              !strcmp(res->kind, "LogPipeline") ? "logpipelines" : "logoutputs",
		              "name", name ? name : "", "causes", causes);
		if (!status || json_object_set_new(resp, "status", status))
			goto out;
	} else {
		res->verdict = warns.n ? LP_ADMISSION_WARNED : LP_ADMISSION_ALLOWED;
	}
	for (size_t i = 0; i < warns.n; i++) {
		char wbuf[MAX_WARNING];
		snprintf(wbuf, sizeof(wbuf),
		         "%s: %s (accepted; the object stays not Ready until it "
		         "exists)",
		         warns.v[i].field, warns.v[i].message);
		if (json_array_append_new(warnings, json_string(wbuf)))
			goto out;
	}
	if (json_array_size(warnings) && json_object_set(resp, "warnings", warnings))
		goto out;
answer:
	if (json_object_set_new(resp, "allowed",
	                        json_boolean(res->verdict != LP_ADMISSION_REFUSED)))
		goto out;
	answer = json_pack("{s:s, s:s, s:O}", "apiVersion", "admission.k8s.io/v1", "kind",
	                   "AdmissionReview", "response", resp);
	dump = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
	if (!dump)
		goto out;
	err = lp_buf_adds(out, dump);
	free(dump); /* jansson's allocation */
out:
	lp_free(text);
	lp_pipeline_free(p);
	lp_output_free(o);
	lp_problems_free(&probs);
	lp_problems_free(&warns);
	lp_buf_free(&msg);
	json_decref(causes);
	json_decref(warnings);
	json_decref(resp);
	json_decref(answer);
	json_decref(review);
	return err;
}
