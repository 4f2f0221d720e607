/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ruleset of table inet netd, built as a plan (see fw-private.h):
 * this file checks the networks and lays out tables, chains, sets and
 * their elements; fw-rules.c writes the rules, fw-slot.c the sets that
 * hold subnets.  The helpers that add tables, chains, sets and elements
 * serve table bridge netd (fw-guard.c) too, and those of one network's
 * elements the batches that add or remove that network alone (fw-net.c).
 *
 * The rules are fixed; a network is nothing but elements of hash sets
 * and maps keyed by its name, bridge, subnets and ports.  So a packet's
 * path does not grow with the number of networks (a compare of its
 * devices' link group for "one of netd's bridges?", one hash lookup per
 * other question asked of it), and adding or removing a network adds or
 * removes elements only: no chain, no rule, no jump, which would make
 * the kernel validate the whole table again on every commit.
 *
 *   forward (filter, 0)     iifgroup FW_ISOLATED_GROUP jump
 *                             between_bridges
 *                           oifgroup FW_ISOLATED_GROUP drop
 *                           iifgroup FW_BRIDGE_GROUP jump from_bridge
 *                           oifgroup FW_BRIDGE_GROUP jump to_bridge
 *   from_bridge             oifgroup & FW_GROUP_MASK == FW_BRIDGE_GROUP
 *                             jump between_bridges
 *                             (same bridge accept, else drop)
 *                           jump from_subnet (source in the subnets of
 *                             a network without uplink: accept, per
 *                             slot)
 *                           iifname @uplinked jump from_uplinked
 *                             (iifname . oifname != @uplinks drop; source
 *                             in its subnets: accept, per slot), drop
 *   to_bridge               ct established accept, nat:
 *                           ct dnat accept or drop, routed: from the
 *                           uplink if it has one
 *   input (filter, 0)       iifname @isolated jump isolated_input
 *                             (DHCP, DNS and ICMP to the bridge only)
 *   prerouting (nat, -100)  fib daddr type local dnat to
 *   output (nat, -100)        meta l4proto . th dport map @dnat4/@dnat6
 *   postrouting (nat, 100)  ip saddr & MASK @nat4_L jump masq (per slot)
 *   masq                    jump masq_skip (same network, wrong uplink:
 *                           accept), multicast and broadcast accept,
 *                           masquerade
 *   mangle_output           dnsmasq's DHCP replies onto our bridges: UDP
 *     (filter, -150)          checksum 0
 *
 * Every base chain has policy accept: netd decides only for its bridges'
 * traffic.  In the nat chains accept means "no masquerade" (the next nat
 * chains of the hook still run, as they do after a return).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "firewall/fw-private.h"

/* A port forward and its network, sorted to find duplicates. */
struct fw_fwd_ref {
	uint8_t proto;
	uint16_t port;
	int family;
	size_t net;
};

#define FW_PAIR(a, b)	((a) << FW_TYPE_BITS | (b))
#define FW_PORT_KEY	FW_PAIR(FW_TYPE_INET_PROTOCOL, FW_TYPE_INET_SERVICE)
/* set NAME { type ifname; } */
#define FW_IFNAME_SET(n) { .name = (n), .key_type = FW_TYPE_IFNAME, \
	.key_len = IFNAMSIZ, .key_byteorder = FW_BYTEORDER_HOST }
/* set NAME { type A . B; } of LEN bytes */
#define FW_PAIR_SET(n, a, b, len) { .name = (n), \
	.key_type = FW_PAIR(a, b), .key_len = (len) }

/* The fixed sets and maps; fw-slot.c has those of the subnets.  Network
 * names are keys and values of type string (`nft list` shows the type as
 * "" but the names as they are). */
