/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A plan is the ordered list of nftnl objects of one batch.  This file
 * owns the container, the removal plan, the encoding of a plan into a
 * netlink batch (begin, one message per object, end) in memory, and the
 * words that name a message or an element in error messages.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "firewall/fw-private.h"

static void fw_msg_clear(struct fw_msg *msg)
{
	switch (msg->type) {
	case FW_MSG_NEWTABLE:
	case FW_MSG_DELTABLE:
		nftnl_table_free(msg->table);
		break;
	case FW_MSG_NEWCHAIN:
		nftnl_chain_free(msg->chain);
		break;
	case FW_MSG_NEWSET:
	case FW_MSG_NEWSETELEM:
	case FW_MSG_DELSETELEM:
		nftnl_set_free(msg->set);
		break;
	case FW_MSG_NEWRULE:
		nftnl_rule_free(msg->rule);
		break;
	}
}

struct fw_plan *fw_plan_free(struct fw_plan *plan)
{
	if (!plan)
		return NULL;
	for (size_t i = 0; i < plan->n; i++)
		fw_msg_clear(&plan->msgs[i]);
	free(plan->msgs);
	free(plan);
	return NULL;
}

/* Append a message; on failure the object is freed, so the caller never
 * has to. */
int fw_plan_push(struct fw_plan *plan, enum fw_msg_type type, void *obj,
		 unsigned int index)
{
	struct fw_msg msg = { .type = type, .index = index };

	switch (type) {
	case FW_MSG_NEWTABLE:
	case FW_MSG_DELTABLE:
		msg.table = obj;
		break;
	case FW_MSG_NEWCHAIN:
		msg.chain = obj;
		break;
	case FW_MSG_NEWSET:
	case FW_MSG_NEWSETELEM:
	case FW_MSG_DELSETELEM:
		msg.set = obj;
		break;
	case FW_MSG_NEWRULE:
		msg.rule = obj;
		break;
	}
	if (plan->n == plan->cap) {
		size_t cap = plan->cap ? plan->cap * 2 : 64;
		struct fw_msg *msgs = reallocarray(plan->msgs, cap,
						   sizeof(*msgs));

		if (!msgs) {
			fw_msg_clear(&msg);
			return -ENOMEM;
		}
		plan->msgs = msgs;
		plan->cap = cap;
	}
	plan->msgs[plan->n++] = msg;
	return 0;
}

struct nftnl_table *fw_table_new(uint16_t family, const char *name)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return NULL;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
	if (nftnl_table_set_str(t, NFTNL_TABLE_NAME, name) < 0) {
		nftnl_table_free(t);
		return NULL;
	}
	return t;
}

/* add table F netd; delete table F netd: deletes a table whether or not
 * it still exists when the batch runs. */
