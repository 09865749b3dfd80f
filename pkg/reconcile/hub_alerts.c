/* pkg/reconcile/hub_alerts.c: the hub's Secret of alert targets (see
 * lp_desired_hub_alerts in desired.h and pkg/hub/alert.h for the format). It
 * holds webhook URLs, so it is a Secret the hub mounts, never a ConfigMap, and
 * the agents never see it. */
#include "desired.h"
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include "../util/b64.h"
#include "../util/mem.h"

/* One target; LP_ERR_NOTFOUND when its webhook's Secret or key is missing. */
static lp_err target(json_t *arr, const struct lp_render_alert *a, lp_secret_value_fn fn, void *ctx)
{
	const char *enc = fn ? fn(ctx, a->ns, a->secret_name, a->secret_key) : NULL;
	size_t len = 0;
	char *url = enc ? lp_b64_decode(enc, 4096, &len) : NULL;
	json_t *t;
	lp_err err = LP_OK;

	if (!url)
		return enc ? LP_ERR_NOMEM : LP_ERR_NOTFOUND;
	if (len && url[len - 1] == '\n') /* one trailing newline, as validated */
		url[--len] = 0;
	t = json_pack("{s:s, s:s, s:s%, s:i, s:i}", "namespace", a->ns, "name", a->name, "webhook",
	              url, len, "windowSeconds", a->window_seconds, "maxPerMinute",
	              a->max_per_minute);
	if (!t || json_array_append_new(arr, t))
		err = LP_ERR_NOMEM;
	OPENSSL_cleanse(url, len);
	lp_free(url);
	return err;
}

/* Wipes the webhook strings of arr's targets (they are secrets). */
static void wipe(json_t *arr)
{
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *h = json_object_get(json_array_get(arr, i), "webhook");
		if (json_is_string(h))
			OPENSSL_cleanse((void *)json_string_value(h), json_string_length(h));
	}
}

lp_err lp_desired_hub_alerts(json_t **out, const struct lp_rendered *r,
                             lp_secret_value_fn secret_value, void *ctx, const char *ns,
                             const char *name, size_t *missing)
{
	json_t *arr = NULL, *doc = NULL, *obj = NULL;
	char *text = NULL, *enc = NULL;
	size_t tl = 0;
	lp_err err = LP_ERR_NOMEM;

	*out = NULL;
	if (!r || r->n_alerts == 0)
		return LP_OK;
	arr = json_array();
	for (size_t i = 0; arr && i < r->n_alerts; i++) {
		err = target(arr, &r->alerts[i], secret_value, ctx);
		if (err == LP_ERR_NOTFOUND && missing)
			(*missing)++;
		else if (err)
			goto out;
	}
	err = LP_ERR_NOMEM;
	doc = arr ? json_pack("{s:O}", "targets", arr) : NULL;
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	tl = text ? strlen(text) : 0;
	enc = text ? lp_malloc((tl + 2) / 3 * 4 + 1) : NULL;
	if (!enc)
		goto out;
	EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)text, (int)tl);
	obj = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s, s:s}}, s:{s:s}}",
	                "apiVersion", "v1", "kind", "Secret", "type", "Opaque", "metadata", "name",
	                name ? name : LP_HUB_ALERTS_NAME, "namespace", ns, "labels",
	                LP_MANAGED_BY_LABEL, LP_MANAGED_BY_VALUE, "app.kubernetes.io/part-of",
	                "logplane", "app.kubernetes.io/name", "logplane-hub",
	                "app.kubernetes.io/component", "alerts", "data", LP_HUB_ALERTS_KEY, enc);
	if (!obj)
		goto out;
	*out = obj;
	err = LP_OK;
out:
	if (text) {
		OPENSSL_cleanse(text, tl);
		free(text);
	}
	if (enc) {
		OPENSSL_cleanse(enc, strlen(enc));
		lp_free(enc);
	}
	wipe(arr);
	json_decref(doc);
	json_decref(arr);
	return err;
}
