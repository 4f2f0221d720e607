/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ruleset of table inet netd, built as a plan (see fw-private.h):
 * this file checks the networks and lays out tables, chains, sets and map
 * elements; fw-rules.c writes the rules.  The helpers that add tables,
 * chains, sets and elements serve table bridge netd (fw-guard.c) too, and
 * those of one network's chains and elements the batches that add or
 * remove that network alone (fw-net.c).
 *
 * A packet's path does not grow with the number of networks: base chains
 * dispatch through verdict maps to small per-network chains.
 *
 *   forward (filter, 0)      iifname vmap @from_bridge -> NAME-from
 *                            oifname vmap @to_bridge   -> NAME-to
 *   input (filter, 0)        iifname vmap @input_bridge -> NAME-in
 *   prerouting (nat, -100)   fib daddr type local
 *   output (nat, -100)         meta l4proto . th dport vmap @dnat -> NAME-dnat
 *   postrouting (nat, 100)   ip saddr vmap @masq4, ip6 saddr vmap @masq6
 *                              -> NAME-masq
 *   mangle_postrouting       DHCP replies onto our bridges: UDP checksum 0
 *     (filter, -150)
 *
 * Every base chain has policy accept: netd decides only for its bridges'
 * traffic.  Base chain names have no '-' and every per-network chain name
 * is NAME-SUFFIX with a distinct last letter per suffix, so no two chains
 * can share a name.
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

/* A port forward and its network, sorted to find duplicates and to fill
 * the dnat map in a stable order. */
struct fw_fwd_ref {
	uint8_t proto;
	uint16_t port;
	int family;
	size_t net;
};

static const struct fw_set_def fw_sets[] = {
	{ FW_SET_BRIDGES, FW_TYPE_IFNAME, IFNAMSIZ, 0, FW_BYTEORDER_HOST },
	{ FW_MAP_FROM, FW_TYPE_IFNAME, IFNAMSIZ, NFT_SET_MAP,
	  FW_BYTEORDER_HOST },
	{ FW_MAP_TO, FW_TYPE_IFNAME, IFNAMSIZ, NFT_SET_MAP,
	  FW_BYTEORDER_HOST },
	{ FW_MAP_INPUT, FW_TYPE_IFNAME, IFNAMSIZ, NFT_SET_MAP,
	  FW_BYTEORDER_HOST },
	{ FW_MAP_MASQ4, FW_TYPE_IPADDR, 4, NFT_SET_MAP | NFT_SET_INTERVAL,
	  FW_BYTEORDER_BIG },
	{ FW_MAP_MASQ6, FW_TYPE_IP6ADDR, 16, NFT_SET_MAP | NFT_SET_INTERVAL,
	  FW_BYTEORDER_BIG },
	/* inet_proto . inet_service: each field takes a 4-byte register */
	{ FW_MAP_DNAT,
	  FW_TYPE_INET_PROTOCOL << FW_TYPE_BITS | FW_TYPE_INET_SERVICE, 8,
	  NFT_SET_MAP, 0 },
};