static int fw_plan_drop_table(struct fw_plan *plan, uint16_t family)
{
	enum fw_msg_type types[] = { FW_MSG_NEWTABLE, FW_MSG_DELTABLE };

	for (size_t i = 0; i < 2; i++) {
		struct nftnl_table *t = fw_table_new(family, FW_TABLE);
		int ret;

		if (!t)
			return -ENOMEM;
		ret = fw_plan_push(plan, types[i], t, 0);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int fw_plan_remove(bool inet, bool bridge, struct fw_plan **ret)
{
	struct fw_plan *plan = calloc(1, sizeof(*plan));
	int r = 0;

	if (!plan)
		return -ENOMEM;
	if (inet)
		r = fw_plan_drop_table(plan, NFPROTO_INET);
	if (r == 0 && bridge)
		r = fw_plan_drop_table(plan, NFPROTO_BRIDGE);
	if (r < 0) {
		fw_plan_free(plan);
		return r;
	}
	*ret = plan;
	return 0;
}

static const char *fw_family_name(uint32_t family)
{
	switch (family) {
	case NFPROTO_INET:
		return "inet";
	case NFPROTO_BRIDGE:
		return "bridge";
	default:
		return "?";
	}
}

static void fw_elems_msg_describe(const struct fw_msg *msg, char *buf,
				  size_t len)
{
	snprintf(buf, len, "%selements of %s (part %u)",
		 msg->type == FW_MSG_DELSETELEM ? "delete " : "",
		 nftnl_set_get_str(msg->set, NFTNL_SET_NAME), msg->index);
}

void fw_msg_describe(const struct fw_msg *msg, char *buf, size_t len)
{
	const struct nftnl_set *s = msg->set;
	const char *kind;

	switch (msg->type) {
	case FW_MSG_NEWTABLE:
	case FW_MSG_DELTABLE:
		snprintf(buf, len, "%s table %s %s",
			 msg->type == FW_MSG_NEWTABLE ? "add" : "delete",
			 fw_family_name(nftnl_table_get_u32(msg->table,
							    NFTNL_TABLE_FAMILY)),
			 nftnl_table_get_str(msg->table, NFTNL_TABLE_NAME));
		break;
	case FW_MSG_NEWCHAIN:
		snprintf(buf, len, "chain %s",
			 nftnl_chain_get_str(msg->chain, NFTNL_CHAIN_NAME));
		break;
	case FW_MSG_NEWSET:
		kind = nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_MAP ?
		       "map" : "set";
		snprintf(buf, len, "%s %s", kind,
			 nftnl_set_get_str(s, NFTNL_SET_NAME));
		break;
	case FW_MSG_NEWSETELEM:
	case FW_MSG_DELSETELEM:
		fw_elems_msg_describe(msg, buf, len);
		break;
	case FW_MSG_NEWRULE:
		snprintf(buf, len, "rule %u of chain %s", msg->index,
			 nftnl_rule_get_str(msg->rule, NFTNL_RULE_CHAIN));
		break;
	}
}

/* The fields of a set's keys, for error messages. */
enum fw_field { FW_F_IF, FW_F_NAME, FW_F_A4, FW_F_A6, FW_F_MAC, FW_F_PORT };

static const struct {
	const char *set;
	enum fw_field f[2];
	size_t n;
} fw_key_layouts[] = {
	{ FW_MAP_NETWORKS, { FW_F_NAME }, 1 },
	{ FW_SET_SAME, { FW_F_IF, FW_F_IF }, 2 },
	{ FW_SET_UPLINKS, { FW_F_IF, FW_F_IF }, 2 },
	{ FW_SET_HOSTS4, { FW_F_IF, FW_F_A4 }, 2 },
	{ FW_SET_HOSTS6, { FW_F_IF, FW_F_A6 }, 2 },
	{ FW_MAP_DNAT, { FW_F_PORT }, 1 },
	{ FW_MAP_DNAT4, { FW_F_PORT }, 1 },
	{ FW_MAP_DNAT6, { FW_F_PORT }, 1 },
	{ FW_SET_PORT_MAC, { FW_F_IF, FW_F_MAC }, 2 },
	{ FW_SET_PORT_IP4, { FW_F_IF, FW_F_A4 }, 2 },
	{ FW_SET_ALLOW6, { FW_F_A6 }, 1 },
};

/* Fields of the key of set; every other set is keyed by an ifname. */
static size_t fw_key_fields(const char *set, enum fw_field *f)
{
	struct fw_slot slot;
	enum fw_field a;

	for (size_t i = 0; i < FW_N_ELEMS(fw_key_layouts); i++) {
		if (strcmp(set, fw_key_layouts[i].set) != 0)
			continue;
		memcpy(f, fw_key_layouts[i].f, sizeof(fw_key_layouts[i].f));
		return fw_key_layouts[i].n;
	}
	f[0] = FW_F_IF;
	if (!fw_slot_parse(set, &slot))
		return 1;
	a = slot.family == AF_INET ? FW_F_A4 : FW_F_A6;
	f[0] = slot.kind == FW_SLOT_NET || slot.kind == FW_SLOT_NETUP ? FW_F_IF : a;
	f[1] = slot.kind == FW_SLOT_LOCAL ? a : FW_F_IF;
	if (slot.kind == FW_SLOT_NET || slot.kind == FW_SLOT_NETUP)
		f[1] = a;
	/* natup4_L, nat4_L: the subnet alone; egress4_L: subnet . ifname */
	return slot.kind == FW_SLOT_NAT || (slot.kind == FW_SLOT_UPLINK &&
					    strncmp(set, "natup", 5) == 0) ?
	       1 : 2;
}

static size_t fw_field_size(enum fw_field f)
{
	static const size_t sizes[] = {
		[FW_F_IF] = 16, [FW_F_NAME] = FW_NAME_MAX, [FW_F_A4] = 4,
		[FW_F_A6] = 16, [FW_F_MAC] = 8, [FW_F_PORT] = 8,
	};

	return sizes[f];
}

/* One field as nft writes it: "netd-web", 10.10.0.0, tcp . 8080 ... */
static void fw_field_describe(enum fw_field f, const uint8_t *p, char *buf,
			      size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	uint16_t port;

	switch (f) {
	case FW_F_IF:
	case FW_F_NAME:
		snprintf(buf, len, "\"%.*s\"",
			 (int)strnlen((const char *)p, fw_field_size(f)),
			 (const char *)p);
		break;
	case FW_F_A4:
	case FW_F_A6:
		inet_ntop(f == FW_F_A4 ? AF_INET : AF_INET6, p, a, sizeof(a));
		snprintf(buf, len, "%s", a);
		break;
	case FW_F_MAC:
		snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1],
			 p[2], p[3], p[4], p[5]);
		break;
	case FW_F_PORT:
		memcpy(&port, p + 4, sizeof(port));
		snprintf(buf, len, "%s . %u", p[0] == IPPROTO_TCP ? "tcp" :
			 p[0] == IPPROTO_UDP ? "udp" : "?", ntohs(port));
		break;
	}
}