static const struct fw_set_def fw_sets[] = {
	{ .name = FW_MAP_NETWORKS, .key_type = FW_TYPE_STRING,
	  .key_len = FW_NAME_MAX, .flags = NFT_SET_MAP,
	  .key_byteorder = FW_BYTEORDER_HOST, .data_type = FW_TYPE_IFNAME,
	  .data_len = IFNAMSIZ, .data_byteorder = FW_BYTEORDER_HOST },
	{ .name = FW_SET_BRIDGES, .key_type = FW_TYPE_IFNAME,
	  .key_len = IFNAMSIZ, .flags = NFT_SET_MAP,
	  .key_byteorder = FW_BYTEORDER_HOST, .data_type = FW_TYPE_STRING,
	  .data_len = FW_NAME_MAX, .data_byteorder = FW_BYTEORDER_HOST },
	FW_PAIR_SET(FW_SET_SAME, FW_TYPE_IFNAME, FW_TYPE_IFNAME, 32),
	FW_IFNAME_SET(FW_SET_ISOLATED),
	FW_IFNAME_SET(FW_SET_NAT),
	FW_IFNAME_SET(FW_SET_UPLINKED),
	FW_PAIR_SET(FW_SET_UPLINKS, FW_TYPE_IFNAME, FW_TYPE_IFNAME, 32),
	FW_IFNAME_SET(FW_SET_ISOLATED4),
	FW_IFNAME_SET(FW_SET_ISOLATED6),
	FW_PAIR_SET(FW_SET_HOSTS4, FW_TYPE_IFNAME, FW_TYPE_IPADDR, 20),
	FW_PAIR_SET(FW_SET_HOSTS6, FW_TYPE_IFNAME, FW_TYPE_IP6ADDR, 32),
	/* inet_proto . inet_service: each field takes a 4-byte register */
	{ .name = FW_MAP_DNAT, .key_type = FW_PORT_KEY, .key_len = 8,
	  .flags = NFT_SET_MAP, .data_type = FW_TYPE_IFNAME,
	  .data_len = IFNAMSIZ, .data_byteorder = FW_BYTEORDER_HOST },
	{ .name = FW_MAP_DNAT4, .key_type = FW_PORT_KEY, .key_len = 8,
	  .flags = NFT_SET_MAP,
	  .data_type = FW_PAIR(FW_TYPE_IPADDR, FW_TYPE_INET_SERVICE),
	  .data_len = 8 },
	{ .name = FW_MAP_DNAT6, .key_type = FW_PORT_KEY, .key_len = 8,
	  .flags = NFT_SET_MAP,
	  .data_type = FW_PAIR(FW_TYPE_IP6ADDR, FW_TYPE_INET_SERVICE),
	  .data_len = 20 },
};

static const struct fw_base_chain fw_base_chains[] = {
	{ "forward", "filter", NF_INET_FORWARD, 0 },
	{ "input", "filter", NF_INET_LOCAL_IN, 0 },
	{ "prerouting", "nat", NF_INET_PRE_ROUTING, -100 },
	{ "output", "nat", NF_INET_LOCAL_OUT, -100 },
	{ "postrouting", "nat", NF_INET_POST_ROUTING, 100 },
	{ "mangle_output", "filter", NF_INET_LOCAL_OUT, -150 },
};

static const char *const fw_chains[] = {
	"from_bridge", "between_bridges", "from_subnet", "from_uplinked",
	"to_bridge",
	"isolated_input", "masq", "masq_skip",
};

int fw_fail(struct fw_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	if (ctx->err && ctx->errlen) {
		va_start(ap, fmt);
		vsnprintf(ctx->err, ctx->errlen, fmt, ap);
		va_end(ap);
	}
	return err;
}

int fw_oom(struct fw_ctx *ctx)
{
	return fw_fail(ctx, -ENOMEM, "out of memory building the ruleset");
}

/* ---- validation ---- */

static bool fw_name_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > FW_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

bool fw_ifname_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	return len > 0 && len < IFNAMSIZ && !strchr(name, '/');
}

bool fw_has_uplink(const struct fw_network *net)
{
	return net->uplink && net->uplink[0];
}

static int fw_check_prefix(struct fw_ctx *ctx, const struct fw_network *net,
			   const struct fw_prefix *p)
{
	if (p->family == AF_INET && p->len <= 32)
		return 0;
	if (p->family == AF_INET6 && p->len <= 128)
		return 0;
	return fw_fail(ctx, -EINVAL, "network %s: invalid address family "
		       "or prefix length /%u", net->name, p->len);
}

static int fw_check_forward(struct fw_ctx *ctx, const struct fw_network *net,
			    const struct fw_forward *f)
{
	if (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP)
		return fw_fail(ctx, -EINVAL, "network %s: port forward with "
			       "protocol %u (only tcp and udp)", net->name,
			       f->proto);
	if (f->family != AF_INET && f->family != AF_INET6)
		return fw_fail(ctx, -EINVAL, "network %s: port forward %u "
			       "with invalid address family", net->name,
			       f->host_port);
	if (f->host_port == 0 || f->guest_port == 0)
		return fw_fail(ctx, -EINVAL, "network %s: port forward with "
			       "port 0", net->name);
	return 0;
}

static int fw_check_names(struct fw_ctx *ctx, const struct fw_network *net)
{
	if (!fw_name_ok(net->name))
		return fw_fail(ctx, -EINVAL, "invalid network name \"%s\" "
			       "(letters, digits, '-', '_'; at most %d)",
			       net->name ? net->name : "", FW_NAME_MAX);
	if (!fw_ifname_ok(net->bridge))
		return fw_fail(ctx, -EINVAL, "network %s: invalid bridge "
			       "name \"%s\" (1 to %d characters)", net->name,
			       net->bridge ? net->bridge : "", IFNAMSIZ - 1);
	if (fw_has_uplink(net) && !fw_ifname_ok(net->uplink))
		return fw_fail(ctx, -EINVAL, "network %s: invalid uplink "
			       "name \"%s\" (1 to %d characters)", net->name,
			       net->uplink, IFNAMSIZ - 1);
	return 0;
}

