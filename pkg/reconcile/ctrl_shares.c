/* pkg/reconcile/ctrl_shares.c: fair shares of the two things every namespace's
 * outputs fill together, so that no namespace's outputs can crowd another's
 * out (a step of the config computation, after the per-namespace limits of
 * ctrl_limits.c and before the render):
 *
 * - The hub's alert targets (pkg/hub/alert.h: LP_HUB_ALERT_TARGETS in all).
 *   An alert LogOutput a valid pipeline routes to is one target. A namespace
 *   other than the control namespace has at most max_alerts_per_ns of them
 *   (--max-alert-outputs-per-namespace); then the hub's targets are shared.
 * - The agents' AWS credentials file: Fluent Bit reads one file per process
 *   (AWS_SHARED_CREDENTIALS_FILE), so every namespace's AWS profiles are one
 *   credential, which must fit one credentials Secret
 *   (LP_CREDENTIALS_MAX_BYTES with its key). A profile costs the bytes it
 *   writes (render.c lp_render_aws_credentials_file); outputs reading the same
 *   Secret keys share it.
 *
 * Sharing rule (max-min fair, deterministic): the namespaces in increasing
 * order of what they need; each gets what it needs when that is at most an
 * equal part of what is left, else that equal part. Within a namespace the
 * outputs go in order of creation time, then name, each kept when it fits
 * what is left of the part. So a namespace that needs no more than an equal
 * part is never cut, whatever the others do, and a new output never pushes an
 * older one of its namespace out. Outputs left out get ConfigGenerated=False
 * LimitExceeded (ctrl_limits_mark) naming the bound; the pipelines routing to
 * them say OutputNotReady through the renderer's missing-output path.
 *
 * Other credentials need no share: each is its own key of a credentials
 * Secret, and validation caps every value (pkg/api/secretval.c: a CA bundle at
 * LP_SECRET_VALUE_LARGEST) well under what one Secret holds (checked below). */
#include "ctrl_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../api/secretval.h"
#include "../hub/alert.h"
#include "../util/b64.h"
#include "../util/mem.h"

_Static_assert(LP_SECRET_VALUE_LARGEST + 64 < LP_CREDENTIALS_MAX_BYTES,
               "a single credential a validated output references fits one credentials Secret");

/* One output in a share: its index in the outputs array. */
struct member {
	const struct lp_output *o;
	size_t idx;
	int used; /* alert outputs: a valid pipeline routes to it */
};

/* A unit of a share: members v[first..end) that stand or fall together (one
 * alert output; the outputs reading one AWS profile), the oldest of them,
 * what the unit costs, and the outcome. */
struct unit {
	size_t first, end;
	const struct lp_meta *oldest;
	size_t cost;
	size_t part; /* the part its namespace got */
	int keep;
};

static int cmp_unit(const void *a, const void *b)
{
	return lp_meta_cmp_created(((const struct unit *)a)->oldest,
	                           ((const struct unit *)b)->oldest);
}

static int cmp_member_meta(const void *a, const void *b)
{
	return lp_meta_cmp_created(&((const struct member *)a)->o->meta,
	                           &((const struct member *)b)->o->meta);
}

static int cmp_member_name(const void *a, const void *b)
{
	return lp_meta_cmp(&((const struct member *)a)->o->meta,
	                   &((const struct member *)b)->o->meta);
}

static const char *akid_key(const struct lp_aws_credentials *a)
{
	return a->access_key_id_key ? a->access_key_id_key : "AWS_ACCESS_KEY_ID";
}

static const char *sak_key(const struct lp_aws_credentials *a)
{
	return a->secret_access_key_key ? a->secret_access_key_key : "AWS_SECRET_ACCESS_KEY";
}

/* By the AWS profile an output reads: namespace, Secret, key names. */
static int cmp_profile(const struct lp_output *x, const struct lp_output *y)
{
	const struct lp_aws_credentials *a = &x->aws.credentials, *b = &y->aws.credentials;
	int r = strcmp(lp_str_or_empty(x->meta.ns), lp_str_or_empty(y->meta.ns));

	if (!r)
		r = strcmp(lp_str_or_empty(a->secret_name), lp_str_or_empty(b->secret_name));
	if (!r)
		r = strcmp(akid_key(a), akid_key(b));
	if (!r)
		r = strcmp(sak_key(a), sak_key(b));
	if (!r)
		r = strcmp(lp_str_or_empty(a->session_token_key),
		           lp_str_or_empty(b->session_token_key));
	return r;
}

/* By profile, then creation time and name. */
static int cmp_member_profile(const void *a, const void *b)
{
	const struct lp_output *x = ((const struct member *)a)->o;
	const struct lp_output *y = ((const struct member *)b)->o;
	int r = cmp_profile(x, y);
	return r ? r : lp_meta_cmp_created(&x->meta, &y->meta);
}

/* ---------- the sharing rule ---------- */

struct ns_need { /* the units u[first..end) of one namespace */
	size_t first, end, need;
};

static int cmp_need(const void *a, const void *b)
{
	const struct ns_need *x = a, *y = b;
	if (x->need != y->need)
		return x->need < y->need ? -1 : 1;
	return (x->first > y->first) - (x->first < y->first);
}