static const struct fw_base_chain fw_base_chains[] = {
	{ "forward", "filter", NF_INET_FORWARD, 0 },
	{ "input", "filter", NF_INET_LOCAL_IN, 0 },
	{ "prerouting", "nat", NF_INET_PRE_ROUTING, -100 },
	{ "output", "nat", NF_INET_LOCAL_OUT, -100 },
	{ "postrouting", "nat", NF_INET_POST_ROUTING, 100 },
	{ "mangle_postrouting", "filter", NF_INET_POST_ROUTING, -150 },
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
	return ret;
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

/* Masquerading maps source subnets to networks: nat subnets must not
 * overlap across networks. */
static int fw_check_overlap(struct fw_ctx *ctx, const struct fw_network *a,
			    const struct fw_network *b)
{
	struct fw_subnet sa, sb;
	char buf[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < a->n_prefixes; i++) {
		fw_subnet_of(&a->prefixes[i], false, &sa);
		for (size_t j = 0; j < b->n_prefixes; j++) {
			fw_subnet_of(&b->prefixes[j], false, &sb);
			if (!fw_subnet_contains(&sa, &sb) &&
			    !fw_subnet_contains(&sb, &sa))
				continue;
			inet_ntop(sa.family, sa.addr, buf, sizeof(buf));
			return fw_fail(ctx, -EEXIST, "networks %s and %s "
				       "have overlapping subnets (%s/%u)",
				       a->name, b->name, buf, sa.len);
		}
	}
	return 0;
}

static int fw_check_pair(struct fw_ctx *ctx, const struct fw_network *a,
			 const struct fw_network *b)
{
	if (strcmp(a->name, b->name) == 0)
		return fw_fail(ctx, -EEXIST, "network %s is listed twice",
			       a->name);
	if (strcmp(a->bridge, b->bridge) == 0)
		return fw_fail(ctx, -EEXIST, "networks %s and %s use the same "
			       "bridge %s", a->name, b->name, a->bridge);
	if (a->mode == FW_MODE_NAT && b->mode == FW_MODE_NAT)
		return fw_check_overlap(ctx, a, b);
	return 0;
}

static int fw_check(struct fw_ctx *ctx, const struct fw_network *nets,
		    size_t n)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = fw_check_network(ctx, &nets[i]);
	for (size_t i = 0; ret == 0 && i < n; i++)
		for (size_t j = i + 1; ret == 0 && j < n; j++)
			ret = fw_check_pair(ctx, &nets[i], &nets[j]);
	return ret;
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

static int fw_collect_forwards(struct fw_ctx *ctx,
			       const struct fw_network *nets, size_t n,
			       struct fw_fwd_ref **ret, size_t *ret_n)
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
	qsort(refs, total, sizeof(*refs), fw_fwd_ref_cmp);
	r = fw_check_fwd_refs(ctx, nets, refs, total);
	if (r < 0) {
		free(refs);
		return r;
	}
	*ret = refs;
	*ret_n = total;
	return 0;
}

/* ---- tables, chains, sets, elements ---- */

void fw_chain_name(char *buf, const struct fw_network *net,
			  const char *suffix)
{
	snprintf(buf, FW_CHAIN_NAME_MAX, "%s-%s", net->name, suffix);
}

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

/* Append obj to ctx->plan; new chains and elements are exclusive when
 * ctx->excl says so. */
static int fw_ctx_push(struct fw_ctx *ctx, enum fw_msg_type type, void *obj,
		       unsigned int index)
{
	if (fw_plan_push(ctx->plan, type, obj, index) < 0)
		return fw_oom(ctx);
	ctx->plan->msgs[ctx->plan->n - 1].excl = ctx->excl &&
		(type == FW_MSG_NEWCHAIN || type == FW_MSG_NEWSETELEM);
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

int fw_del_chain(struct fw_ctx *ctx, const char *name)
{
	struct nftnl_chain *c = fw_chain_new(ctx->family, name);

	if (!c)
		return fw_oom(ctx);
	return fw_ctx_push(ctx, FW_MSG_DELCHAIN, c, 0);
}

/* A rule with a table and a chain but no handle: all of the chain's. */
int fw_flush_chain(struct fw_ctx *ctx, const char *name)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return fw_oom(ctx);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, ctx->family);
	if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, FW_TABLE) < 0 ||
	    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, name) < 0) {
		nftnl_rule_free(r);
		return fw_oom(ctx);
	}
	return fw_ctx_push(ctx, FW_MSG_DELRULE, r, 0);
}

size_t fw_net_chain_names(const struct fw_network *net,
			  char names[][FW_CHAIN_NAME_MAX])
{
	static const char *const suffixes[FW_NET_CHAINS_MAX] = {
		"from", "to", "in", "masq", "dnat"
	};
	size_t n = 3;

	if (net->mode == FW_MODE_NAT)
		n = net->n_forwards ? 5 : 4;
	for (size_t i = 0; i < n; i++)
		fw_chain_name(names[i], net, suffixes[i]);
	return n;
}

int fw_add_net_chains(struct fw_ctx *ctx, const struct fw_network *net)
{
	char names[FW_NET_CHAINS_MAX][FW_CHAIN_NAME_MAX];
	size_t n = fw_net_chain_names(net, names);
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = fw_add_chain(ctx, names[i], NULL);
	return ret;
}

static int fw_build_chains(struct fw_ctx *ctx, const struct fw_network *nets,
			   size_t n)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < FW_N_ELEMS(fw_base_chains); i++)
		ret = fw_add_chain(ctx, fw_base_chains[i].name,
				   &fw_base_chains[i]);
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = fw_add_net_chains(ctx, &nets[i]);
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

static int fw_set_udata(struct nftnl_set *s, uint32_t key_byteorder)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);
	int ret = -1;

	if (!ud)
		return -1;
	if (nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER,
				key_byteorder))
		ret = nftnl_set_set_data(s, NFTNL_SET_USERDATA,
					 nftnl_udata_buf_data(ud),
					 nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	return ret;
}

