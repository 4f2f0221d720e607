/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Watching the ruleset: who else changes our tables, and whose base chains
 * would drop our networks' traffic.
 *
 * Every committed nftables transaction is announced on NFNLGRP_NFTABLES as
 * the messages it applied followed by one NFT_MSG_NEWGEN carrying the pid
 * of the committing process.  A transaction from another process that
 * touched a table named "netd" (inet or bridge) means someone flushed or
 * edited our ruleset: the daemon then puts it back.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include "firewall/fw-private.h"

struct fw_monitor {
	/* Netlink messages are parsed in place: keep the buffer aligned. */
	char buf[32768] __attribute__((aligned(8)));
	struct mnl_socket *nl;
	bool touched;		/* a message of the current transaction named our table */
	bool foreign;		/* a finished foreign transaction touched it */
	bool lost;		/* the socket overflowed */
};

int fw_monitor_open(struct fw_monitor **ret)
{
	struct fw_monitor *m = calloc(1, sizeof(*m));
	unsigned int group = NFNLGRP_NFTABLES;
	int size = 4 << 20;

	if (!m)
		return -ENOMEM;
	m->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!m->nl || mnl_socket_bind(m->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(m->nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		int r = -errno;

		fw_monitor_close(m);
		return r;
	}
	if (setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	*ret = m;
	return 0;
}

int fw_monitor_fd(const struct fw_monitor *m)
{
	return mnl_socket_get_fd(m->nl);
}

struct fw_monitor *fw_monitor_close(struct fw_monitor *m)
{
	if (!m)
		return NULL;
	if (m->nl)
		mnl_socket_close(m->nl);
	free(m);
	return NULL;
}

/* Attribute 1 is the table's name in table, chain, rule, set, element,
 * object and flowtable messages alike. */
static int table_attr_cb(const struct nlattr *attr, void *data)
{
	const char **name = data;

	if (mnl_attr_get_type(attr) == 1 && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		*name = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

static int gen_attr_cb(const struct nlattr *attr, void *data)
{
	uint32_t *pid = data;

	if (mnl_attr_get_type(attr) == NFTA_GEN_PROC_PID &&
	    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		*pid = ntohl(mnl_attr_get_u32(attr));
	return MNL_CB_OK;
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_monitor *m = data;
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	int type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	const char *table = NULL;
	uint32_t pid = 0;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*nfg))
		return MNL_CB_OK;
	if (type == NFT_MSG_NEWGEN) {
		mnl_attr_parse(nlh, sizeof(*nfg), gen_attr_cb, &pid);
		if (m->touched && pid != (uint32_t)getpid())
			m->foreign = true;
		m->touched = false;
		return MNL_CB_OK;
	}
	if (nfg->nfgen_family != NFPROTO_INET && nfg->nfgen_family != NFPROTO_BRIDGE)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*nfg), table_attr_cb, &table);
	if (table && strcmp(table, FW_TABLE) == 0)
		m->touched = true;
	return MNL_CB_OK;
}

int fw_monitor_read(struct fw_monitor *m)
{
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(m->nl, m->buf, sizeof(m->buf));

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/*
				 * Events were lost (our own big commits can do
				 * that).  The caller checks the tables exist.
				 */
				m->lost = true;
				continue;
			}
			return -errno;
		}
		if (mnl_cb_run(m->buf, (size_t)n, 0, 0, event_cb, m) < 0 && errno != ENOENT)
			continue;
	}
	if (m->foreign) {
		m->foreign = m->lost = false;
		return 1;
	}
	if (m->lost) {
		m->lost = false;
		m->touched = false;
		return 2;
	}
	return 0;
}

/* Foreign base chains that drop by policy on the hooks guests' traffic takes. */

struct dump_ctx {
	struct fw_foreign_chain *list;
	size_t n;
	int err;
};

static const char *family_name(uint32_t f)
{
	switch (f) {
	case NFPROTO_INET: return "inet";
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_IPV6: return "ip6";
	case NFPROTO_BRIDGE: return "bridge";
	default: return NULL;
	}
}

static const char *hook_name(uint32_t family, uint32_t hook)
{
	if (family == NFPROTO_BRIDGE)
		return hook == NF_BR_FORWARD ? "forward" : hook == NF_BR_LOCAL_IN ? "input" : NULL;
	return hook == NF_INET_FORWARD ? "forward" : hook == NF_INET_LOCAL_IN ? "input" : NULL;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct fw_foreign_chain *fc, *tmp;
	const char *fam, *hook, *table;
	uint32_t family;

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0 || !nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM) ||
	    !nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) ||
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) != NF_DROP)
		goto out;
	family = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
	table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
	fam = family_name(family);
	hook = hook_name(family, nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM));
	if (!fam || !hook || !table ||
	    (strcmp(table, FW_TABLE) == 0 && (family == NFPROTO_INET || family == NFPROTO_BRIDGE)))
		goto out;
	tmp = realloc(ctx->list, (ctx->n + 1) * sizeof(*tmp));
	if (!tmp) {
		ctx->err = -ENOMEM;
		goto out;
	}
	ctx->list = tmp;
	fc = &ctx->list[ctx->n++];
	memset(fc, 0, sizeof(*fc));
	snprintf(fc->family, sizeof(fc->family), "%s", fam);
	snprintf(fc->table, sizeof(fc->table), "%s", table);
	snprintf(fc->chain, sizeof(fc->chain), "%s", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	snprintf(fc->hook, sizeof(fc->hook), "%s", hook);
	fc->priority = (int32_t)nftnl_chain_get_u32(c, NFTNL_CHAIN_PRIO);
out:
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

int fw_foreign_drops(struct fw *fw, struct fw_foreign_chain **ret, size_t *ret_n)
{
	char buf[MNL_NLMSG_HDRLEN + 64] __attribute__((aligned(8)));
	struct dump_ctx ctx = { 0 };
	struct nlmsghdr *nlh;
	int r;

	*ret = NULL;
	*ret_n = 0;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP, 0);
	r = fw_dump(fw, nlh, chain_cb, &ctx);
	if (r == 0)
		r = ctx.err;
	if (r < 0) {
		free(ctx.list);
		return r;
	}
	*ret = ctx.list;
	*ret_n = ctx.n;
	return 0;
}
