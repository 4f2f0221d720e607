/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Slots: the sets of table inet netd that hold subnets, one per prefix
 * length (or pair of lengths), each with the one rule that looks packets
 * up in it (fw-private.h).  A subnet is a hash key once the address is
 * masked to the slot's length, so matching a packet against the subnets
 * of every network costs one lookup per length in use, and adding a
 * network adds hash elements only.
 *
 *   net4_L     { ifname . ipv4_addr }         bridge . subnet, nat and
 *                                             routed networks without
 *                                             an uplink
 *   netup4_L   { ifname . ipv4_addr }         the same, with an uplink
 *   nat4_L     { ipv4_addr : ifname }         subnet : bridge, nat
 *   natup4_L   { ipv4_addr }                  subnet, nat with an uplink
 *   egress4_L  { ipv4_addr . ifname }         subnet . uplink
 *   local4_L_M { ipv4_addr . ipv4_addr }      subnet . subnet, both of
 *                                             one nat network
 * and the same with 6 and ipv6_addr.  nat4_L is a map so that the kernel
 * refuses a nat subnet another network has (an element with another
 * value).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter/nf_tables.h>

#include "firewall/fw-private.h"

static const char *const fw_slot_prefix[] = {
	[FW_SLOT_NET] = "net",
	[FW_SLOT_NAT] = "nat",
	[FW_SLOT_UPLINK] = "natup",
	[FW_SLOT_LOCAL] = "local",
	[FW_SLOT_NETUP] = "netup",
};

#define FW_SLOT_EGRESS	"egress"

bool fw_names_has(const struct fw_names *names, const char *name)
{
	for (size_t i = 0; names && i < names->n; i++)
		if (strcmp(names->name[i], name) == 0)
			return true;
	return false;
}

void fw_names_add(struct fw_names *names, const char *name)
{
	char **grown, *copy;

	if (fw_names_has(names, name))
		return;
	copy = strdup(name);
	grown = copy ? reallocarray(names->name, names->n + 1,
				    sizeof(*grown)) : NULL;
	if (!grown) {
		free(copy);
		names->oom = true;
		return;
	}
	names->name = grown;
	names->name[names->n++] = copy;
}

void fw_names_free(struct fw_names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->name[i]);
	free(names->name);
	*names = (struct fw_names){ 0 };
}

static int fw_family_digit(int family)
{
	return family == AF_INET ? 4 : 6;
}

size_t fw_slot_sets(const struct fw_slot *slot,
		    char names[FW_SLOT_SETS_MAX][FW_SET_NAME_MAX])
{
	int f = fw_family_digit(slot->family);

	if (slot->kind == FW_SLOT_LOCAL) {
		snprintf(names[0], FW_SET_NAME_MAX, "local%d_%u_%u", f,
			 slot->len, slot->len2);
		return 1;
	}
	snprintf(names[0], FW_SET_NAME_MAX, "%s%d_%u",
		 fw_slot_prefix[slot->kind], f, slot->len);
	if (slot->kind != FW_SLOT_UPLINK)
		return 1;
	snprintf(names[1], FW_SET_NAME_MAX, "%s%d_%u", FW_SLOT_EGRESS, f,
		 slot->len);
	return 2;
}

/* "24" or "24_16" after the family digit; false unless valid. */
static bool fw_slot_lens(const char *p, struct fw_slot *slot)
{
	unsigned int a, b;
	int used = 0;
	unsigned int max = slot->family == AF_INET ? 32 : 128;

	if (slot->kind == FW_SLOT_LOCAL) {
		if (sscanf(p, "%3u_%3u%n", &a, &b, &used) != 2 ||
		    p[used] || a > max || b > max)
			return false;
		slot->len = (uint8_t)a;
		slot->len2 = (uint8_t)b;
		return true;
	}
	if (sscanf(p, "%3u%n", &a, &used) != 1 || p[used] || a > max)
		return false;
	slot->len = (uint8_t)a;
	return true;
}

/* Is set one of the names of slot s (the parse took no liberty)? */
static bool fw_slot_named(const struct fw_slot *s, const char *set)
{
	char names[FW_SLOT_SETS_MAX][FW_SET_NAME_MAX];
	size_t n = fw_slot_sets(s, names);

	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], set) == 0)
			return true;
	return false;
}

