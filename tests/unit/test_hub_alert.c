/* The pure parts of the hub's alert grouping (pkg/hub/alert.h): the message
 * fingerprint (numbers, hex ids and UUIDs vary, the group does not) and the
 * workload a record belongs to (labels first, else the pod name without its
 * generated suffixes). Table-driven. */
#include "lp_test.h"
#include "../../pkg/hub/alert.h"
#include <jansson.h>
#include <string.h>

static void t_fingerprint(void)
{
	static const struct {
		const char *msg, *want;
	} cases[] = {
	    {"timeout after 1234 ms", "timeout after # ms"},
	    {"timeout after 99 ms", "timeout after # ms"},
	    {"request 0x7fffa9 failed", "request # failed"},
	    {"trace 123e4567-e89b-12d3-a456-426614174000 lost", "trace #-#-#-#-# lost"},
	    {"object deadbeefcafe missing", "object # missing"},
	    {"user bob not found", "user bob not found"},
	    {"10.0.3.17:5432 refused", "#.#.#.#:# refused"},
	    {"decade accede", "decade accede"}, /* hex letters but short words stay */
	    {"", ""},
	};
	for (size_t i = 0; i < LP_TEST_COUNT(cases); i++) {
		struct lp_buf b;
		lp_buf_init(&b, 1 << 16);
		LP_CHECK_INT(lp_hub_alert_fingerprint(&b, cases[i].msg, strlen(cases[i].msg)),
		             LP_OK);
		LP_CHECK_STR(lp_buf_str(&b), cases[i].want);
		lp_buf_free(&b);
	}
}

static void t_workload(void)
{
	static const struct {
		const char *pod, *labels, *want;
	} cases[] = {
	    {"api-7d9c8b6f5d-x2x4q", NULL, "api"},
	    {"my-service-7d9c8b6f5d-x2x4q", NULL, "my-service"},
	    {"db-0", NULL, "db"},
	    {"fluent-bit-x2x4q", NULL, "fluent-bit"},
	    {"my-service-abcde", NULL, "my-service"},
	    {"standalone", NULL, "standalone"},
	    {"api-7d9c8b6f5d-x2x4q", "{\"app.kubernetes.io/name\": \"checkout\"}", "checkout"},
	    {"api-7d9c8b6f5d-x2x4q", "{\"app\": \"legacy\"}", "legacy"},
	    {"", NULL, ""},
	};
	for (size_t i = 0; i < LP_TEST_COUNT(cases); i++) {
		struct lp_hub_fields f;
		struct lp_buf b;
		json_t *labels = cases[i].labels ? json_loads(cases[i].labels, 0, NULL) : NULL;
		memset(&f, 0, sizeof(f));
		f.pod = cases[i].pod;
		f.labels = labels;
		lp_buf_init(&b, 4096);
		LP_CHECK_INT(lp_hub_alert_workload(&b, &f), LP_OK);
		LP_CHECK_STR(lp_buf_str(&b), cases[i].want);
		lp_buf_free(&b);
		json_decref(labels);
	}
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"fingerprint", t_fingerprint},
	    {"workload", t_workload},
	};
	return lp_test_main("hub_alert", tests, LP_TEST_COUNT(tests));
}
