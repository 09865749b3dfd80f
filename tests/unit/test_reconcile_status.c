/* Unit tests for pkg/reconcile/status: conditions, digests, rollouts. */
#include "lp_test.h"
#include "../../pkg/reconcile/status.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *cond_field(const json_t *st, const char *type, const char *field)
{
	size_t i;
	const json_t *c;
	json_array_foreach(json_object_get(st, "conditions"), i, c)
	{
		if (!strcmp(json_string_value(json_object_get(c, "type")), type))
			return json_string_value(json_object_get(c, field));
	}
	return NULL;
}

static void t_valid_ready(void)
{
	struct lp_status_facts f = {0};
	struct lp_status_conds c;
	const struct lp_cond *x;

	f.generation = 3;
	f.config = LP_CONFIG_APPLIED;
	f.config_message = "included in ConfigMap logplane-system/logplane-fluent-bit-config";
	f.agents = 1;
	f.agents_message = "DaemonSet logplane-system/logplane-fluent-bit rolled out";
	lp_status_conditions(&c, &f);
	LP_CHECK_INT(c.n, 4);
	x = lp_status_find(&c, "Valid");
	LP_CHECK(x && x->status == LP_COND_TRUE);
	x = lp_status_find(&c, "ConfigGenerated");
	LP_CHECK(x && x->status == LP_COND_TRUE);
	LP_CHECK_HAS(x ? x->message : NULL, "logplane-fluent-bit-config");
	x = lp_status_find(&c, "AgentsReady");
	LP_CHECK(x && x->status == LP_COND_TRUE);
	LP_CHECK_STR(x ? x->reason : NULL, "RolledOut");
	x = lp_status_find(&c, "Ready");
	LP_CHECK(x && x->status == LP_COND_TRUE);
	/* rolling out -> AgentsReady False, Ready False with that reason */
	f.agents = 0;
	f.agents_message =
	    "DaemonSet logplane-system/logplane-fluent-bit: 1 of 3 pods updated, 1 ready";
	lp_status_conditions(&c, &f);
	x = lp_status_find(&c, "Ready");
	LP_CHECK(x && x->status == LP_COND_FALSE);
	LP_CHECK_STR(x ? x->reason : NULL, "RollingOut");
	LP_CHECK_HAS(x ? x->message : NULL, "AgentsReady: DaemonSet");
	/* pending config -> Unknowns */
	f.config = LP_CONFIG_PENDING;
	lp_status_conditions(&c, &f);
	x = lp_status_find(&c, "ConfigGenerated");
	LP_CHECK(x && x->status == LP_COND_UNKNOWN);
	x = lp_status_find(&c, "AgentsReady");
	LP_CHECK(x && x->status == LP_COND_UNKNOWN);
}

static void t_invalid_names_field(void)
{
	struct lp_status_facts f = {0};
	struct lp_status_conds c;
	const struct lp_cond *x;

	f.generation = 1;
	f.n_problems = 3;
	f.problem_field = "spec.routes[0].outputRef";
	f.problem_message = "LogOutput \"nope\" not found in namespace \"team-a\"";
	f.agents = 1;
	lp_status_conditions(&c, &f);
	x = lp_status_find(&c, "Valid");
	LP_CHECK(x && x->status == LP_COND_FALSE);
	LP_CHECK_STR(x ? x->reason : NULL, "Invalid");
	LP_CHECK_STR(x ? x->message : NULL,
	             "spec.routes[0].outputRef: LogOutput \"nope\" not found in namespace "
	             "\"team-a\" (and 2 more problems)");
	x = lp_status_find(&c, "ConfigGenerated");
	LP_CHECK(x && x->status == LP_COND_FALSE);
	x = lp_status_find(&c, "Ready");
	LP_CHECK(x && x->status == LP_COND_FALSE);
	LP_CHECK_STR(x ? x->reason : NULL, "Invalid");
	LP_CHECK_HAS(x ? x->message : NULL, "spec.routes[0].outputRef");
	/* left out by the renderer */
	f.n_problems = 0;
	f.config = LP_CONFIG_LEFT_OUT;
	f.render_field = "spec.parse.regex";
	f.render_message = "no named group";
	lp_status_conditions(&c, &f);
	x = lp_status_find(&c, "ConfigGenerated");
	LP_CHECK(x && x->status == LP_COND_FALSE);
	LP_CHECK_STR(x ? x->reason : NULL, "RenderFailed");
	LP_CHECK_STR(x ? x->message : NULL, "spec.parse.regex: no named group");
	x = lp_status_find(&c, "AgentsReady");
	LP_CHECK(x && x->status == LP_COND_FALSE);
	/* one verdict: what the renderer refused is not Valid either */
	x = lp_status_find(&c, "Valid");
	LP_CHECK(x && x->status == LP_COND_FALSE);
	LP_CHECK_STR(x ? x->message : NULL, "spec.parse.regex: no named group");
}