static int fw_check_forwards(struct fw_ctx *ctx,
			     const struct fw_network *nets, size_t n);

int fw_check_network(struct fw_ctx *ctx, const struct fw_network *net)
{
	int ret = fw_check_names(ctx, net);

	if (ret < 0)
		return ret;
	switch (net->mode) {
	case FW_MODE_NAT:
	case FW_MODE_ROUTED:
	case FW_MODE_ISOLATED:
		break;
	default:
		return fw_fail(ctx, -EINVAL, "network %s: invalid mode %d",
			       net->name, (int)net->mode);
	}
	if ((net->n_prefixes && !net->prefixes) ||
	    (net->n_forwards && !net->forwards))
		return fw_fail(ctx, -EINVAL, "network %s: missing array",
			       net->name);
	for (size_t i = 0; ret == 0 && i < net->n_prefixes; i++)
		ret = fw_check_prefix(ctx, net, &net->prefixes[i]);
	for (size_t i = 0; ret == 0 && net->mode == FW_MODE_NAT &&
	     i < net->n_forwards; i++)
		ret = fw_check_forward(ctx, net, &net->forwards[i]);
	return ret ? ret : fw_check_forwards(ctx, net, 1);
}

void fw_subnet_of(const struct fw_prefix *p, bool host,
			 struct fw_subnet *s)
{
	s->family = p->family;
	s->bytes = p->family == AF_INET ? 4 : 16;
	memset(s->addr, 0, sizeof(s->addr));
	memcpy(s->addr, p->family == AF_INET ? (const void *)&p->host.v4 :
	       (const void *)&p->host.v6, s->bytes);
	s->len = host ? s->bytes * 8 : p->len;
	for (unsigned int bit = s->len; bit < s->bytes * 8u; bit++)
		s->addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
}

/* Is b inside a? */
bool fw_subnet_contains(const struct fw_subnet *a, const struct fw_subnet *b)
{
	if (a->family != b->family || a->len > b->len)
		return false;
	for (unsigned int bit = 0; bit < a->len; bit++) {
		uint8_t m = 0x80 >> (bit % 8);

		if ((a->addr[bit / 8] & m) != (b->addr[bit / 8] & m))
			return false;
	}
	return true;
}

/* Does another prefix of the network already cover prefix i's subnet?
 * (Two addresses in one subnet are legal; their subnet is used once.) */
bool fw_prefix_redundant(const struct fw_network *net, size_t i)
{
	struct fw_subnet si, sj;

	fw_subnet_of(&net->prefixes[i], false, &si);
	for (size_t j = 0; j < net->n_prefixes; j++) {
		if (j == i)
			continue;
		fw_subnet_of(&net->prefixes[j], false, &sj);
		if (fw_subnet_contains(&sj, &si) && (sj.len < si.len || j < i))
			return true;
	}
	return false;
}

/* Checks across networks: sorted copies, O(n log n), not every pair. */

static int fw_net_name_cmp(const void *pa, const void *pb)
{
	const struct fw_network *const *a = pa, *const *b = pb;

	return strcmp((*a)->name, (*b)->name);
}

static int fw_net_bridge_cmp(const void *pa, const void *pb)
{
	const struct fw_network *const *a = pa, *const *b = pb;

	return strcmp((*a)->bridge, (*b)->bridge);
}

/* No name twice, no bridge twice. */
static int fw_check_unique(struct fw_ctx *ctx, const struct fw_network *nets,
			   size_t n)
{
	const struct fw_network **v = calloc(n ? n : 1, sizeof(*v));
	int ret = 0;

	if (!v)
		return fw_oom(ctx);
	for (size_t i = 0; i < n; i++)
		v[i] = &nets[i];
	qsort(v, n, sizeof(*v), fw_net_name_cmp);
	for (size_t i = 1; ret == 0 && i < n; i++)
		if (strcmp(v[i - 1]->name, v[i]->name) == 0)
			ret = fw_fail(ctx, -EEXIST, "network %s is listed "
				      "twice", v[i]->name);
	if (ret == 0)
		qsort(v, n, sizeof(*v), fw_net_bridge_cmp);
	for (size_t i = 1; ret == 0 && i < n; i++)
		if (strcmp(v[i - 1]->bridge, v[i]->bridge) == 0)
			ret = fw_fail(ctx, -EEXIST, "networks %s and %s use "
				      "the same bridge %s", v[i - 1]->name,
				      v[i]->name, v[i]->bridge);
	free(v);
	return ret;
}

/* A subnet of a nat network, sorted by address, the larger first. */
struct fw_subnet_ref {
	struct fw_subnet s;
	size_t net;
};

