/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fw internals, shared by fw.c (socket side), fw-plan.c (plans and their
 * encoding), fw-build.c, fw-rules.c and fw-slot.c (the ruleset of table
 * inet netd), fw-net.c (one network's part of it), fw-guard.c (table
 * bridge netd: port protection), fw-expr.c (one helper per nftables
 * expression) and the unit tests.
 *
 * The builder is pure: fw_plan_sync() turns a list of networks into a
 * "plan", the ordered list of nftnl objects that make up one batch, and
 * fw_plan_encode() serialises a plan into a netlink batch in memory.
 * Neither touches a socket, so tests can inspect both without a kernel.
 */
#ifndef NETD_FW_PRIVATE_H
#define NETD_FW_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "firewall/fw.h"

#define FW_ERRMSG_MAX		1024
/* Set elements per NEWSETELEM message: ~120 bytes each at most (a key
 * and a value of at most 32 bytes each), so a message stays far below
 * FW_MSG_MAX. */
#define FW_ELEMS_PER_MSG	32
/* Room reserved in the batch buffer before writing each message; the
 * largest message we build (a NEWSETELEM chunk) needs ~4 KiB. */
#define FW_MSG_MAX		16384

/* nftables data type ids (nftables' enum datatypes), as the kernel stores
 * them in NFTA_SET_KEY_TYPE / NFTA_SET_DATA_TYPE; `nft list` prints sets
 * by them. */
#define FW_TYPE_STRING		5
#define FW_TYPE_IPADDR		7
#define FW_TYPE_IP6ADDR		8
#define FW_TYPE_ETHERADDR	9
#define FW_TYPE_INET_PROTOCOL	12
#define FW_TYPE_INET_SERVICE	13
#define FW_TYPE_IFNAME		41
#define FW_TYPE_BITS		6	/* concatenations: (a << 6) | b */

/*
 * The sets and maps of table inet netd (see fw-build.c).  Every one is a
 * hash: adding or removing an element costs the same whatever the number
 * of elements, which is not true of interval sets (rbtree, pipapo) on
 * current kernels.
 */
#define FW_MAP_NETWORKS		"networks"	/* name : bridge */
#define FW_SET_BRIDGES		"bridges"	/* map bridge : name */
#define FW_SET_SAME		"same_bridge"	/* bridge . bridge */
#define FW_SET_ISOLATED		"isolated"	/* bridge */
#define FW_SET_NAT		"nat"		/* bridge */
#define FW_SET_UPLINKED		"uplinked"	/* bridge */
#define FW_SET_UPLINKS		"uplinks"	/* bridge . uplink */
#define FW_SET_ISOLATED4	"isolated4"	/* bridge */
#define FW_SET_ISOLATED6	"isolated6"	/* bridge */
#define FW_SET_HOSTS4		"hosts4"	/* bridge . host address */
#define FW_SET_HOSTS6		"hosts6"
#define FW_MAP_DNAT		"dnat"		/* proto . port : bridge */
#define FW_MAP_DNAT4		"dnat4"		/* proto . port : guest . port */
#define FW_MAP_DNAT6		"dnat6"

/* Names of the objects in table bridge netd (fw-guard.c). */
#define FW_SET_GUARDED		"guarded"
#define FW_SET_PORT_MAC		"port_mac"
#define FW_SET_PORT_IP4		"port_ip4"
#define FW_SET_ALLOW6		"allow6"
#define FW_CHAIN_GUARD		"guard"

#define FW_NAME_MAX		32	/* network names */
#define FW_CHAIN_NAME_MAX	32
#define FW_SET_NAME_MAX		32

/*
 * A slot: the sets of one prefix length (or pair of lengths) and the
 * rule that matches packets against them, e.g. for IPv4 /24:
 *   set net4_24 { type ifname . ipv4_addr }     bridge . subnet
 *   from_subnet: meta nfproto ipv4 iifname . ip saddr & 255.255.255.0
 *                  @net4_24 accept
 * A subnet check is then one hash lookup per prefix length in use,
 * whatever the number of networks.  Slots exist for the lengths the
 * networks have: fw_sync() makes those of its networks; adding a network
 * with a length no slot has yet adds the slot in the same batch (see
 * fw-net.c).  A slot whose last network went stays, empty, until the
 * next fw_sync().
 */