static void t_extra_conditions(void)
{
	struct lp_status_facts f = {0};
	struct lp_status_conds c;
	struct lp_cond extra[2] = {
	    {"CredentialsResolved", LP_COND_TRUE, "Resolved", "from Secret team-a/aws"},
	    {"Provisioned", LP_COND_FALSE, "CreateFailed", "spec.kinesis.provision: LimitExceeded"},
	};
	const struct lp_cond *x;

	f.config = LP_CONFIG_APPLIED;
	f.agents = 1;
	f.extra = extra;
	f.n_extra = 2;
	lp_status_conditions(&c, &f);
	LP_CHECK_INT(c.n, 6);
	x = lp_status_find(&c, "Provisioned");
	LP_CHECK(x && x->status == LP_COND_FALSE);
	x = lp_status_find(&c, "Ready");
	LP_CHECK(x && x->status == LP_COND_FALSE);
	LP_CHECK_STR(x ? x->reason : NULL, "CreateFailed");
	extra[1].status = LP_COND_TRUE;
	lp_status_conditions(&c, &f);
	x = lp_status_find(&c, "Ready");
	LP_CHECK(x && x->status == LP_COND_TRUE);
}

/* A running pipeline whose output is not Ready is not Ready: the output and
 * why are named; the other conditions stay as they are. */
static void t_output_not_ready(void)
{
	struct lp_status_facts f = {0};
	struct lp_status_conds c;
	const struct lp_cond *x;

	f.config = LP_CONFIG_APPLIED;
	f.agents = 1;
	f.n_outputs_down = 1;
	f.output_down = "team-a/kin";
	f.output_down_why =
	    "Provisioned=False EndpointUnreachable: cannot reach http://127.0.0.1:9";
	lp_status_conditions(&c, &f);
	x = lp_status_find(&c, "AgentsReady");
	LP_CHECK(x && x->status == LP_COND_TRUE);
	x = lp_status_find(&c, "Ready");
	LP_CHECK(x && x->status == LP_COND_FALSE);
	LP_CHECK_STR(x ? x->reason : NULL, "OutputNotReady");
	LP_CHECK_HAS(x ? x->message : NULL, "LogOutput team-a/kin is not Ready");
	LP_CHECK_HAS(x ? x->message : NULL, "EndpointUnreachable");
	f.n_outputs_down = 3;
	lp_status_conditions(&c, &f);
	x = lp_status_find(&c, "Ready");
	LP_CHECK_HAS(x ? x->message : NULL, "(and 2 more outputs not Ready)");
	/* a condition of the pipeline itself explains first */
	f.agents = 0;
	f.agents_message = "DaemonSet x: 1 of 2 pods updated, 1 ready";
	lp_status_conditions(&c, &f);
	x = lp_status_find(&c, "Ready");
	LP_CHECK_STR(x ? x->reason : NULL, "RollingOut");
	f.agents = 1;
	f.n_outputs_down = 0;
	lp_status_conditions(&c, &f);
	x = lp_status_find(&c, "Ready");
	LP_CHECK(x && x->status == LP_COND_TRUE);
}

/* An unreferenced output: Ready agrees with ConfigGenerated (not referenced),
 * never "in the configuration, and running". */
static void t_unused_output_agrees(void)
{
	struct lp_status_facts f = {0};
	struct lp_status_conds c;
	const struct lp_cond *x;

	f.config = LP_CONFIG_APPLIED;
	f.config_message = "not referenced by any valid LogPipeline: nothing to render";
	f.agents = 1;
	f.agents_message = "no Fluent Bit pod sends to it until a LogPipeline routes to it";
	f.unused = 1;
	lp_status_conditions(&c, &f);
	x = lp_status_find(&c, "Ready");
	LP_CHECK(x && x->status == LP_COND_TRUE);
	LP_CHECK_STR(x ? x->reason : NULL, "NotReferenced");
	LP_CHECK_HAS(x ? x->message : NULL, "not referenced");
	LP_CHECK(x && x->message && !strstr(x->message, "in the configuration"));
}

/* A status written and read back has the same digest: no second write; the
 * lastTransitionTime stays unless the status changes. */
