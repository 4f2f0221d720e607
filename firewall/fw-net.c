/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One network's part of table inet netd, changed in one batch that
 * touches nothing else.  A network is nothing but elements of hash sets
 * and maps (fw-build.c), so the batch holds element messages only: no
 * chain, no rule and no jump, which would make the kernel validate the
 * whole table on commit.  Starting or stopping a network then costs the
 * same whatever the number of networks (fw_sync() rebuilds the whole
 * table: its batch grows with every network).
 *
 * Adding a network, every element exclusive (NLM_F_EXCL), its name and
 * bridge first.  The cross-network checks of fw_sync() are the kernel's
 * here: a name or a bridge in use (networks, bridges), a nat subnet
 * another network has (nat4_L), a port another network forwards (dnat)
 * makes the batch fail with EEXIST on that element, and nothing changes.
 * A nat subnet that overlaps another one without being equal to it is
 * not seen: hash sets know no intervals.
 *
 * A network with a prefix length no network had before needs a slot the
 * table lacks (fw-slot.c): the kernel answers ENOENT for its elements,
 * and fw.c tries again with missing naming the sets it did not find; the
 * batch then creates those slots (their sets and rules) first.  That
 * batch has rules: the kernel validates the table, once per new length.
 *
 * Removing a network, tolerant of whatever part of it is absent:
 *   add element     the network's own, not exclusive: a no-op for what
 *                   exists, so that ...
 *   delete element  ... deleting them cannot fail.
 * An element that another network owns (a name with another bridge, a
 * bridge with another name, a nat subnet or forwarded port of another
 * bridge) has another value than ours: adding ours clashes with it, and
 * the batch fails rather than delete it.  Elements of slot sets the
 * kernel did not find (missing) are left out: they cannot be there.
 *
 * Replacing one network: the removal of the old one, then the addition
 * of the new one, in one batch.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>

#include "firewall/fw-private.h"

/* The slots of net whose sets are missing, sets and rules. */
static int fw_net_add_slots(struct fw_ctx *ctx, const struct fw_network *net,
			    const struct fw_names *missing)
{
	char names[FW_SLOT_SETS_MAX][FW_SET_NAME_MAX];
	struct fw_slot *slots;
	size_t n;
	int ret;

	if (!missing || missing->n == 0)
		return 0;
	if (fw_net_slots(net, &slots, &n) < 0)
		return fw_oom(ctx);
	ret = 0;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		size_t k = fw_slot_sets(&slots[i], names);
		bool lacking = false;

		for (size_t j = 0; j < k; j++)
			lacking |= fw_names_has(missing, names[j]);
		if (lacking)
			ret = fw_add_slot(ctx, &slots[i]);
	}
	free(slots);
	return ret;
}

static int fw_net_add_part(struct fw_ctx *ctx, const struct fw_network *net,
			   const struct fw_names *missing)
{
	int ret = fw_net_add_slots(ctx, net, missing);

	ctx->excl = true;
	if (ret == 0)
		ret = fw_build_net_elems(ctx, FW_MSG_NEWSETELEM, net);
	ctx->excl = false;
	return ret;
}

static int fw_net_del_part(struct fw_ctx *ctx, const struct fw_network *net,
			   const struct fw_names *missing)
{
	int ret;

	ctx->excl = false;
	ctx->skip = missing;
	ret = fw_build_net_elems(ctx, FW_MSG_NEWSETELEM, net);
	if (ret == 0)
		ret = fw_build_net_elems(ctx, FW_MSG_DELSETELEM, net);
	ctx->skip = NULL;
	return ret;
}

int fw_plan_net(const struct fw_network *old, const struct fw_network *new,
		const struct fw_names *missing, struct fw_plan **ret,
		char *err, size_t errlen)
{
	struct fw_ctx ctx = fw_ctx_for(NFPROTO_INET, err, errlen);
	int r = 0;

	if (!old && !new)
		return fw_fail(&ctx, -EINVAL, "no network given");
	if (old)
		r = fw_check_network(&ctx, old);
	if (r == 0 && new)
		r = fw_check_network(&ctx, new);
	if (r < 0)
		return r;
	ctx.plan = calloc(1, sizeof(*ctx.plan));
	if (!ctx.plan)
		return fw_oom(&ctx);
	if (old)
		r = fw_net_del_part(&ctx, old, missing);
	if (r == 0 && new)
		r = fw_net_add_part(&ctx, new, missing);
	if (r < 0) {
		fw_plan_free(ctx.plan);
		return r;
	}
	*ret = ctx.plan;
	return 0;
}

const char *fw_net_clash_hint(const struct fw_msg *msg)
{
	struct fw_slot slot;
	const char *set;

	if (!msg->excl || msg->type != FW_MSG_NEWSETELEM)
		return NULL;
	set = nftnl_set_get_str(msg->set, NFTNL_SET_NAME);
	if (strcmp(set, FW_MAP_NETWORKS) == 0)
		return "a network of this name is loaded";
	if (strcmp(set, FW_MAP_DNAT) == 0 || strcmp(set, FW_MAP_DNAT4) == 0 ||
	    strcmp(set, FW_MAP_DNAT6) == 0)
		return "another network forwards this port";
	if (fw_slot_parse(set, &slot) && slot.kind != FW_SLOT_NET &&
	    slot.kind != FW_SLOT_NETUP)
		return "another network has this nat subnet";
	return "another network uses this bridge";
}