int fw_add_set(struct fw_ctx *ctx, const struct fw_set_def *def, uint32_t id)
{
	struct nftnl_set *s = fw_set_new(ctx->family, def->name);

	if (!s)
		return fw_oom(ctx);
	/* the kernel requires a batch-local id for new sets */
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, def->key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, def->key_len);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, def->flags);
	if (def->flags & NFT_SET_MAP)
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
	if (def->key_byteorder && fw_set_udata(s, def->key_byteorder) < 0) {
		nftnl_set_free(s);
		return fw_oom(ctx);
	}
	return fw_ctx_push(ctx, FW_MSG_NEWSET, s, 0);
}

static int fw_build_sets(struct fw_ctx *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < FW_N_ELEMS(fw_sets); i++)
		ret = fw_add_set(ctx, &fw_sets[i], (uint32_t)i + 1);
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
		const char *jump)
{
	struct nftnl_set_elem *e;
	int ret = fw_elems_holder(ctx, type, set);

	if (ret < 0)
		return ret;
	e = nftnl_set_elem_alloc();
	if (!e)
		return fw_oom(ctx);
	ret = nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
	if (flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
	if (ret == 0 && jump && type == FW_MSG_NEWSETELEM) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NFT_JUMP);
		ret = nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, jump);
	}
	if (ret < 0) {
		nftnl_set_elem_free(e);
		return fw_oom(ctx);
	}
	nftnl_set_elem_add(ctx->elems, e);
	ctx->elems_n++;
	return 0;
}

int fw_elem_add(struct fw_ctx *ctx, const char *set, const void *key,
		uint32_t len, uint32_t flags, const char *jump)
{
	return fw_elem_put(ctx, FW_MSG_NEWSETELEM, set, key, len, flags, jump);
}

int fw_elem_del(struct fw_ctx *ctx, const char *set, const void *key,
		uint32_t len)
{
	return fw_elem_put(ctx, FW_MSG_DELSETELEM, set, key, len, 0, NULL);
}

/* The ifname-keyed dispatch: BRIDGE [: jump NAME-SUFFIX] */
static const struct {
	const char *set;
	const char *suffix;
} fw_ifname_maps[] = {
	{ FW_SET_BRIDGES, NULL },
	{ FW_MAP_FROM, "from" },
	{ FW_MAP_TO, "to" },
	{ FW_MAP_INPUT, "in" },
};

static int fw_ifname_elem(struct fw_ctx *ctx, enum fw_msg_type type,
			  size_t map, const struct fw_network *net)
{
	const char *suffix = fw_ifname_maps[map].suffix;
	char key[IFNAMSIZ] = { 0 };
	char chain[FW_CHAIN_NAME_MAX];

	memcpy(key, net->bridge, strlen(net->bridge));
	if (suffix)
		fw_chain_name(chain, net, suffix);
	return fw_elem_put(ctx, type, fw_ifname_maps[map].set, key,
			   sizeof(key), 0, suffix ? chain : NULL);
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

/* SUBNET : jump NAME-masq, as an interval [start, end).  Deleting an
 * interval takes both its elements, so both directions come from here. */
static int fw_masq_elems(struct fw_ctx *ctx, enum fw_msg_type type,
			 const struct fw_network *net, int family)
{
	const char *set = family == AF_INET ? FW_MAP_MASQ4 : FW_MAP_MASQ6;
	char chain[FW_CHAIN_NAME_MAX];
	int ret = 0;

	fw_chain_name(chain, net, "masq");
	for (size_t i = 0; ret == 0 && i < net->n_prefixes; i++) {
		struct fw_subnet s;
		uint8_t end[16];

		if (net->prefixes[i].family != family ||
		    fw_prefix_redundant(net, i))
			continue;
		fw_subnet_of(&net->prefixes[i], false, &s);
		ret = fw_elem_put(ctx, type, set, s.addr, s.bytes, 0, chain);
		if (ret == 0 && fw_subnet_end(&s, end))
			ret = fw_elem_put(ctx, type, set, end, s.bytes,
					  NFT_SET_ELEM_INTERVAL_END, NULL);
	}
	return ret;
}

/* PROTO . PORT : jump NAME-dnat, once per pair (refs are sorted). */
static int fw_dnat_elems(struct fw_ctx *ctx, enum fw_msg_type type,
			 const struct fw_network *nets,
			 const struct fw_fwd_ref *refs, size_t n)
{
	char chain[FW_CHAIN_NAME_MAX];
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < n; i++) {
		uint8_t key[8] = { refs[i].proto };
		uint16_t port = htons(refs[i].port);

		if (i > 0 && refs[i - 1].proto == refs[i].proto &&
		    refs[i - 1].port == refs[i].port)
			continue;
		memcpy(&key[4], &port, sizeof(port));
		fw_chain_name(chain, &nets[refs[i].net], "dnat");
		ret = fw_elem_put(ctx, type, FW_MAP_DNAT, key, sizeof(key), 0,
				  chain);
	}
	return ret;
}