static void t_roundtrip_and_ltt(void)
{
	struct lp_status_facts f = {0};
	struct lp_status_conds c;
	struct lp_status_seen seen;
	json_t *st, *st2;

	f.generation = 2;
	f.config = LP_CONFIG_APPLIED;
	f.agents = 0;
	f.agents_message = "rolling";
	lp_status_conditions(&c, &f);
	lp_status_seen_parse(&seen, NULL);
	LP_CHECK(!seen.present);
	LP_CHECK(lp_status_differs(&seen, 2, c.c, c.n));
	st = lp_status_new(&seen, 2, c.c, c.n, "2026-01-01T00:00:00Z");
	LP_CHECK(st != NULL);
	LP_CHECK_INT(json_integer_value(json_object_get(st, "observedGeneration")), 2);
	/* sorted by type */
	LP_CHECK_STR(json_string_value(json_object_get(
	                 json_array_get(json_object_get(st, "conditions"), 0), "type")),
	             "AgentsReady");
	lp_status_seen_parse(&seen, st);
	LP_CHECK(seen.present);
	LP_CHECK(!lp_status_differs(&seen, 2, c.c, c.n));
	LP_CHECK(lp_status_differs(&seen, 3, c.c, c.n)); /* new generation */
	/* agents become ready: AgentsReady and Ready transition, Valid keeps its time */
	f.agents = 1;
	lp_status_conditions(&c, &f);
	LP_CHECK(lp_status_differs(&seen, 2, c.c, c.n));
	st2 = lp_status_new(&seen, 2, c.c, c.n, "2026-01-01T00:05:00Z");
	LP_CHECK_STR(cond_field(st2, "Valid", "lastTransitionTime"), "2026-01-01T00:00:00Z");
	LP_CHECK_STR(cond_field(st2, "AgentsReady", "lastTransitionTime"), "2026-01-01T00:05:00Z");
	LP_CHECK_STR(cond_field(st2, "Ready", "status"), "True");
	LP_CHECK_STR(cond_field(st2, "Ready", "lastTransitionTime"), "2026-01-01T00:05:00Z");
	/* a message change alone keeps the transition time */
	lp_status_seen_parse(&seen, st2);
	f.config_message = "other";
	lp_status_conditions(&c, &f);
	LP_CHECK(lp_status_differs(&seen, 2, c.c, c.n));
	json_decref(st);
	st = lp_status_new(&seen, 2, c.c, c.n, "2026-01-01T00:09:00Z");
	LP_CHECK_STR(cond_field(st, "ConfigGenerated", "lastTransitionTime"),
	             "2026-01-01T00:00:00Z");
	json_decref(st);
	json_decref(st2);
}

/* An observed status with foreign order and extra fields digests the same. */
static void t_seen_parse_order(void)
{
	struct lp_cond c[2] = {{"Valid", LP_COND_TRUE, "Valid", "ok"},
	                       {"Ready", LP_COND_FALSE, "Pending", "wait"}};
	json_t *st = json_loads(
	    "{\"observedGeneration\":4,\"conditions\":["
	    "{\"type\":\"Valid\",\"status\":\"True\",\"reason\":\"Valid\",\"message\":\"ok\","
	    "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\",\"observedGeneration\":4},"
	    "{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"Pending\",\"message\":\"wait\"}]"
	    "}",
	    0, NULL);
	struct lp_status_seen seen;

	LP_CHECK(st != NULL);
	lp_status_seen_parse(&seen, st);
	LP_CHECK_INT(seen.n, 2);
	LP_CHECK_INT(seen.observed_generation, 4);
	LP_CHECK(!lp_status_differs(&seen, 4, c, 2));
	c[1].message = "other";
	LP_CHECK(lp_status_differs(&seen, 4, c, 2));
	json_decref(st);
	st = json_string("garbage");
	lp_status_seen_parse(&seen, st);
	LP_CHECK(!seen.present);
	json_decref(st);
}

