/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fw internals, shared by fw.c (socket side), fw-plan.c (plans and their
 * encoding), fw-build.c and fw-rules.c (the ruleset of table inet netd),
 * fw-net.c (one network's part of it), fw-guard.c (table bridge netd:
 * port protection), fw-expr.c (one helper per nftables expression) and
 * the unit tests.
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

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "firewall/fw.h"

#define FW_ERRMSG_MAX		1024
/* Set elements per NEWSETELEM message: ~100 bytes each at most (a 16-byte
 * key and a jump to a chain name of at most 37 characters), so a message
 * stays far below FW_MSG_MAX. */
#define FW_ELEMS_PER_MSG	32
/* Room reserved in the batch buffer before writing each message; the
 * largest message we build (a NEWSETELEM chunk) needs ~4 KiB. */
#define FW_MSG_MAX		16384

/* nftables data type ids (nftables' enum datatypes), as the kernel stores
 * them in NFTA_SET_KEY_TYPE; `nft list` prints sets by them. */
#define FW_TYPE_IPADDR		7
#define FW_TYPE_IP6ADDR		8
#define FW_TYPE_ETHERADDR	9
#define FW_TYPE_INET_PROTOCOL	12
#define FW_TYPE_INET_SERVICE	13
#define FW_TYPE_IFNAME		41
#define FW_TYPE_BITS		6	/* concatenations: (a << 6) | b */

/* Names of the objects in table inet netd. */
#define FW_SET_BRIDGES		"bridges"
#define FW_MAP_FROM		"from_bridge"
#define FW_MAP_TO		"to_bridge"
#define FW_MAP_INPUT		"input_bridge"
#define FW_MAP_MASQ4		"masq4"
#define FW_MAP_MASQ6		"masq6"
#define FW_MAP_DNAT		"dnat"

/* Names of the objects in table bridge netd (fw-guard.c). */
#define FW_SET_GUARDED		"guarded"
#define FW_SET_PORT_MAC		"port_mac"
#define FW_SET_PORT_IP4		"port_ip4"
#define FW_SET_ALLOW6		"allow6"
#define FW_CHAIN_GUARD		"guard"

#define FW_NAME_MAX		32	/* network names */
#define FW_CHAIN_NAME_MAX	(FW_NAME_MAX + sizeof("-masq"))

enum fw_msg_type {
	FW_MSG_NEWTABLE,
	FW_MSG_DELTABLE,
	FW_MSG_NEWCHAIN,
	FW_MSG_NEWSET,
	FW_MSG_NEWSETELEM,	/* elements attached to .set */
	FW_MSG_DELSETELEM,	/* elements attached to .set */
	FW_MSG_NEWRULE,
	FW_MSG_DELRULE,		/* every rule of .rule's chain: flush chain */
	FW_MSG_DELCHAIN,
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
 * NULL adds new, new NULL removes old, both replace old with new. */
int fw_plan_net(const struct fw_network *old, const struct fw_network *new,
		struct fw_plan **ret, char *err, size_t errlen);
/* Why the kernel may refuse msg (of a fw_plan_net() plan) with EEXIST,
 * or NULL. */
const char *fw_net_clash_hint(const struct fw_msg *msg);

/* fw-guard.c: table bridge netd, whole (sync) or one port's elements */
int fw_plan_guard_sync(const struct fw_guard *g, size_t n,
		       const struct fw_prefix *v6, size_t n_v6,
		       struct fw_plan **ret, char *err, size_t errlen);
int fw_plan_guard_set(const struct fw_guard *old, const struct fw_guard *new,
		      struct fw_plan **ret, char *err, size_t errlen);

/* State of one plan being built, shared by fw-build.c, fw-rules.c and
 * fw-guard.c. */
struct fw_ctx {
	struct fw_plan *plan;
	uint16_t family;		/* NFPROTO_INET or NFPROTO_BRIDGE */
	bool excl;			/* new chains and elements exclusive */
	char *err;
	size_t errlen;
	char rule_chain[FW_CHAIN_NAME_MAX];	/* chain of the last rule */
	unsigned int rule_no;
	struct nftnl_set *elems;	/* element message being filled */
	enum fw_msg_type elems_type;	/* its type: NEW- or DELSETELEM */
	unsigned int elems_n;
	unsigned int elems_part;
};

/* nftables (not the kernel) keeps a set's key byte order in the set's
 * user data; without it `nft list` prints interface names as "". */
#define FW_BYTEORDER_HOST	1
#define FW_BYTEORDER_BIG	2

struct fw_set_def {
	const char *name;
	uint32_t key_type;
	uint32_t key_len;
	uint32_t flags;
	uint32_t key_byteorder;	/* 0: none recorded */
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
bool fw_ifname_ok(const char *name);
void fw_subnet_of(const struct fw_prefix *p, bool host, struct fw_subnet *s);
bool fw_subnet_contains(const struct fw_subnet *a, const struct fw_subnet *b);
bool fw_subnet_end(const struct fw_subnet *s, uint8_t *out);
bool fw_prefix_redundant(const struct fw_network *net, size_t i);
void fw_chain_name(char *buf, const struct fw_network *net,
		   const char *suffix);
int fw_check_network(struct fw_ctx *ctx, const struct fw_network *net);
/* The names of a network's chains (NAME-from, -to, -in, -masq, -dnat as
 * its mode and forwards ask); returns how many. */
#define FW_NET_CHAINS_MAX	5
size_t fw_net_chain_names(const struct fw_network *net,
			  char names[][FW_CHAIN_NAME_MAX]);
/* Objects of table ctx->family netd, appended to ctx->plan. */
int fw_build_tables(struct fw_ctx *ctx);
int fw_add_chain(struct fw_ctx *ctx, const char *name,
		 const struct fw_base_chain *base);
int fw_add_net_chains(struct fw_ctx *ctx, const struct fw_network *net);
/* Flush chain NAME (delete all its rules), delete chain NAME. */
int fw_flush_chain(struct fw_ctx *ctx, const char *name);
int fw_del_chain(struct fw_ctx *ctx, const char *name);
int fw_add_set(struct fw_ctx *ctx, const struct fw_set_def *def, uint32_t id);
/* Element KEY [: jump JUMP], FLAGS e.g. NFT_SET_ELEM_INTERVAL_END, in a
 * message of type (NEWSETELEM, or DELSETELEM which ignores jump);
 * consecutive elements of one set share messages. */
int fw_elem_put(struct fw_ctx *ctx, enum fw_msg_type type, const char *set,
		const void *key, uint32_t len, uint32_t flags,
		const char *jump);
int fw_elem_add(struct fw_ctx *ctx, const char *set, const void *key,
		uint32_t len, uint32_t flags, const char *jump);
int fw_elem_del(struct fw_ctx *ctx, const char *set, const void *key,
		uint32_t len);
/* Everything one network puts in the dispatch sets and maps (bridges,
 * from_bridge, to_bridge, input_bridge, masq4, masq6, dnat), in messages
 * of type; the network must have passed fw_check_network(). */
int fw_build_net_elems(struct fw_ctx *ctx, enum fw_msg_type type,
		       const struct fw_network *net);

/* fw-rules.c: the rules */
int fw_build_base_rules(struct fw_ctx *ctx);
int fw_build_net_rules(struct fw_ctx *ctx, const struct fw_network *net);

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
void fw_expr_lookup(struct fw_rule *r, uint32_t sreg, const char *set,
		    bool verdict_map);
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