bool fw_slot_parse(const char *set, struct fw_slot *slot)
{
	struct fw_slot s = { 0 };
	size_t len;

	for (size_t k = 0; k <= FW_N_ELEMS(fw_slot_prefix); k++) {
		const char *prefix = k < FW_N_ELEMS(fw_slot_prefix) ?
				     fw_slot_prefix[k] : FW_SLOT_EGRESS;

		len = strlen(prefix);
		if (strncmp(set, prefix, len) != 0 ||
		    (set[len] != '4' && set[len] != '6') || set[len + 1] != '_')
			continue;
		s.kind = k < FW_N_ELEMS(fw_slot_prefix) ?
			 (enum fw_slot_kind)k : FW_SLOT_UPLINK;
		s.family = set[len] == '4' ? AF_INET : AF_INET6;
		if (!fw_slot_lens(set + len + 2, &s) || !fw_slot_named(&s, set))
			return false;
		*slot = s;
		return true;
	}
	return false;
}

/* ---- the slots of one network ---- */

static bool fw_slot_eq(const struct fw_slot *a, const struct fw_slot *b)
{
	return a->kind == b->kind && a->family == b->family &&
	       a->len == b->len && a->len2 == b->len2;
}

static void fw_slot_push(struct fw_slot *slots, size_t *n,
			 const struct fw_slot *s)
{
	for (size_t i = 0; i < *n; i++)
		if (fw_slot_eq(&slots[i], s))
			return;
	slots[(*n)++] = *s;
}

/* Where the bridge . subnet keys of net go: a packet from a network with
 * an uplink has its way out checked first (from_uplinked). */
static enum fw_slot_kind fw_net_slot_kind(const struct fw_network *net)
{
	return fw_has_uplink(net) ? FW_SLOT_NETUP : FW_SLOT_NET;
}

/* The slots of prefix i of net (not redundant, net not isolated). */
static void fw_prefix_slots(const struct fw_network *net, size_t i,
			    struct fw_slot *slots, size_t *n)
{
	const struct fw_prefix *p = &net->prefixes[i];
	struct fw_slot s = { fw_net_slot_kind(net), p->family, p->len, 0 };

	fw_slot_push(slots, n, &s);
	if (net->mode != FW_MODE_NAT)
		return;
	s.kind = FW_SLOT_NAT;
	fw_slot_push(slots, n, &s);
	if (fw_has_uplink(net)) {
		s.kind = FW_SLOT_UPLINK;
		fw_slot_push(slots, n, &s);
	}
	s.kind = FW_SLOT_LOCAL;
	for (size_t j = 0; j < net->n_prefixes; j++) {
		if (net->prefixes[j].family != p->family ||
		    fw_prefix_redundant(net, j))
			continue;
		s.len2 = net->prefixes[j].len;
		fw_slot_push(slots, n, &s);
	}
}

int fw_net_slots(const struct fw_network *net, struct fw_slot **ret,
		 size_t *ret_n)
{
	/* at most 3 + n_prefixes per prefix */
	size_t cap = net->n_prefixes * (net->n_prefixes + 3), n = 0;
	struct fw_slot *slots = NULL;

	*ret = NULL;
	*ret_n = 0;
	if (net->mode == FW_MODE_ISOLATED || cap == 0)
		return 0;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < net->n_prefixes; i++)
		if (!fw_prefix_redundant(net, i))
			fw_prefix_slots(net, i, slots, &n);
	*ret = slots;
	*ret_n = n;
	return 0;
}

/* ---- a slot's sets and rule ---- */

static void fw_slot_defs(const struct fw_slot *slot,
			 char names[FW_SLOT_SETS_MAX][FW_SET_NAME_MAX],
			 struct fw_set_def defs[FW_SLOT_SETS_MAX])
{
	bool v4 = slot->family == AF_INET;
	uint32_t type = v4 ? FW_TYPE_IPADDR : FW_TYPE_IP6ADDR;
	uint32_t bytes = v4 ? 4 : 16;

	fw_slot_sets(slot, names);
	memset(defs, 0, sizeof(*defs) * FW_SLOT_SETS_MAX);
	defs[0].name = names[0];
	defs[1].name = names[1];
	switch (slot->kind) {
	case FW_SLOT_NET:
	case FW_SLOT_NETUP:
		defs[0].key_type = FW_TYPE_IFNAME << FW_TYPE_BITS | type;
		defs[0].key_len = 16 + bytes;
		break;
	case FW_SLOT_NAT:
		defs[0] = (struct fw_set_def){ names[0], type, bytes,
			NFT_SET_MAP, FW_BYTEORDER_BIG, FW_TYPE_IFNAME, 16,
			FW_BYTEORDER_HOST };
		break;
	case FW_SLOT_UPLINK:
		defs[0].key_type = type;
		defs[0].key_len = bytes;
		defs[0].key_byteorder = FW_BYTEORDER_BIG;
		defs[1].key_type = type << FW_TYPE_BITS | FW_TYPE_IFNAME;
		defs[1].key_len = bytes + 16;
		break;
	case FW_SLOT_LOCAL:
		defs[0].key_type = type << FW_TYPE_BITS | type;
		defs[0].key_len = 2 * bytes;
		break;
	}
}

