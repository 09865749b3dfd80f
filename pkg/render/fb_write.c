/* pkg/render/fb_write.c: the writer state and the small emitting helpers every part of the Fluent
 * Bit config uses (sections, plugin items, scratch buffers, first-error tracking). */
#include "fb.h"
#include "../util/mem.h"
#include <stdio.h>
#include <string.h>

void fb_sec_begin(struct fb *f, const char *key)
{
	f->sec_open = 0;
	f->sec_key = key;
}

/* Opens the section's sequence before its first item (in a processors
 * block: "processors: {logs: [" ). */
void fb_item(struct fb *f)
{
	if (f->sec_open)
		return;
	if (f->proc) {
		lp_yamlw_str(&f->w, "processors");
		lp_yamlw_map(&f->w);
		lp_yamlw_str(&f->w, "logs");
	} else {
		lp_yamlw_str(&f->w, f->sec_key);
	}
	lp_yamlw_seq(&f->w);
	f->sec_open = 1;
}

void fb_proc_begin(struct fb *f)
{
	f->proc_saved_open = f->sec_open;
	f->proc_saved_key = f->sec_key;
	f->sec_open = 0;
	f->proc = 1;
}

void fb_proc_end(struct fb *f)
{
	if (f->sec_open) {
		lp_yamlw_seq_end(&f->w);
		lp_yamlw_map_end(&f->w);
	}
	f->proc = 0;
	f->sec_open = f->proc_saved_open;
	f->sec_key = f->proc_saved_key;
}

void fb_sec_end(struct fb *f)
{
	if (f->sec_open)
		lp_yamlw_seq_end(&f->w);
	f->sec_open = 0;
}

/* Resets the scratch buffer; returns it for chained adds. */
struct lp_buf *fb_t0(struct fb *f)
{
	lp_buf_reset(&f->t);
	return &f->t;
}

const char *fb_ts(struct fb *f)
{
	return lp_buf_str(&f->t);
}

void fb_chk(struct fb *f, lp_err err)
{
	if (err && !f->err)
		f->err = err;
}

void fb_addf(struct fb *f, struct lp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fb_addf(struct fb *f, struct lp_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fb_chk(f, lp_buf_vaddf(b, fmt, ap));
	va_end(ap);
}

void fb_adds(struct fb *f, struct lp_buf *b, const char *s)
{
	fb_chk(f, lp_buf_adds(b, s));
}

/* t = the concatenation of the strings up to CAT_END (no printf: hot path). */
const char *fb_cat(struct fb *f, ...)
{
	va_list ap;
	const char *s;

	lp_buf_reset(&f->t);
	va_start(ap, f);
	while ((s = va_arg(ap, const char *)) != NULL)
		fb_chk(f, lp_buf_adds(&f->t, s));
	va_end(ap);
	return fb_ts(f);
}

void fb_kv(struct fb *f, const char *k, const char *v)
{
	lp_yamlw_kv(&f->w, k, v);
}

void fb_plugin(struct fb *f, const char *name)
{
	fb_item(f);
	lp_yamlw_map(&f->w);
	fb_kv(f, "name", name);
}

void fb_plugin_end(struct fb *f)
{
	lp_yamlw_map_end(&f->w);
}

/* Fluent Bit size text for a user quantity ("1Gi" is not Fluent Bit syntax). */
void fb_kv_size(struct fb *f, const char *k, const char *v)
{
	uint64_t b;

	if (v && strchr(v, 'i') && lp_size_parse(v, &b) == LP_OK) {
		fb_addf(f, fb_t0(f), "%llu", (unsigned long long)b);
		fb_kv(f, k, fb_ts(f));
	} else {
		fb_kv(f, k, v);
	}
}

const char *fb_storage_type(int fs)
{
	return fs ? "filesystem" : "memory";
}