/* Sets keep and part of units u[0..n) (sorted by cmp_unit) within total, by
 * the rule above; *n_ns gets how many namespaces share. LP_ERR_NOMEM. */
static lp_err share_out(struct unit *u, size_t n, size_t total, size_t *n_ns)
{
	struct ns_need *ns = lp_calloc(n + 1, sizeof(*ns));
	size_t k = 0, left = total;

	if (!ns)
		return LP_ERR_NOMEM;
	for (size_t i = 0, j; i < n; i = j) {
		ns[k] = (struct ns_need){i, i, 0};
		for (j = i; j < n && !strcmp(lp_str_or_empty(u[j].oldest->ns),
		                             lp_str_or_empty(u[i].oldest->ns));
		     j++)
			ns[k].need += u[j].cost;
		ns[k++].end = j;
	}
	*n_ns = k;
	qsort(ns, k, sizeof(*ns), cmp_need);
	for (size_t i = 0; i < k; i++) {
		size_t part = left / (k - i), used = 0;
		for (size_t x = ns[i].first; x < ns[i].end; x++) {
			u[x].keep = used + u[x].cost <= part;
			used += u[x].keep ? u[x].cost : 0;
			u[x].part = part;
		}
		left -= used;
	}
	lp_free(ns);
	return LP_OK;
}

/* ---------- the hub's alert targets ---------- */

/* Marks the alert outputs of v[0..n) (sorted by cmp_member_name) that a
 * pipeline of pls routes to. */
static void alerts_used(struct member *v, size_t n, const struct lp_pipeline *const *pls,
                        size_t n_pls)
{
	struct lp_output key_o;
	struct member key = {&key_o, 0, 0}, *hit;

	memset(&key_o, 0, sizeof(key_o));
	for (size_t i = 0; i < n_pls; i++)
		for (size_t j = 0; j < pls[i]->n_routes; j++) {
			if (!pls[i]->routes[j].output_ref)
				continue;
			key_o.meta.ns = (char *)lp_route_output_ns(pls[i], &pls[i]->routes[j]);
			key_o.meta.name = pls[i]->routes[j].output_ref;
			hit = bsearch(&key, v, n, sizeof(*v), cmp_member_name);
			if (hit)
				hit->used = 1;
		}
}

/* The alert outputs in use beyond --max-alert-outputs-per-namespace and
 * beyond their namespace's part of the hub's LP_HUB_ALERT_TARGETS: drop[]
 * set and marked. */
static lp_err alerts_share(struct lp_ctrl *c, const struct lp_pipeline *const *pls, size_t n_pls,
                           const struct lp_output *const *outs, size_t n_outs, char *drop)
{
	struct member *v = lp_calloc(n_outs + 1, sizeof(*v));
	struct unit *u = lp_calloc(n_outs + 1, sizeof(*u));
	size_t n = 0, nu = 0, n_ns = 0, cap = c->o.max_alerts_per_ns;
	char msg[700];
	lp_err err = LP_ERR_NOMEM;

	if (!v || !u)
		goto out;
	for (size_t i = 0; i < n_outs; i++)
		if (outs[i]->type == LP_OUT_ALERT)
			v[n++] = (struct member){outs[i], i, 0};
	qsort(v, n, sizeof(*v), cmp_member_name);
	alerts_used(v, n, pls, n_pls);
	qsort(v, n, sizeof(*v), cmp_member_meta);
	err = LP_OK;
	for (size_t i = 0, j; i < n && !err; i = j) {
		const char *ns = lp_str_or_empty(v[i].o->meta.ns);
		size_t in_use = 0, seen = 0;
		for (j = i; j < n && !strcmp(lp_str_or_empty(v[j].o->meta.ns), ns); j++)
			in_use += v[j].used;
		for (size_t x = i; x < j && !err; x++) {
			if (!v[x].used)
				continue;
			if (++seen <= cap || !cap || !strcmp(ns, c->control_ns)) {
				u[nu++] = (struct unit){x, x + 1, &v[x].o->meta, 1, 0, 0};
				continue;
			}
			snprintf(
			    msg, sizeof(msg),
			    "namespace \"%s\" has %zu alert LogOutputs in use, over the limit of "
			    "%zu per namespace (--max-alert-outputs-per-namespace): the first %zu "
			    "by creation time, then name, are kept; this one is number %zu and "
			    "is left out (the hub is not given its target)",
			    ns, in_use, cap, cap, seen);
			drop[v[x].idx] = 1;
			err = ctrl_limits_mark(c, RES_OUTPUT, &v[x].o->meta, msg);
		}
	}
	if (!err)
		err = share_out(u, nu, LP_HUB_ALERT_TARGETS, &n_ns);
	for (size_t i = 0; i < nu && !err; i++) {
		if (u[i].keep)
			continue;
		snprintf(
		    msg, sizeof(msg),
		    "the live-tail hub holds at most %u alert targets for all namespaces; %zu "
		    "namespaces use alert outputs, so namespace \"%s\" gets %zu (an equal part "
		    "of what the namespaces needing less leave): the first by creation time, "
		    "then name, are kept and this one is left out",
		    (unsigned)LP_HUB_ALERT_TARGETS, n_ns, lp_str_or_empty(u[i].oldest->ns),
		    u[i].part);
		drop[v[u[i].first].idx] = 1;
		err = ctrl_limits_mark(c, RES_OUTPUT, u[i].oldest, msg);
	}
out:
	lp_free(v);
	lp_free(u);
	return err;
}

