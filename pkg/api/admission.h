/* pkg/api/admission: answers a Kubernetes AdmissionReview (admission.k8s.io/v1)
 * for LogPipeline and LogOutput with the same checker the operator and
 * `logplane validate` run: lp_*_parse (types, strings, regexes, sizes,
 * injection rules) and lp_*_validate (tenancy, clashes) against a world the
 * caller supplies.
 *
 * Verdicts:
 *   refused  any problem of the object itself; the message names each field
 *            ("spec.parse.regex: invalid regular expression at offset 3: ...")
 *            and status.details.causes carries one cause per field;
 *   warned   allowed, with one admission warning per reference to an object
 *            that may not exist yet (a LogOutput a route names, a Secret);
 *   allowed  nothing to say.
 * Always allowed: DELETE and CONNECT, an object being deleted, and an UPDATE
 * that leaves spec as it was (metadata, finalizers, labels), so an object
 * stored before the rules existed can still be finalized and deleted.
 * A request for another kind is allowed untouched. No I/O, no globals. */
#ifndef LP_API_ADMISSION_H
#define LP_API_ADMISSION_H
#include <stddef.h>
#include "../util/buf.h"
#include "api.h"

enum lp_admission_verdict {
	LP_ADMISSION_ALLOWED = 0,
	LP_ADMISSION_WARNED,
	LP_ADMISSION_REFUSED,
	LP_ADMISSION_BAD_REQUEST, /* not an AdmissionReview: answered with HTTP 400 */
	LP_ADMISSION_VERDICT_COUNT
};

/* "allowed", "warned", "refused", "bad_request"; NULL out of range. */
const char *lp_admission_verdict_name(enum lp_admission_verdict v);

struct lp_admission_result {
	enum lp_admission_verdict verdict;
	char kind[16];   /* "LogPipeline", "LogOutput", "" when neither */
	int http_status; /* 200, or 400 for a bad request */
};

/* Reviews body (an AdmissionReview JSON text of len bytes). w (borrowed, may be
 * NULL: no cross-object checks but tenancy) is the world to validate against;
 * its ref_warnings member is ignored (this call collects those itself). The
 * answer (an AdmissionReview with response, or a plain error text for a bad
 * request) is appended to out; *res is always written. LP_ERR_NOMEM (or
 * another lp_buf error) only when the answer could not be built. */
LP_WUR lp_err lp_admission_review(const char *body, size_t len, const struct lp_world *w,
                                  struct lp_buf *out, struct lp_admission_result *res);

#endif
