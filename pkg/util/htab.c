/* pkg/util/htab.c: the one hash table (see htab.h). */
#include "htab.h"
#include <string.h>
#include "hash.h"
#include "mem.h"

#define HTAB_FIRST 64

static size_t bucket_of(size_t nb, const char *key)
{
	return (size_t)(lp_hash_key(key) & (nb - 1));
}

void lp_htab_init(struct lp_htab *t, const char *(*key_of)(const struct lp_htab_node *node))
{
	memset(t, 0, sizeof(*t));
	t->key_of = key_of;
}

void lp_htab_free(struct lp_htab *t)
{
	lp_free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}

lp_err lp_htab_reserve(struct lp_htab *t)
{
	size_t n = t->nb ? t->nb * 2 : HTAB_FIRST;
	struct lp_htab_node **nb;

	if (t->nb && t->n < t->nb)
		return LP_OK;
	nb = lp_calloc(n, sizeof(*nb));
	if (!nb)
		return LP_ERR_NOMEM;
	for (size_t i = 0; i < t->nb; i++) {
		struct lp_htab_node *e = t->b[i];
		while (e) {
			struct lp_htab_node *next = e->next;
			size_t b = bucket_of(n, t->key_of(e));
			e->next = nb[b];
			nb[b] = e;
			e = next;
		}
	}
	lp_free(t->b);
	t->b = nb;
	t->nb = n;
	return LP_OK;
}

struct lp_htab_node **lp_htab_slot(const struct lp_htab *t, const char *key)
{
	struct lp_htab_node **p;

	if (!t->nb)
		return NULL;
	p = &t->b[bucket_of(t->nb, key)];
	while (*p && strcmp(t->key_of(*p), key) != 0)
		p = &(*p)->next;
	return p;
}

struct lp_htab_node *lp_htab_find(const struct lp_htab *t, const char *key)
{
	struct lp_htab_node **p = lp_htab_slot(t, key);

	return p ? *p : NULL;
}

void lp_htab_insert(struct lp_htab *t, struct lp_htab_node *node)
{
	struct lp_htab_node **p = &t->b[bucket_of(t->nb, t->key_of(node))];

	node->next = *p;
	*p = node;
	t->n++;
}

void lp_htab_unlink(struct lp_htab *t, struct lp_htab_node **slot)
{
	struct lp_htab_node *e = *slot;

	*slot = e->next;
	e->next = NULL;
	t->n--;
}