static int fw_subnet_ref_cmp(const void *pa, const void *pb)
{
	const struct fw_subnet_ref *a = pa, *b = pb;
	int c;

	if (a->s.family != b->s.family)
		return a->s.family - b->s.family;
	c = memcmp(a->s.addr, b->s.addr, sizeof(a->s.addr));
	return c ? c : (int)a->s.len - (int)b->s.len;
}

/* Sorted, a subnet that overlaps an earlier one lies inside the largest
 * one still open: only that one needs a look. */
static int fw_check_sorted_subnets(struct fw_ctx *ctx,
				   const struct fw_network *nets,
				   const struct fw_subnet_ref *refs, size_t n)
{
	const struct fw_subnet_ref *cover = NULL;
	char buf[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < n; i++) {
		if (!cover || !fw_subnet_contains(&cover->s, &refs[i].s)) {
			cover = &refs[i];
			continue;
		}
		if (cover->net == refs[i].net)
			continue;
		inet_ntop(cover->s.family, cover->s.addr, buf, sizeof(buf));
		return fw_fail(ctx, -EEXIST, "networks %s and %s have "
			       "overlapping subnets (%s/%u)",
			       nets[cover->net].name, nets[refs[i].net].name,
			       buf, cover->s.len);
	}
	return 0;
}

/* Masquerading maps source subnets to networks: nat subnets must not
 * overlap across networks. */
static int fw_check_overlaps(struct fw_ctx *ctx,
			     const struct fw_network *nets, size_t n)
{
	struct fw_subnet_ref *refs;
	size_t total = 0, k = 0;
	int ret;

	for (size_t i = 0; i < n; i++)
		if (nets[i].mode == FW_MODE_NAT)
			total += nets[i].n_prefixes;
	refs = calloc(total ? total : 1, sizeof(*refs));
	if (!refs)
		return fw_oom(ctx);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; nets[i].mode == FW_MODE_NAT &&
		     j < nets[i].n_prefixes; j++) {
			fw_subnet_of(&nets[i].prefixes[j], false, &refs[k].s);
			refs[k++].net = i;
		}
	if (total > 1)
		qsort(refs, total, sizeof(*refs), fw_subnet_ref_cmp);
	ret = fw_check_sorted_subnets(ctx, nets, refs, total);
	free(refs);
	return ret;
}

static int fw_check(struct fw_ctx *ctx, const struct fw_network *nets,
		    size_t n)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = fw_check_network(ctx, &nets[i]);
	if (ret == 0)
		ret = fw_check_unique(ctx, nets, n);
	if (ret == 0)
		ret = fw_check_overlaps(ctx, nets, n);
	return ret ? ret : fw_check_forwards(ctx, nets, n);
}

static int fw_fwd_ref_cmp(const void *pa, const void *pb)
{
	const struct fw_fwd_ref *a = pa, *b = pb;

	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->net != b->net)
		return a->net < b->net ? -1 : 1;
	return a->family - b->family;
}

static const char *fw_proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : "udp";
}

/* A (protocol, host port) pair may be forwarded by one network only, and
 * by that network once per guest address family. */
static int fw_check_fwd_refs(struct fw_ctx *ctx, const struct fw_network *nets,
			     const struct fw_fwd_ref *refs, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		const struct fw_fwd_ref *a = &refs[i - 1], *b = &refs[i];

		if (a->proto != b->proto || a->port != b->port)
			continue;
		if (a->net != b->net)
			return fw_fail(ctx, -EEXIST, "%s port %u is forwarded "
				       "by networks %s and %s",
				       fw_proto_name(a->proto), a->port,
				       nets[a->net].name, nets[b->net].name);
		if (a->family == b->family)
			return fw_fail(ctx, -EEXIST, "network %s forwards %s "
				       "port %u twice", nets[a->net].name,
				       fw_proto_name(a->proto), a->port);
	}
	return 0;
}

static int fw_check_forwards(struct fw_ctx *ctx,
			     const struct fw_network *nets, size_t n)
{
	struct fw_fwd_ref *refs;
	size_t total = 0, k = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		if (nets[i].mode == FW_MODE_NAT)
			total += nets[i].n_forwards;
	refs = calloc(total ? total : 1, sizeof(*refs));
	if (!refs)
		return fw_oom(ctx);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; nets[i].mode == FW_MODE_NAT &&
		     j < nets[i].n_forwards; j++) {
			const struct fw_forward *f = &nets[i].forwards[j];

			refs[k++] = (struct fw_fwd_ref){ f->proto, f->host_port,
							 f->family, i };
		}
	}
	if (total > 1)
		qsort(refs, total, sizeof(*refs), fw_fwd_ref_cmp);
	r = fw_check_fwd_refs(ctx, nets, refs, total);
	free(refs);
	return r;
}

/* ---- tables, chains, sets, elements ---- */