void fw_elem_describe(const char *set, const uint8_t *key, uint32_t len,
		      uint32_t flags, char *buf, size_t buflen)
{
	enum fw_field f[2];
	size_t n = fw_key_fields(set, f), total = 0;
	char one[2][64];

	for (size_t i = 0; i < n; i++)
		total += fw_field_size(f[i]);
	if (total != len) {
		snprintf(buf, buflen, "(a %u-byte key)", len);
		return;
	}
	fw_field_describe(f[0], key, one[0], sizeof(one[0]));
	if (n == 2)
		fw_field_describe(f[1], key + fw_field_size(f[0]), one[1],
				  sizeof(one[1]));
	snprintf(buf, buflen, "%s%s%s%s", one[0], n == 2 ? " . " : "",
		 n == 2 ? one[1] : "",
		 flags & NFT_SET_ELEM_INTERVAL_END ? " (interval end)" : "");
}

void fw_buf_release(struct fw_buf *buf)
{
	free(buf->data);
	*buf = (struct fw_buf){ 0 };
}

/* Make room for one more message of at most FW_MSG_MAX bytes. */
static int fw_buf_reserve(struct fw_buf *buf)
{
	size_t cap;
	char *data;

	if (buf->cap - buf->len >= FW_MSG_MAX)
		return 0;
	cap = buf->cap ? buf->cap * 2 : 4 * FW_MSG_MAX;
	while (cap - buf->len < FW_MSG_MAX)
		cap *= 2;
	data = realloc(buf->data, cap);
	if (!data)
		return -ENOMEM;
	/* libnftnl and libmnl write headers field by field: start clean */
	memset(data + buf->cap, 0, cap - buf->cap);
	buf->data = data;
	buf->cap = cap;
	return 0;
}

static uint16_t fw_msg_flags(const struct fw_msg *msg)
{
	switch (msg->type) {
	case FW_MSG_DELTABLE:
	case FW_MSG_DELSETELEM:
		return 0;
	case FW_MSG_NEWRULE:
		return NLM_F_CREATE | NLM_F_APPEND;
	case FW_MSG_NEWTABLE:
	case FW_MSG_NEWCHAIN:
	case FW_MSG_NEWSET:
	case FW_MSG_NEWSETELEM:
		break;
	}
	return NLM_F_CREATE | (msg->excl ? NLM_F_EXCL : 0);
}