enum fw_slot_kind {
	FW_SLOT_NET,	/* net4_L: bridge . subnet, nat and routed networks
			 * without an uplink */
	FW_SLOT_NAT,	/* nat4_L: map subnet : bridge, nat networks */
	FW_SLOT_UPLINK,	/* natup4_L: subnet, egress4_L: subnet . uplink */
	FW_SLOT_LOCAL,	/* local4_L_M: subnet . subnet, within a nat network */
	FW_SLOT_NETUP,	/* netup4_L: bridge . subnet, networks with an uplink */
};

struct fw_slot {
	enum fw_slot_kind kind;
	int family;		/* AF_INET or AF_INET6 */
	uint8_t len;		/* prefix length (of the source) */
	uint8_t len2;		/* FW_SLOT_LOCAL: of the destination */
};

#define FW_SLOT_SETS_MAX	2

/* Set names, e.g. a list of sets the kernel did not find. */
struct fw_names {
	char **name;
	size_t n;
	bool oom;		/* a name could not be added */
};

enum fw_msg_type {
	FW_MSG_NEWTABLE,
	FW_MSG_DELTABLE,
	FW_MSG_NEWCHAIN,
	FW_MSG_NEWSET,
	FW_MSG_NEWSETELEM,	/* elements attached to .set */
	FW_MSG_DELSETELEM,	/* elements attached to .set */
	FW_MSG_NEWRULE,
};

struct fw_msg {
	enum fw_msg_type type;
	bool excl;		/* NLM_F_EXCL: the kernel refuses what exists */
	union {
		struct nftnl_table *table;
		struct nftnl_chain *chain;
		struct nftnl_set *set;
		struct nftnl_rule *rule;
	};
	unsigned int index;	/* rule: 1-based position in its chain;
				 * elements: 1-based chunk of its set */
};

/* The ordered content of one batch (without batch begin/end). */
struct fw_plan {
	struct fw_msg *msgs;
	size_t n;
	size_t cap;
};

/* An encoded batch: begin, the plan's messages, end.  Message i of the
 * plan carries sequence number seq + 1 + i; begin has seq. */
struct fw_buf {
	char *data;
	size_t len;
	size_t cap;
	uint32_t seq;
	size_t n_msgs;		/* plan messages, begin/end not counted */
};

