/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One network's part of table inet netd, changed in one batch that
 * touches nothing else, so that starting or stopping a network costs the
 * same whatever the number of networks (fw_sync() rebuilds the whole
 * table: its batch grows with every network).
 *
 * Adding a network, every new object exclusive (NLM_F_EXCL):
 *   add chain NAME-from, NAME-to, NAME-in [, NAME-masq [, NAME-dnat]]
 *   add rule ...            their rules, the same as fw_sync() writes
 *   add element bridges, from_bridge, to_bridge, input_bridge, masq4,
 *     masq6, dnat           what the network puts in each of them
 * The cross-network checks of fw_sync() are the kernel's here: a name in
 * use (its chains exist), a bridge in use, a nat subnet overlapping
 * another one (the interval maps refuse overlaps) or a port forwarded
 * by another network makes the batch fail with EEXIST on that chain or
 * element, and nothing changes.
 *
 * Removing a network, tolerant of whatever part of it is absent:
 *   add chain, add element  the network's own, not exclusive: a no-op
 *                           for what exists, so that ...
 *   delete element          ... deleting them cannot fail; the elements
 *                           first, they hold references to the chains
 *   flush chain, delete chain   for each of its chains
 * An element that another network owns (the same bridge, an overlapping
 * subnet) has another jump target than ours: adding ours clashes with
 * it, and the batch fails rather than delete it.
 *
 * Replacing one network: the removal of the old one, then the addition
 * of the new one, in one batch.  The interval elements of masq4/masq6
 * are deleted by their start and end elements, computed from the old
 * network as they were when it was added.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>

#include "firewall/fw-private.h"

static int fw_net_add_part(struct fw_ctx *ctx, const struct fw_network *net)
{
	int ret;

	ctx->excl = true;
	ret = fw_add_net_chains(ctx, net);
	if (ret == 0)
		ret = fw_build_net_rules(ctx, net);
	if (ret == 0)
		ret = fw_build_net_elems(ctx, FW_MSG_NEWSETELEM, net);
	ctx->excl = false;
	return ret;
}

static int fw_net_del_part(struct fw_ctx *ctx, const struct fw_network *net)
{
	char names[FW_NET_CHAINS_MAX][FW_CHAIN_NAME_MAX];
	size_t n = fw_net_chain_names(net, names);
	int ret;

	ctx->excl = false;
	ret = fw_add_net_chains(ctx, net);
	if (ret == 0)
		ret = fw_build_net_elems(ctx, FW_MSG_NEWSETELEM, net);
	if (ret == 0)
		ret = fw_build_net_elems(ctx, FW_MSG_DELSETELEM, net);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = fw_flush_chain(ctx, names[i]);
		if (ret == 0)
			ret = fw_del_chain(ctx, names[i]);
	}
	return ret;
}

int fw_plan_net(const struct fw_network *old, const struct fw_network *new,
		struct fw_plan **ret, char *err, size_t errlen)
{
	struct fw_ctx ctx = { .family = NFPROTO_INET, .err = err,
			      .errlen = errlen };
	int r = 0;

	if (err && errlen)
		err[0] = '\0';
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
		r = fw_net_del_part(&ctx, old);
	if (r == 0 && new)
		r = fw_net_add_part(&ctx, new);
	if (r < 0) {
		fw_plan_free(ctx.plan);
		return r;
	}
	*ret = ctx.plan;
	return 0;
}

const char *fw_net_clash_hint(const struct fw_msg *msg)
{
	const char *set;

	if (!msg->excl)
		return NULL;
	if (msg->type == FW_MSG_NEWCHAIN)
		return "a network of this name is loaded";
	if (msg->type != FW_MSG_NEWSETELEM)
		return NULL;
	set = nftnl_set_get_str(msg->set, NFTNL_SET_NAME);
	if (strcmp(set, FW_MAP_MASQ4) == 0 || strcmp(set, FW_MAP_MASQ6) == 0)
		return "overlaps the nat subnet of another network";
	if (strcmp(set, FW_MAP_DNAT) == 0)
		return "another network forwards this port";
	return "another network uses this bridge";
}