static uint16_t fw_msg_nlmsg_type(enum fw_msg_type type)
{
	switch (type) {
	case FW_MSG_NEWTABLE:
		return NFT_MSG_NEWTABLE;
	case FW_MSG_DELTABLE:
		return NFT_MSG_DELTABLE;
	case FW_MSG_NEWCHAIN:
		return NFT_MSG_NEWCHAIN;
	case FW_MSG_NEWSET:
		return NFT_MSG_NEWSET;
	case FW_MSG_NEWSETELEM:
		return NFT_MSG_NEWSETELEM;
	case FW_MSG_DELSETELEM:
		return NFT_MSG_DELSETELEM;
	case FW_MSG_NEWRULE:
		return NFT_MSG_NEWRULE;
	}
	return NFT_MSG_MAX;
}

static uint16_t fw_msg_family(const struct fw_msg *msg)
{
	switch (msg->type) {
	case FW_MSG_NEWTABLE:
	case FW_MSG_DELTABLE:
		return nftnl_table_get_u32(msg->table, NFTNL_TABLE_FAMILY);
	case FW_MSG_NEWCHAIN:
		return nftnl_chain_get_u32(msg->chain, NFTNL_CHAIN_FAMILY);
	case FW_MSG_NEWSET:
	case FW_MSG_NEWSETELEM:
	case FW_MSG_DELSETELEM:
		return nftnl_set_get_u32(msg->set, NFTNL_SET_FAMILY);
	case FW_MSG_NEWRULE:
		return nftnl_rule_get_u32(msg->rule, NFTNL_RULE_FAMILY);
	}
	return NFPROTO_UNSPEC;
}

/* The kernel reports every failed message of a batch whatever its flags;
 * the last message asks for an acknowledgement as well, which tells the
 * reader that the batch was processed to the end. */
static void fw_msg_build(const struct fw_msg *msg, char *at, uint32_t seq,
			 bool last)
{
	uint16_t flags = fw_msg_flags(msg) | (last ? NLM_F_ACK : 0);
	struct nlmsghdr *nlh;

	nlh = nftnl_nlmsg_build_hdr(at, fw_msg_nlmsg_type(msg->type),
				    fw_msg_family(msg), flags, seq);
	switch (msg->type) {
	case FW_MSG_NEWTABLE:
	case FW_MSG_DELTABLE:
		nftnl_table_nlmsg_build_payload(nlh, msg->table);
		break;
	case FW_MSG_NEWCHAIN:
		nftnl_chain_nlmsg_build_payload(nlh, msg->chain);
		break;
	case FW_MSG_NEWSET:
		nftnl_set_nlmsg_build_payload(nlh, msg->set);
		break;
	case FW_MSG_NEWSETELEM:
	case FW_MSG_DELSETELEM:
		nftnl_set_elems_nlmsg_build_payload(nlh, msg->set);
		break;
	case FW_MSG_NEWRULE:
		nftnl_rule_nlmsg_build_payload(nlh, msg->rule);
		break;
	}
}

/* Append the message just written at buf->len. */
static int fw_buf_commit(struct fw_buf *buf)
{
	const struct nlmsghdr *nlh = (void *)(buf->data + buf->len);

	if (nlh->nlmsg_len > FW_MSG_MAX)
		return -EMSGSIZE;
	buf->len += NLMSG_ALIGN(nlh->nlmsg_len);
	return 0;
}

int fw_plan_encode(const struct fw_plan *plan, uint32_t seq,
		   struct fw_buf *buf)
{
	int ret;

	*buf = (struct fw_buf){ .seq = seq, .n_msgs = plan->n };
	if (plan->n == 0)
		return -ENODATA;	/* never send an empty batch */
	ret = fw_buf_reserve(buf);
	if (ret < 0)
		return ret;
	nftnl_batch_begin(buf->data, seq);
	ret = fw_buf_commit(buf);
	for (size_t i = 0; ret == 0 && i < plan->n; i++) {
		ret = fw_buf_reserve(buf);
		if (ret < 0)
			break;
		fw_msg_build(&plan->msgs[i], buf->data + buf->len,
			     seq + 1 + (uint32_t)i, i + 1 == plan->n);
		ret = fw_buf_commit(buf);
	}
	if (ret == 0)
		ret = fw_buf_reserve(buf);
	if (ret == 0) {
		nftnl_batch_end(buf->data + buf->len,
				seq + 1 + (uint32_t)plan->n);
		ret = fw_buf_commit(buf);
	}
	if (ret < 0)
		fw_buf_release(buf);
	return ret;
}