int fw_add_slot(struct fw_ctx *ctx, const struct fw_slot *slot)
{
	char names[FW_SLOT_SETS_MAX][FW_SET_NAME_MAX];
	struct fw_set_def defs[FW_SLOT_SETS_MAX];
	size_t n = fw_slot_sets(slot, names);
	int ret = 0;

	fw_slot_defs(slot, names, defs);
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = fw_add_set(ctx, &defs[i]);
	return ret ? ret : fw_build_slot_rule(ctx, slot);
}

/* ---- a network's elements in the slots ---- */

/* Element of slot set with key (bridge or subnet) . (subnet or ifname) */
static int fw_slot_elem(struct fw_ctx *ctx, enum fw_msg_type type,
			const char *set, const void *a, size_t alen,
			const void *b, size_t blen, const void *data)
{
	uint8_t key[32] = { 0 };

	memcpy(key, a, alen);
	if (b)
		memcpy(key + alen, b, blen);
	return fw_elem_put(ctx, type, set, key, (uint32_t)(alen + blen), 0,
			   data, data ? 16 : 0);
}

/* local4_L_M: S . T for every subnet T of the network in S's family */
static int fw_local_elems(struct fw_ctx *ctx, enum fw_msg_type type,
			  const struct fw_network *net,
			  const struct fw_subnet *s)
{
	char names[FW_SLOT_SETS_MAX][FW_SET_NAME_MAX];
	int ret = 0;

	for (size_t j = 0; ret == 0 && j < net->n_prefixes; j++) {
		struct fw_slot slot = { FW_SLOT_LOCAL, s->family, s->len, 0 };
		struct fw_subnet t;

		if (net->prefixes[j].family != s->family ||
		    fw_prefix_redundant(net, j))
			continue;
		fw_subnet_of(&net->prefixes[j], false, &t);
		slot.len2 = t.len;
		fw_slot_sets(&slot, names);
		ret = fw_slot_elem(ctx, type, names[0], s->addr, s->bytes,
				   t.addr, t.bytes, NULL);
	}
	return ret;
}

/* What subnet s (prefix i of net) puts in the slots. */
static int fw_subnet_elems(struct fw_ctx *ctx, enum fw_msg_type type,
			   const struct fw_network *net,
			   const struct fw_subnet *s)
{
	char names[FW_SLOT_SETS_MAX][FW_SET_NAME_MAX];
	uint8_t br[16], up[16];
	struct fw_slot slot = { fw_net_slot_kind(net), s->family, s->len, 0 };
	int ret;

	fw_ifname_key(br, net->bridge);
	fw_slot_sets(&slot, names);
	ret = fw_slot_elem(ctx, type, names[0], br, 16, s->addr, s->bytes,
			   NULL);
	if (ret < 0 || net->mode != FW_MODE_NAT)
		return ret;
	slot.kind = FW_SLOT_NAT;
	fw_slot_sets(&slot, names);
	ret = fw_slot_elem(ctx, type, names[0], s->addr, s->bytes, NULL, 0,
			   br);
	if (ret == 0 && fw_has_uplink(net)) {
		slot.kind = FW_SLOT_UPLINK;
		fw_slot_sets(&slot, names);
		fw_ifname_key(up, net->uplink);
		ret = fw_slot_elem(ctx, type, names[0], s->addr, s->bytes,
				   NULL, 0, NULL);
		if (ret == 0)
			ret = fw_slot_elem(ctx, type, names[1], s->addr,
					   s->bytes, up, 16, NULL);
	}
	return ret ? ret : fw_local_elems(ctx, type, net, s);
}

int fw_build_slot_elems(struct fw_ctx *ctx, enum fw_msg_type type,
			const struct fw_network *net)
{
	int ret = 0;

	if (net->mode == FW_MODE_ISOLATED)
		return 0;
	for (size_t i = 0; ret == 0 && i < net->n_prefixes; i++) {
		struct fw_subnet s;

		if (fw_prefix_redundant(net, i))
			continue;
		fw_subnet_of(&net->prefixes[i], false, &s);
		ret = fw_subnet_elems(ctx, type, net, &s);
	}
	return ret;
}