/* ---------- the agents' AWS credentials file ---------- */

/* The profile name the renderer gives ("lp-" + 12 hex digits). */
#define PROFILE_NAME_LEN 15

/* Bytes o's profile adds to the credentials file, as
 * lp_render_aws_credentials_file writes it: "[name]\n" and "key = value\n"
 * per key. */
static size_t profile_bytes(struct lp_ctrl *c, const struct lp_output *o)
{
	const struct lp_aws_credentials *a = &o->aws.credentials;
	const char *keys[3] = {akid_key(a), sak_key(a), a->session_token_key};
	static const size_t names[3] = {sizeof("aws_access_key_id") - 1,
	                                sizeof("aws_secret_access_key") - 1,
	                                sizeof("aws_session_token") - 1};
	size_t n = 1 + PROFILE_NAME_LEN + 2;

	for (size_t k = 0; k < 3; k++)
		if (keys[k])
			n += names[k] + 3 +
			     lp_b64_decoded_len(
			         ctrl_secret_value(c, o->meta.ns, a->secret_name, keys[k])) +
			     1;
	return n;
}

/* The outputs whose AWS profile does not fit their namespace's part of the
 * file: drop[] set and marked. */
static lp_err aws_share(struct lp_ctrl *c, const struct lp_output *const *outs, size_t n_outs,
                        char *drop)
{
	const size_t total = LP_CREDENTIALS_MAX_BYTES - (sizeof(LP_AWS_CREDENTIALS_KEY) - 1);
	struct member *v = lp_calloc(n_outs + 1, sizeof(*v));
	struct unit *u = lp_calloc(n_outs + 1, sizeof(*u));
	size_t n = 0, nu = 0, n_ns = 0;
	char msg[1000];
	lp_err err = LP_ERR_NOMEM;

	if (!v || !u)
		goto out;
	for (size_t i = 0; i < n_outs; i++)
		if (outs[i]->aws.credentials.secret_name && lp_output_signs_aws(outs[i]))
			v[n++] = (struct member){outs[i], i, 0};
	qsort(v, n, sizeof(*v), cmp_member_profile);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && !cmp_profile(v[i].o, v[j].o); j++)
			;
		u[nu++] = (struct unit){i, j, &v[i].o->meta, profile_bytes(c, v[i].o), 0, 0};
	}
	qsort(u, nu, sizeof(*u), cmp_unit);
	err = share_out(u, nu, total, &n_ns);
	for (size_t i = 0; i < nu && !err; i++) {
		const struct lp_aws_credentials *a = &v[u[i].first].o->aws.credentials;
		if (u[i].keep)
			continue;
		snprintf(
		    msg, sizeof(msg),
		    "the AWS credentials of Secret \"%s\" (keys \"%s\", \"%s\"%s%s%s) take %zu "
		    "bytes of the agents' AWS credentials file, which every namespace shares "
		    "and which holds at most %zu bytes (one credentials Secret, %u bytes with "
		    "its key); %zu namespaces use AWS credentials, so namespace \"%s\" gets %zu "
		    "bytes (an equal part of what the namespaces needing less leave), and "
		    "its older outputs' credentials fill them: this output is left out "
		    "(fewer or smaller credentials, e.g. without a session token, let it in)",
		    lp_str_or_empty(a->secret_name), akid_key(a), sak_key(a),
		    a->session_token_key ? ", \"" : "", lp_str_or_empty(a->session_token_key),
		    a->session_token_key ? "\"" : "", u[i].cost, total, LP_CREDENTIALS_MAX_BYTES,
		    n_ns, lp_str_or_empty(u[i].oldest->ns), u[i].part);
		for (size_t x = u[i].first; x < u[i].end && !err; x++) {
			drop[v[x].idx] = 1;
			err = ctrl_limits_mark(c, RES_OUTPUT, &v[x].o->meta, msg);
		}
	}
out:
	lp_free(v);
	lp_free(u);
	return err;
}

lp_err ctrl_shares_apply(struct lp_ctrl *c, const struct lp_pipeline *const *pls, size_t n_pls,
                         const struct lp_output **outs, size_t *n_outs)
{
	char *drop = lp_calloc(*n_outs + 1, 1);
	size_t k = 0;
	lp_err err;

	if (!drop)
		return LP_ERR_NOMEM;
	err = alerts_share(c, pls, n_pls, outs, *n_outs, drop);
	if (!err)
		err = aws_share(c, outs, *n_outs, drop);
	if (!err) {
		for (size_t i = 0; i < *n_outs; i++)
			if (!drop[i])
				outs[k++] = outs[i];
		*n_outs = k;
	}
	lp_free(drop);
	return err;
}
