/* pkg/util/htab: the one hash table. Intrusive and chained: the caller embeds
 * a struct lp_htab_node in its own object and owns that object's memory; the
 * table owns only its bucket array. Keys are strings (hashed with lp_hash_key)
 * that the caller's key_of returns for a node; the bucket count is a power of
 * two and doubles when the table is as full as it has buckets. */
#ifndef LP_UTIL_HTAB_H
#define LP_UTIL_HTAB_H
#include <stddef.h>
#include "err.h"

struct lp_htab_node {
	struct lp_htab_node *next;
};

struct lp_htab {
	struct lp_htab_node **b;
	size_t nb, n; /* buckets, nodes */
	const char *(*key_of)(const struct lp_htab_node *node);
};

/* The object that holds node as its field member. */
#define LP_HTAB_ENTRY(node, type, member) ((type *)(void *)((char *)(node)-offsetof(type, member)))

/* An empty table (no allocation until the first lp_htab_reserve). */
void lp_htab_init(struct lp_htab *t, const char *(*key_of)(const struct lp_htab_node *node));
/* Frees the bucket array (not the nodes); t is empty afterwards. */
void lp_htab_free(struct lp_htab *t);
/* Makes room for one more node: allocates the first 64 buckets, or doubles
 * them when n >= nb. LP_ERR_NOMEM leaves the table as it was (still usable
 * when it had buckets). */
lp_err lp_htab_reserve(struct lp_htab *t) LP_WUR;
/* The link that points at key's node, or the NULL link ending its chain;
 * NULL when the table has no buckets yet. */
struct lp_htab_node **lp_htab_slot(const struct lp_htab *t, const char *key);
/* key's node, or NULL. */
struct lp_htab_node *lp_htab_find(const struct lp_htab *t, const char *key);
/* Links node (its key not present yet) in; the table must have buckets. */
void lp_htab_insert(struct lp_htab *t, struct lp_htab_node *node);
/* Unlinks the node *slot points at (slot from lp_htab_slot or lp_htab_next). */
void lp_htab_unlink(struct lp_htab *t, struct lp_htab_node **slot);
/* Iteration (the callers' own loops): for each i < t->nb, the chain
 * t->b[i] linked by next; unlinking *slot leaves slot at the following node. */

#endif