int fw_build_tables(struct fw_ctx *ctx)
{
	/* add table (so the delete cannot fail), delete it with all its
	 * content, add it again and fill it */
	enum fw_msg_type types[] = { FW_MSG_NEWTABLE, FW_MSG_DELTABLE,
				     FW_MSG_NEWTABLE };

	for (size_t i = 0; i < FW_N_ELEMS(types); i++) {
		struct nftnl_table *t = fw_table_new(ctx->family, FW_TABLE);

		if (!t || fw_plan_push(ctx->plan, types[i], t, 0) < 0)
			return fw_oom(ctx);
	}
	return 0;
}

/* Append obj to ctx->plan; new elements are exclusive when ctx->excl
 * says so. */
static int fw_ctx_push(struct fw_ctx *ctx, enum fw_msg_type type, void *obj,
		       unsigned int index)
{
	if (fw_plan_push(ctx->plan, type, obj, index) < 0)
		return fw_oom(ctx);
	ctx->plan->msgs[ctx->plan->n - 1].excl = ctx->excl &&
		type == FW_MSG_NEWSETELEM;
	return 0;
}

static struct nftnl_chain *fw_chain_new(uint16_t family, const char *name)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return NULL;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, family);
	if (nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, FW_TABLE) < 0 ||
	    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name) < 0) {
		nftnl_chain_free(c);
		return NULL;
	}
	return c;
}

int fw_add_chain(struct fw_ctx *ctx, const char *name,
		 const struct fw_base_chain *base)
{
	struct nftnl_chain *c = fw_chain_new(ctx->family, name);
	int ret = 0;

	if (!c)
		return fw_oom(ctx);
	if (base) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, base->hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, base->prio);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
		ret = nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, base->type);
	}
	if (ret < 0) {
		nftnl_chain_free(c);
		return fw_oom(ctx);
	}
	return fw_ctx_push(ctx, FW_MSG_NEWCHAIN, c, 0);
}

static int fw_build_chains(struct fw_ctx *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < FW_N_ELEMS(fw_base_chains); i++)
		ret = fw_add_chain(ctx, fw_base_chains[i].name,
				   &fw_base_chains[i]);
	for (size_t i = 0; ret == 0 && i < FW_N_ELEMS(fw_chains); i++)
		ret = fw_add_chain(ctx, fw_chains[i], NULL);
	return ret;
}

static struct nftnl_set *fw_set_new(uint16_t family, const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, family);
	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, FW_TABLE) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, name) < 0) {
		nftnl_set_free(s);
		return NULL;
	}
	return s;
}

/* The byte orders nft needs to print keys and values (none: 0). */
static int fw_set_udata(struct nftnl_set *s, const struct fw_set_def *def)
{
	struct nftnl_udata_buf *ud;
	bool ok = true;
	int ret = -1;

	if (!def->key_byteorder && !def->data_byteorder)
		return 0;
	ud = nftnl_udata_buf_alloc(64);
	if (!ud)
		return -1;
	if (def->key_byteorder)
		ok = nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER,
					 def->key_byteorder);
	if (ok && def->data_byteorder)
		ok = nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATABYTEORDER,
					 def->data_byteorder);
	if (ok)
		ret = nftnl_set_set_data(s, NFTNL_SET_USERDATA,
					 nftnl_udata_buf_data(ud),
					 nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	return ret;
}

int fw_add_set(struct fw_ctx *ctx, const struct fw_set_def *def)
{
	struct nftnl_set *s = fw_set_new(ctx->family, def->name);

	if (!s)
		return fw_oom(ctx);
	/* the kernel requires a batch-local id for new sets */
	nftnl_set_set_u32(s, NFTNL_SET_ID, ++ctx->set_id);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, def->key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, def->key_len);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, def->flags);
	if (def->flags & NFT_SET_MAP) {
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, def->data_type);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, def->data_len);
	}
	if (fw_set_udata(s, def) < 0) {
		nftnl_set_free(s);
		return fw_oom(ctx);
	}
	return fw_ctx_push(ctx, FW_MSG_NEWSET, s, 0);
}

static int fw_build_sets(struct fw_ctx *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < FW_N_ELEMS(fw_sets); i++)
		ret = fw_add_set(ctx, &fw_sets[i]);
	return ret;
}

/* Make ctx->elems a message of this type for set with room for one more
 * element: the message being filled if it is the same and still the
 * plan's last, else a new one. */