/* fw-plan.c: the plan container, the removal plan, the encoder */
/* fw.c: a dump request on fw's socket, cb sees each answer. */
int fw_dump(struct fw *fw, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
int fw_plan_push(struct fw_plan *plan, enum fw_msg_type type, void *obj,
		 unsigned int index);
struct fw_plan *fw_plan_free(struct fw_plan *plan);
int fw_plan_remove(bool inet, bool bridge, struct fw_plan **ret);
int fw_plan_encode(const struct fw_plan *plan, uint32_t seq,
		   struct fw_buf *buf);
void fw_buf_release(struct fw_buf *buf);
struct nftnl_table *fw_table_new(uint16_t family, const char *name);
/* "rule 3 of chain web-from" and the like, for error messages. */
void fw_msg_describe(const struct fw_msg *msg, char *buf, size_t len);
/* An element of set (its key, and " (interval end)" if flags say so) as
 * nft would write it: "netd-web", 10.10.0.0, tcp . 8080, ... */
void fw_elem_describe(const char *set, const uint8_t *key, uint32_t len,
		      uint32_t flags, char *buf, size_t buflen);

/* fw-build.c: validation, tables, chains, sets and their elements */
int fw_plan_sync(const struct fw_network *nets, size_t n,
		 struct fw_plan **ret, char *err, size_t errlen);

/* fw-net.c: one network's part of table inet netd, in one batch: old
 * NULL adds new, new NULL removes old, both replace old with new.
 * missing (NULL: none) names the slot sets the kernel did not find when
 * the same change was tried before: the removal leaves them alone, the
 * addition creates their slots. */
int fw_plan_net(const struct fw_network *old, const struct fw_network *new,
		const struct fw_names *missing, struct fw_plan **ret,
		char *err, size_t errlen);
/* Why the kernel may refuse msg (of a fw_plan_net() plan) with EEXIST,
 * or NULL. */
const char *fw_net_clash_hint(const struct fw_msg *msg);

/* fw-guard.c: table bridge netd, whole (sync) or one port's elements */
int fw_plan_guard_sync(const struct fw_guard *g, size_t n,
		       const struct fw_prefix *v6, size_t n_v6,
		       struct fw_plan **ret, char *err, size_t errlen);
int fw_plan_guard_remove(const struct fw_guard *old, size_t n, struct fw_plan **ret,
			 char *err, size_t errlen);
int fw_plan_guard_set(const struct fw_guard *old, const struct fw_guard *new,
		      struct fw_plan **ret, char *err, size_t errlen);

/* State of one plan being built, shared by fw-build.c, fw-rules.c and
 * fw-guard.c. */
struct fw_ctx {
	struct fw_plan *plan;
	uint16_t family;		/* NFPROTO_INET or NFPROTO_BRIDGE */
	bool excl;			/* new elements exclusive */
	const struct fw_names *skip;	/* sets whose elements are left out */
	const char *only;		/* not NULL: elements of this set only */
	uint32_t set_id;		/* last batch-local id of a new set */
	char *err;
	size_t errlen;
	char rule_chain[FW_CHAIN_NAME_MAX];	/* chain of the last rule */
	unsigned int rule_no;
	struct nftnl_set *elems;	/* element message being filled */
	enum fw_msg_type elems_type;	/* its type: NEW- or DELSETELEM */
	unsigned int elems_n;
	unsigned int elems_part;
};

/* The context of one planning call, for family, its error buffer emptied. */
static inline struct fw_ctx fw_ctx_for(uint16_t family, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	return (struct fw_ctx){ .family = family, .err = err, .errlen = errlen };
}

/* nftables (not the kernel) keeps a set's key and data byte order in
 * the set's user data; without it `nft list` prints interface names as
 * "". */
#define FW_BYTEORDER_HOST	1
#define FW_BYTEORDER_BIG	2

struct fw_set_def {
	const char *name;
	uint32_t key_type;
	uint32_t key_len;
	uint32_t flags;
	uint32_t key_byteorder;	/* 0: none recorded */
	uint32_t data_type;	/* maps (NFT_SET_MAP) */
	uint32_t data_len;
	uint32_t data_byteorder;
};

struct fw_base_chain {
	const char *name;
	const char *type;
	uint32_t hook;
	int32_t prio;
};

#define FW_N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A network's subnet (host bits cleared) or a host address (len = bits). */
struct fw_subnet {
	int family;
	uint8_t len;
	uint8_t bytes;
	uint8_t addr[16];
};

__attribute__((format(printf, 3, 4)))
int fw_fail(struct fw_ctx *ctx, int err, const char *fmt, ...);
int fw_oom(struct fw_ctx *ctx);
bool fw_has_uplink(const struct fw_network *net);
/* A 16-byte interface name key, NUL padded */
void fw_ifname_key(uint8_t *key, const char *name);
bool fw_ifname_ok(const char *name);
void fw_subnet_of(const struct fw_prefix *p, bool host, struct fw_subnet *s);
bool fw_subnet_contains(const struct fw_subnet *a, const struct fw_subnet *b);
bool fw_subnet_end(const struct fw_subnet *s, uint8_t *out);
bool fw_prefix_redundant(const struct fw_network *net, size_t i);
void fw_prefix_mask(int family, uint8_t len, uint8_t *mask);
int fw_check_network(struct fw_ctx *ctx, const struct fw_network *net);
/* Objects of table ctx->family netd, appended to ctx->plan. */
int fw_build_tables(struct fw_ctx *ctx);
int fw_add_chain(struct fw_ctx *ctx, const char *name,
		 const struct fw_base_chain *base);
/* A new set; its batch-local id is ++ctx->set_id. */
int fw_add_set(struct fw_ctx *ctx, const struct fw_set_def *def);
/* Element KEY [: DATA], FLAGS e.g. NFT_SET_ELEM_INTERVAL_END, in a
 * message of type (NEWSETELEM, or DELSETELEM which ignores data);
 * consecutive elements of one set share messages.  Nothing for a set
 * in ctx->skip, or other than ctx->only. */
int fw_elem_put(struct fw_ctx *ctx, enum fw_msg_type type, const char *set,
		const void *key, uint32_t len, uint32_t flags,
		const void *data, uint32_t data_len);
int fw_elem_add(struct fw_ctx *ctx, const char *set, const void *key,
		uint32_t len, uint32_t flags);
int fw_elem_del(struct fw_ctx *ctx, const char *set, const void *key,
		uint32_t len);
/* Everything one network puts in the sets and maps, in messages of
 * type; the network must have passed fw_check_network(). */
int fw_build_net_elems(struct fw_ctx *ctx, enum fw_msg_type type,
		       const struct fw_network *net);

/* The slots a network needs (every one at most once), in a malloc'd
 * array (NULL when none). */
int fw_net_slots(const struct fw_network *net, struct fw_slot **ret,
		 size_t *ret_n);
/* The names of a slot's sets; returns how many. */
size_t fw_slot_sets(const struct fw_slot *slot,
		    char names[FW_SLOT_SETS_MAX][FW_SET_NAME_MAX]);
/* Is set the name of a slot's set?  Fills slot if so. */
bool fw_slot_parse(const char *set, struct fw_slot *slot);
/* A slot's sets (created if missing) and its rule. */
int fw_add_slot(struct fw_ctx *ctx, const struct fw_slot *slot);
/* What a network puts in the slots' sets, in messages of type. */
int fw_build_slot_elems(struct fw_ctx *ctx, enum fw_msg_type type,
			const struct fw_network *net);
bool fw_names_has(const struct fw_names *names, const char *name);
/* Add name unless it is there; sets names->oom on failure. */
void fw_names_add(struct fw_names *names, const char *name);
void fw_names_free(struct fw_names *names);

/* fw-rules.c: the rules */
int fw_build_base_rules(struct fw_ctx *ctx);
int fw_build_slot_rule(struct fw_ctx *ctx, const struct fw_slot *slot);

/*
 * fw-expr.c: one helper per nftables expression, appended to a rule under
 * construction.  A failed allocation is remembered in .err and reported
 * once by whoever finishes the rule, so rule builders read as a list of
 * expressions without an error check after each.
 */
struct fw_rule {
	struct nftnl_rule *nlr;
	int err;
};

/* Hand a rule to ctx->plan, numbered within its chain. */
int fw_rule_finish(struct fw_ctx *ctx, struct fw_rule *r);

void fw_rule_init(struct fw_rule *r, uint16_t family, const char *table,
		  const char *chain);
void fw_expr_meta_load(struct fw_rule *r, uint32_t key, uint32_t dreg);
void fw_expr_cmp(struct fw_rule *r, uint32_t sreg, uint32_t op,
		 const void *data, uint32_t len);
void fw_expr_payload_load(struct fw_rule *r, uint32_t base, uint32_t offset,
			  uint32_t len, uint32_t dreg);
void fw_expr_payload_write(struct fw_rule *r, uint32_t base, uint32_t offset,
			   uint32_t len, uint32_t sreg, uint32_t csum_type,
			   uint32_t csum_offset);
void fw_expr_bitwise_mask(struct fw_rule *r, uint32_t reg, const void *mask,
			  uint32_t len);
void fw_expr_lookup(struct fw_rule *r, uint32_t sreg, const char *set);
void fw_expr_map(struct fw_rule *r, uint32_t sreg, const char *set,
		 uint32_t dreg);
void fw_expr_lookup_inv(struct fw_rule *r, uint32_t sreg, const char *set);
void fw_expr_counter(struct fw_rule *r);
void fw_rule_comment(struct fw_rule *r, const char *comment);
void fw_expr_verdict(struct fw_rule *r, int verdict, const char *chain);
void fw_expr_immediate(struct fw_rule *r, uint32_t dreg, const void *data,
		       uint32_t len);
void fw_expr_ct_load(struct fw_rule *r, uint32_t key, uint32_t dreg);
void fw_expr_fib(struct fw_rule *r, uint32_t flags, uint32_t result,
		 uint32_t dreg);
void fw_expr_nat(struct fw_rule *r, uint32_t type, uint32_t family,
		 uint32_t reg_addr, uint32_t reg_proto);
void fw_expr_masq(struct fw_rule *r);

#endif