static int fw_build_elems(struct fw_ctx *ctx, const struct fw_network *nets,
			  size_t n, const struct fw_fwd_ref *refs,
			  size_t n_refs)
{
	enum fw_msg_type add = FW_MSG_NEWSETELEM;
	int ret = 0;

	for (size_t m = 0; ret == 0 && m < FW_N_ELEMS(fw_ifname_maps); m++)
		for (size_t i = 0; ret == 0 && i < n; i++)
			ret = fw_ifname_elem(ctx, add, m, &nets[i]);
	for (size_t i = 0; ret == 0 && i < n; i++)
		if (nets[i].mode == FW_MODE_NAT)
			ret = fw_masq_elems(ctx, add, &nets[i], AF_INET);
	for (size_t i = 0; ret == 0 && i < n; i++)
		if (nets[i].mode == FW_MODE_NAT)
			ret = fw_masq_elems(ctx, add, &nets[i], AF_INET6);
	if (ret == 0)
		ret = fw_dnat_elems(ctx, add, nets, refs, n_refs);
	return ret;
}

/* The same elements as fw_build_elems() for one network, in the same
 * order. */
int fw_build_net_elems(struct fw_ctx *ctx, enum fw_msg_type type,
		       const struct fw_network *net)
{
	struct fw_fwd_ref *refs = NULL;
	size_t n_refs = 0;
	int ret = fw_collect_forwards(ctx, net, 1, &refs, &n_refs);

	for (size_t m = 0; ret == 0 && m < FW_N_ELEMS(fw_ifname_maps); m++)
		ret = fw_ifname_elem(ctx, type, m, net);
	if (ret == 0 && net->mode == FW_MODE_NAT)
		ret = fw_masq_elems(ctx, type, net, AF_INET);
	if (ret == 0 && net->mode == FW_MODE_NAT)
		ret = fw_masq_elems(ctx, type, net, AF_INET6);
	if (ret == 0)
		ret = fw_dnat_elems(ctx, type, net, refs, n_refs);
	free(refs);
	return ret;
}

/* Order matters to the kernel: chains before the map elements that jump
 * to them, sets before the rules that look them up. */
static int fw_build(struct fw_ctx *ctx, const struct fw_network *nets,
		    size_t n, const struct fw_fwd_ref *refs, size_t n_refs)
{
	int ret = fw_build_tables(ctx);

	if (ret == 0)
		ret = fw_build_chains(ctx, nets, n);
	if (ret == 0)
		ret = fw_build_sets(ctx);
	if (ret == 0)
		ret = fw_build_elems(ctx, nets, n, refs, n_refs);
	if (ret == 0)
		ret = fw_build_base_rules(ctx);
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = fw_build_net_rules(ctx, &nets[i]);
	return ret;
}

int fw_plan_sync(const struct fw_network *nets, size_t n,
		 struct fw_plan **ret, char *err, size_t errlen)
{
	struct fw_ctx ctx = { .family = NFPROTO_INET, .err = err,
			      .errlen = errlen };
	struct fw_fwd_ref *refs = NULL;
	size_t n_refs = 0;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (n && !nets)
		return fw_fail(&ctx, -EINVAL, "no networks given");
	r = fw_check(&ctx, nets, n);
	if (r == 0)
		r = fw_collect_forwards(&ctx, nets, n, &refs, &n_refs);
	if (r < 0)
		return r;
	ctx.plan = calloc(1, sizeof(*ctx.plan));
	r = ctx.plan ? fw_build(&ctx, nets, n, refs, n_refs) : fw_oom(&ctx);
	free(refs);
	if (r < 0) {
		fw_plan_free(ctx.plan);
		return r;
	}
	*ret = ctx.plan;
	return 0;
}