static int fw_elems_holder(struct fw_ctx *ctx, enum fw_msg_type type,
			   const char *set)
{
	const struct fw_msg *last = ctx->plan->n ?
				    &ctx->plan->msgs[ctx->plan->n - 1] : NULL;
	bool same = ctx->elems && last && last->set == ctx->elems &&
		    ctx->elems_type == type &&
		    last->excl == (ctx->excl && type == FW_MSG_NEWSETELEM) &&
		    strcmp(nftnl_set_get_str(ctx->elems, NFTNL_SET_NAME),
			   set) == 0;
	struct nftnl_set *s;
	int ret;

	if (same && ctx->elems_n < FW_ELEMS_PER_MSG)
		return 0;
	s = fw_set_new(ctx->family, set);
	if (!s)
		return fw_oom(ctx);
	ctx->elems_part = same ? ctx->elems_part + 1 : 1;
	ctx->elems = NULL;
	ret = fw_ctx_push(ctx, type, s, ctx->elems_part);
	if (ret < 0)
		return ret;
	ctx->elems = s;
	ctx->elems_type = type;
	ctx->elems_n = 0;
	return 0;
}

int fw_elem_put(struct fw_ctx *ctx, enum fw_msg_type type, const char *set,
		const void *key, uint32_t len, uint32_t flags,
		const void *data, uint32_t data_len)
{
	struct nftnl_set_elem *e;
	int ret;

	if ((ctx->only && strcmp(ctx->only, set) != 0) ||
	    fw_names_has(ctx->skip, set))
		return 0;
	ret = fw_elems_holder(ctx, type, set);
	if (ret < 0)
		return ret;
	e = nftnl_set_elem_alloc();
	if (!e)
		return fw_oom(ctx);
	ret = nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
	if (flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
	if (ret == 0 && data && type == FW_MSG_NEWSETELEM)
		ret = nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data,
					 data_len);
	if (ret < 0) {
		nftnl_set_elem_free(e);
		return fw_oom(ctx);
	}
	nftnl_set_elem_add(ctx->elems, e);
	ctx->elems_n++;
	return 0;
}

int fw_elem_add(struct fw_ctx *ctx, const char *set, const void *key,
		uint32_t len, uint32_t flags)
{
	return fw_elem_put(ctx, FW_MSG_NEWSETELEM, set, key, len, flags,
			   NULL, 0);
}

int fw_elem_del(struct fw_ctx *ctx, const char *set, const void *key,
		uint32_t len)
{
	return fw_elem_put(ctx, FW_MSG_DELSETELEM, set, key, len, 0, NULL, 0);
}

/* The first address after subnet s; false if s ends the address space. */
bool fw_subnet_end(const struct fw_subnet *s, uint8_t *out)
{
	unsigned int carry;

	memcpy(out, s->addr, s->bytes);
	if (s->len == 0)
		return false;
	carry = 0x80u >> ((s->len - 1) % 8);
	for (int i = (s->len - 1) / 8; i >= 0 && carry; i--) {
		unsigned int v = out[i] + carry;

		out[i] = (uint8_t)v;
		carry = v >> 8;
	}
	return carry == 0;
}