static void t_rollout(void)
{
	static const struct {
		const char *name, *json;
		int known, done;
		const char *msg;
	} cases[] = {
	    {"ds_done",
	     "{\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"fb\",\"namespace\":\"ls\","
	     "\"generation\":2},\"spec\":{\"template\":{\"metadata\":{\"annotations\":"
	     "{\"logplane.io/config-hash\":\"abc\"}}}},\"status\":{\"observedGeneration\":2,"
	     "\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":3,\"numberReady\":3}}",
	     1, 1, "DaemonSet ls/fb rolled out"},
	    {"ds_old_generation",
	     "{\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"fb\",\"namespace\":\"ls\","
	     "\"generation\":3},\"status\":{\"observedGeneration\":2,"
	     "\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":3,\"numberReady\":3}}",
	     1, 0, "DaemonSet ls/fb: generation 3 not observed yet"},
	    {"ds_rolling",
	     "{\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"fb\",\"namespace\":\"ls\","
	     "\"generation\":3},\"status\":{\"observedGeneration\":3,"
	     "\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":1,\"numberReady\":2}}",
	     1, 0, "DaemonSet ls/fb: 1 of 3 pods updated, 2 ready"},
	    {"sts_done",
	     "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"ag\",\"namespace\":\"ls\","
	     "\"generation\":1},\"spec\":{\"replicas\":2},\"status\":{\"observedGeneration\":1,"
	     "\"updatedReplicas\":2,\"readyReplicas\":2}}",
	     1, 1, "StatefulSet ls/ag rolled out"},
	    {"sts_unready",
	     "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"ag\",\"namespace\":\"ls\","
	     "\"generation\":1},\"spec\":{\"replicas\":2},\"status\":{\"observedGeneration\":1,"
	     "\"updatedReplicas\":2,\"readyReplicas\":1}}",
	     1, 0, "StatefulSet ls/ag: 2 of 2 pods updated, 1 ready"},
	    {"none", "null", 0, 0, ""},
	};
	for (size_t i = 0; i < LP_TEST_COUNT(cases); i++) {
		json_t *o = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		struct lp_rollout r;
		lp_rollout_parse(&r, o);
		if (r.known != cases[i].known || r.done != cases[i].done ||
		    strcmp(r.message, cases[i].msg) != 0)
			lp_test_fail(__FILE__, __LINE__, "%s: known=%d done=%d msg=%s",
			             cases[i].name, r.known, r.done, r.message);
		if (i == 0)
			LP_CHECK_STR(r.config_hash, "abc");
		json_decref(o);
	}
}

/* The digest of the fields besides the conditions: the same for the same
 * content in any key order, blind to conditions and nulls, "" for none, and
 * different when a listed value changes. */
static void t_extra_digest(void)
{
	char a[17], b[17], none[17], changed[17];
	struct lp_status_seen seen;
	json_t *mine =
	    json_pack("{s:s, s:[{s:s, s:s, s:s, s:s}], s:[{s:s, s:s}], s:i}", "configHash", "abc",
	              "outputs", "name", "good", "delivered", "True", "reason", "Routed", "message",
	              "m", "problems", "field", "spec.x", "message", "bad", "problemCount", 1);
	json_t *observed = json_loads(
	    "{\"problemCount\": 1, \"observedGeneration\": 4, \"conditions\": [], "
	    "\"target\": null, \"problems\": [{\"message\": \"bad\", \"field\": \"spec.x\"}], "
	    "\"outputs\": [{\"reason\": \"Routed\", \"message\": \"m\", \"name\": \"good\", "
	    "\"delivered\": \"True\"}], \"configHash\": \"abc\"}",
	    0, NULL);
	json_t *bare = json_pack("{s:i, s:[]}", "observedGeneration", 4, "conditions");

	LP_CHECK(mine && observed && bare);
	lp_status_extra_digest(a, mine);
	lp_status_extra_digest(b, observed);
	lp_status_extra_digest(none, bare);
	LP_CHECK_INT(strlen(a), 16);
	LP_CHECK_STR(a, b);
	LP_CHECK_STR(none, "");
	lp_status_seen_parse(&seen, observed);
	LP_CHECK_STR(seen.extra_digest, a);
	json_object_set_new(mine, "problemCount", json_integer(2));
	lp_status_extra_digest(changed, mine);
	LP_CHECK(strcmp(changed, a) != 0);
	json_decref(mine);
	json_decref(observed);
	json_decref(bare);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"valid_ready", t_valid_ready},
	    {"invalid_names_field", t_invalid_names_field},
	    {"extra_conditions", t_extra_conditions},
	    {"output_not_ready", t_output_not_ready},
	    {"unused_output_agrees", t_unused_output_agrees},
	    {"roundtrip_and_ltt", t_roundtrip_and_ltt},
	    {"seen_parse_order", t_seen_parse_order},
	    {"rollout", t_rollout},
	    {"extra_digest", t_extra_digest},
	};
	return lp_test_main("reconcile_status", tests, LP_TEST_COUNT(tests));
}