void fw_prefix_mask(int family, uint8_t len, uint8_t *mask)
{
	memset(mask, 0, family == AF_INET ? 4 : 16);
	for (unsigned int bit = 0; bit < len; bit++)
		mask[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
}

/* ---- one network's elements ---- */

void fw_ifname_key(uint8_t *key, const char *name)
{
	memset(key, 0, IFNAMSIZ);
	memcpy(key, name, strnlen(name, IFNAMSIZ - 1));
}

/* networks: NAME : BRIDGE, bridges: BRIDGE : NAME (NAME NUL padded) */
static int fw_identity_elems(struct fw_ctx *ctx, enum fw_msg_type type,
			     const struct fw_network *net)
{
	uint8_t name[FW_NAME_MAX] = { 0 }, br[IFNAMSIZ];
	int ret;

	memcpy(name, net->name, strnlen(net->name, FW_NAME_MAX));
	fw_ifname_key(br, net->bridge);
	ret = fw_elem_put(ctx, type, FW_MAP_NETWORKS, name, sizeof(name), 0,
			  br, sizeof(br));
	if (ret == 0)
		ret = fw_elem_put(ctx, type, FW_SET_BRIDGES, br, sizeof(br), 0,
				  name, sizeof(name));
	return ret;
}

/* BRIDGE . OTHER in set */
static int fw_ifname_pair_elem(struct fw_ctx *ctx, enum fw_msg_type type,
			       const char *set, const char *a, const char *b)
{
	uint8_t key[2 * IFNAMSIZ];

	fw_ifname_key(key, a);
	fw_ifname_key(key + IFNAMSIZ, b);
	return fw_elem_put(ctx, type, set, key, sizeof(key), 0, NULL, 0);
}

static int fw_ifname_elem(struct fw_ctx *ctx, enum fw_msg_type type,
			  const char *set, const char *name)
{
	uint8_t key[IFNAMSIZ];

	fw_ifname_key(key, name);
	return fw_elem_put(ctx, type, set, key, sizeof(key), 0, NULL, 0);
}

/* same_bridge, isolated or nat, uplinked and uplinks */
static int fw_bridge_elems(struct fw_ctx *ctx, enum fw_msg_type type,
			   const struct fw_network *net)
{
	bool iso = net->mode == FW_MODE_ISOLATED;
	int ret;

	ret = fw_ifname_pair_elem(ctx, type, FW_SET_SAME, net->bridge,
				  net->bridge);
	if (ret == 0 && (iso || net->mode == FW_MODE_NAT))
		ret = fw_ifname_elem(ctx, type, iso ? FW_SET_ISOLATED :
				     FW_SET_NAT, net->bridge);
	if (ret < 0 || iso || !fw_has_uplink(net))
		return ret;
	ret = fw_ifname_elem(ctx, type, FW_SET_UPLINKED, net->bridge);
	if (ret == 0)
		ret = fw_ifname_pair_elem(ctx, type, FW_SET_UPLINKS,
					  net->bridge, net->uplink);
	return ret;
}

/* Is the host address of prefix i a repeat of an earlier one's? */
static bool fw_host_repeated(const struct fw_network *net, size_t i)
{
	const struct fw_prefix *p = &net->prefixes[i];
	size_t bytes = p->family == AF_INET ? 4 : 16;

	for (size_t j = 0; j < i; j++)
		if (net->prefixes[j].family == p->family &&
		    memcmp(&net->prefixes[j].host, &p->host, bytes) == 0)
			return true;
	return false;
}

/* Isolated: isolated4/6 (it has IPv4/IPv6: DHCP), hosts4/6: BRIDGE .
 * HOST for each of its own addresses (DNS, ICMP). */
static int fw_isolated_elems(struct fw_ctx *ctx, enum fw_msg_type type,
			     const struct fw_network *net)
{
	bool v4 = false, v6 = false;
	int ret = 0;

	for (size_t i = 0; i < net->n_prefixes; i++) {
		v4 |= net->prefixes[i].family == AF_INET;
		v6 |= net->prefixes[i].family == AF_INET6;
	}
	if (v4)
		ret = fw_ifname_elem(ctx, type, FW_SET_ISOLATED4, net->bridge);
	if (ret == 0 && v6)
		ret = fw_ifname_elem(ctx, type, FW_SET_ISOLATED6, net->bridge);
	for (size_t i = 0; ret == 0 && i < net->n_prefixes; i++) {
		const struct fw_prefix *p = &net->prefixes[i];
		bool p4 = p->family == AF_INET;
		uint8_t key[IFNAMSIZ + 16];

		if (fw_host_repeated(net, i))
			continue;
		fw_ifname_key(key, net->bridge);
		memcpy(key + IFNAMSIZ, &p->host, p4 ? 4 : 16);
		ret = fw_elem_put(ctx, type, p4 ? FW_SET_HOSTS4 : FW_SET_HOSTS6,
				  key, IFNAMSIZ + (p4 ? 4 : 16), 0, NULL, 0);
	}
	return ret;
}

/* Is forward i's (protocol, host port) one an earlier forward has? */
static bool fw_port_repeated(const struct fw_network *net, size_t i)
{
	const struct fw_forward *f = &net->forwards[i];

	for (size_t j = 0; j < i; j++)
		if (net->forwards[j].proto == f->proto &&
		    net->forwards[j].host_port == f->host_port)
			return true;
	return false;
}

/* dnat: PROTO . PORT : BRIDGE once per pair; dnat4/dnat6: PROTO . PORT
 * : GUEST . GUEST_PORT per forward (one per family and pair). */
static int fw_forward_elems(struct fw_ctx *ctx, enum fw_msg_type type,
			    const struct fw_network *net)
{
	uint8_t br[IFNAMSIZ];
	int ret = 0;

	fw_ifname_key(br, net->bridge);
	for (size_t i = 0; ret == 0 && i < net->n_forwards; i++) {
		const struct fw_forward *f = &net->forwards[i];
		bool v4 = f->family == AF_INET;
		uint16_t port = htons(f->host_port), gport = htons(f->guest_port);
		uint8_t key[8] = { f->proto }, val[20] = { 0 };
		size_t alen = v4 ? 4 : 16;

		memcpy(&key[4], &port, sizeof(port));
		memcpy(val, &f->guest, alen);
		memcpy(val + alen, &gport, sizeof(gport));
		if (!fw_port_repeated(net, i))
			ret = fw_elem_put(ctx, type, FW_MAP_DNAT, key,
					  sizeof(key), 0, br, sizeof(br));
		if (ret == 0)
			ret = fw_elem_put(ctx, type, v4 ? FW_MAP_DNAT4 :
					  FW_MAP_DNAT6, key, sizeof(key), 0,
					  val, (uint32_t)alen + 4);
	}
	return ret;
}

/* Its name and bridge first: a clash there is the one to report. */
int fw_build_net_elems(struct fw_ctx *ctx, enum fw_msg_type type,
		       const struct fw_network *net)
{
	int ret = fw_identity_elems(ctx, type, net);

	if (ret == 0)
		ret = fw_bridge_elems(ctx, type, net);
	if (ret == 0 && net->mode == FW_MODE_ISOLATED)
		ret = fw_isolated_elems(ctx, type, net);
	if (ret == 0)
		ret = fw_build_slot_elems(ctx, type, net);
	if (ret == 0 && net->mode == FW_MODE_NAT)
		ret = fw_forward_elems(ctx, type, net);
	return ret;
}

/* ---- the whole table ---- */

static int fw_slot_cmp(const void *pa, const void *pb)
{
	const struct fw_slot *a = pa, *b = pb;

	if (a->kind != b->kind)
		return (int)a->kind - (int)b->kind;
	if (a->family != b->family)
		return a->family - b->family;
	if (a->len != b->len)
		return (int)a->len - (int)b->len;
	return (int)a->len2 - (int)b->len2;
}

/* The slots of all networks, sorted, each once. */
static int fw_all_slots(struct fw_ctx *ctx, const struct fw_network *nets,
			size_t n, struct fw_slot **ret, size_t *ret_n)
{
	struct fw_slot *all = NULL, *one, *grown;
	size_t total = 0, k, m = 0;

	for (size_t i = 0; i < n; i++) {
		if (fw_net_slots(&nets[i], &one, &k) < 0)
			goto oom;
		if (k == 0)
			continue;
		grown = reallocarray(all, total + k, sizeof(*all));
		if (!grown) {
			free(one);
			goto oom;
		}
		all = grown;
		memcpy(all + total, one, k * sizeof(*one));
		total += k;
		free(one);
	}
	if (total)
		qsort(all, total, sizeof(*all), fw_slot_cmp);
	for (size_t i = 0; i < total; i++)
		if (m == 0 || fw_slot_cmp(&all[m - 1], &all[i]) != 0)
			all[m++] = all[i];
	*ret = all;
	*ret_n = m;
	return 0;
oom:
	free(all);
	return fw_oom(ctx);
}

/* The elements of every network, one set after the other so that they
 * share messages: set by set, every network's elements of that set. */
static int fw_build_elems(struct fw_ctx *ctx, const struct fw_network *nets,
			  size_t n, const struct fw_slot *slots, size_t n_slots)
{
	char names[FW_SLOT_SETS_MAX][FW_SET_NAME_MAX];
	int ret = 0;

	for (size_t s = 0; ret == 0 && s < FW_N_ELEMS(fw_sets) + n_slots;
	     s++) {
		size_t k = 1;

		if (s < FW_N_ELEMS(fw_sets))
			snprintf(names[0], sizeof(names[0]), "%s",
				 fw_sets[s].name);
		else
			k = fw_slot_sets(&slots[s - FW_N_ELEMS(fw_sets)],
					 names);
		for (size_t j = 0; ret == 0 && j < k; j++) {
			ctx->only = names[j];
			for (size_t i = 0; ret == 0 && i < n; i++)
				ret = fw_build_net_elems(ctx,
							 FW_MSG_NEWSETELEM,
							 &nets[i]);
		}
	}
	ctx->only = NULL;
	return ret;
}

/* Order matters to the kernel: sets before the elements and rules that
 * use them, chains before the rules that jump to them. */
static int fw_build(struct fw_ctx *ctx, const struct fw_network *nets,
		    size_t n)
{
	struct fw_slot *slots = NULL;
	size_t n_slots = 0;
	int ret = fw_all_slots(ctx, nets, n, &slots, &n_slots);

	if (ret == 0)
		ret = fw_build_tables(ctx);
	if (ret == 0)
		ret = fw_build_chains(ctx);
	if (ret == 0)
		ret = fw_build_sets(ctx);
	if (ret == 0)
		ret = fw_build_base_rules(ctx);
	for (size_t i = 0; ret == 0 && i < n_slots; i++)
		ret = fw_add_slot(ctx, &slots[i]);
	if (ret == 0)
		ret = fw_build_elems(ctx, nets, n, slots, n_slots);
	free(slots);
	return ret;
}

int fw_plan_sync(const struct fw_network *nets, size_t n,
		 struct fw_plan **ret, char *err, size_t errlen)
{
	struct fw_ctx ctx = fw_ctx_for(NFPROTO_INET, err, errlen);
	int r;

	if (n && !nets)
		return fw_fail(&ctx, -EINVAL, "no networks given");
	r = fw_check(&ctx, nets, n);
	if (r < 0)
		return r;
	ctx.plan = calloc(1, sizeof(*ctx.plan));
	r = ctx.plan ? fw_build(&ctx, nets, n) : fw_oom(&ctx);
	if (r < 0) {
		fw_plan_free(ctx.plan);
		return r;
	}
	*ret = ctx.plan;
	return 0;
}
