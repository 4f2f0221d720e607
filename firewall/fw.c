/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fw: the socket side.  Plans come from fw-build.c and fw-plan.c; this
 * file sends them as one batch and turns the kernel's answers into an
 * errno and a message naming the object that failed.
 *
 * nfnetlink processes a batch synchronously inside sendmsg(): when it
 * returns, every error of the batch (each failed message is reported,
 * processing does not stop at the first one), plus the acknowledgement
 * the last message asks for, is already queued on our socket.  So the
 * reader drains the socket without blocking and knows the batch ran to
 * the end once it has seen the last message's answer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include "firewall/fw-private.h"

#define FW_RBUF_SIZE		65536
/* Receive buffer room per message of a batch, in case every one fails:
 * an error skb costs well under 1 KiB of socket memory. */
#define FW_ACK_ROOM		1024
#define FW_MAX_REPORTED		5	/* errors spelled out in errmsg */

struct fw {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char errmsg[FW_ERRMSG_MAX];
	char rbuf[FW_RBUF_SIZE];
};

/* What the kernel answered to one batch. */
struct fw_acks {
	const struct fw_plan *plan;
	const struct fw_buf *buf;
	int first_err;
	size_t n_errs;
	bool done;		/* the last message was answered */
	bool lost;		/* the socket overflowed: answers were lost */
	struct fw_names *enoent;	/* NULL, or: sets the kernel did not
					 * find for element messages */
};

__attribute__((format(printf, 2, 3)))
static void fw_errmsg_add(struct fw *fw, const char *fmt, ...)
{
	size_t used = strlen(fw->errmsg);
	va_list ap;

	if (used && used + 2 < sizeof(fw->errmsg)) {
		memcpy(fw->errmsg + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(fw->errmsg + used, sizeof(fw->errmsg) - used, fmt, ap);
	va_end(ap);
}

int fw_open(struct fw **ret)
{
	struct fw *fw = calloc(1, sizeof(*fw));
	int one = 1, err;

	if (!fw)
		return -ENOMEM;
	fw->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!fw->nl || mnl_socket_bind(fw->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		fw_close(fw);
		return err;
	}
	/* Best effort: extended acks carry the kernel's explanation;
	 * capped acks do not echo our (possibly large) message back. */
	(void)mnl_socket_setsockopt(fw->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)mnl_socket_setsockopt(fw->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	fw->portid = mnl_socket_get_portid(fw->nl);
	fw->seq = (uint32_t)time(NULL);
	*ret = fw;
	return 0;
}

struct fw *fw_close(struct fw *fw)
{
	if (!fw)
		return NULL;
	if (fw->nl)
		mnl_socket_close(fw->nl);
	free(fw);
	return NULL;
}

const char *fw_errmsg(const struct fw *fw)
{
	return fw ? fw->errmsg : "";
}

/* Raise SO_SNDBUF/SO_RCVBUF to at least want bytes (the *FORCE variants
 * pass rmem_max/wmem_max with CAP_NET_ADMIN, which nftables needs anyway). */
static void fw_sock_reserve(struct fw *fw, int opt, int force_opt, size_t want)
{
	int fd = mnl_socket_get_fd(fw->nl);
	int cur = 0, val = want > INT_MAX / 2 ? INT_MAX / 2 : (int)want;
	socklen_t len = sizeof(cur);

	if (getsockopt(fd, SOL_SOCKET, opt, &cur, &len) == 0 &&
	    (size_t)cur >= want)
		return;
	if (setsockopt(fd, SOL_SOCKET, force_opt, &val, sizeof(val)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &val, sizeof(val));
}

/* Receive whatever is queued, without waiting; cb sees every message
 * addressed to us.  Returns 0, or -ENOBUFS if some were lost. */
static int fw_recv_queued(struct fw *fw,
			  void (*cb)(const struct nlmsghdr *, void *),
			  void *data)
{
	int fd = mnl_socket_get_fd(fw->nl), ret = 0;

	for (;;) {
		ssize_t n = recv(fd, fw->rbuf, sizeof(fw->rbuf),
				 MSG_DONTWAIT | MSG_TRUNC);
		const struct nlmsghdr *nlh = (const void *)fw->rbuf;
		int len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			ret = -ENOBUFS;
			continue;
		}
		if (n < 0)
			return errno == EAGAIN ? ret : -errno;
		len = n > (ssize_t)sizeof(fw->rbuf) ? (int)sizeof(fw->rbuf) :
		      (int)n;
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			if (nlh->nlmsg_pid == fw->portid && cb)
				cb(nlh, data);
	}
}

struct fw_extack {
	const char *msg;
	uint32_t offset;
	bool has_offset;
};

static int fw_extack_attr(const struct nlattr *attr, void *data)
{
	struct fw_extack *ext = data;

	switch (mnl_attr_get_type(attr)) {
	case NLMSGERR_ATTR_MSG:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			ext->msg = mnl_attr_get_str(attr);
		break;
	case NLMSGERR_ATTR_OFFS:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0) {
			ext->offset = mnl_attr_get_u32(attr);
			ext->has_offset = true;
		}
		break;
	}
	return MNL_CB_OK;
}

/* The extended ack TLVs after struct nlmsgerr (and the echoed request
 * unless the ack was capped). */
static void fw_extack_parse(const struct nlmsghdr *nlh, struct fw_extack *ext)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t len = mnl_nlmsg_get_payload_len(nlh), hlen = sizeof(*e);

	*ext = (struct fw_extack){ 0 };
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		hlen += mnl_nlmsg_get_payload_len(&e->msg);
	if (len <= hlen)
		return;
	(void)mnl_attr_parse_payload((const char *)e + hlen, len - hlen,
				     fw_extack_attr, ext);
}

static bool fw_attr_covers(const struct nlmsghdr *nlh,
			   const struct nlattr *attr, uint32_t offset)
{
	uint32_t start = (uint32_t)((const char *)attr - (const char *)nlh);

	return offset >= start && offset < start + attr->nla_len;
}

static const char *fw_expr_name(const struct nlattr *elem)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, elem)
		if (mnl_attr_get_type(attr) == NFTA_EXPR_NAME &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(attr);
	return "?";
}

struct fw_elem_attrs {
	const char *set;
	const uint8_t *key;
	uint32_t key_len;
	uint32_t flags;
};

static int fw_elem_attr(const struct nlattr *attr, void *data)
{
	struct fw_elem_attrs *e = data;
	const struct nlattr *v;

	switch (mnl_attr_get_type(attr)) {
	case NFTA_SET_ELEM_KEY:
		mnl_attr_for_each_nested(v, attr)
			if (mnl_attr_get_type(v) == NFTA_DATA_VALUE) {
				e->key = mnl_attr_get_payload(v);
				e->key_len = mnl_attr_get_payload_len(v);
			}
		break;
	case NFTA_SET_ELEM_FLAGS:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			e->flags = ntohl(mnl_attr_get_u32(attr));
		break;
	}
	return MNL_CB_OK;
}

/* ", element tcp . 8080" for the element (NFTA_LIST_ELEM nest) elem. */
static void fw_describe_elem(const char *set, const struct nlattr *elem,
			     char *buf, size_t len)
{
	struct fw_elem_attrs e = { .set = set };
	char key[96];

	(void)mnl_attr_parse_nested(elem, fw_elem_attr, &e);
	if (!e.key)
		return;
	fw_elem_describe(set, e.key, e.key_len, e.flags, key, sizeof(key));
	snprintf(buf, len, ", element %s", key);
}

/* Name the element of an element message that an error offset points
 * into (the kernel points at the element it refused), or the element if
 * the message has only one. */
static void fw_describe_elems(const struct nlmsghdr *nlh, bool has_offset,
			      uint32_t offset, char *buf, size_t len)
{
	const struct nlattr *attr, *elem, *pick = NULL;
	const char *set = "";
	unsigned int n = 0;

	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(attr) == NFTA_SET_ELEM_LIST_SET &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			set = mnl_attr_get_str(attr);
		if (mnl_attr_get_type(attr) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(elem, attr) {
			n++;
			if (has_offset && fw_attr_covers(nlh, elem, offset))
				pick = elem;
			if (!has_offset)
				pick = n == 1 ? elem : NULL;
		}
	}
	if (pick)
		fw_describe_elem(set, pick, buf, len);
}

/* Name what an error offset points into: the expression of a rule
 * message, e.g. ", expression 2 (lookup)", or the element of an element
 * message. */
static void fw_describe_offset(const struct nlmsghdr *nlh, bool has_offset,
			       uint32_t offset, char *buf, size_t len)
{
	const struct nlattr *attr, *elem;

	buf[0] = '\0';
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWSETELEM ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_DELSETELEM) {
		fw_describe_elems(nlh, has_offset, offset, buf, len);
		return;
	}
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE || !has_offset)
		return;
	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg)) {
		unsigned int k = 0;

		if (mnl_attr_get_type(attr) != NFTA_RULE_EXPRESSIONS ||
		    !fw_attr_covers(nlh, attr, offset))
			continue;
		mnl_attr_for_each_nested(elem, attr) {
			k++;
			if (fw_attr_covers(nlh, elem, offset)) {
				snprintf(buf, len, ", expression %u (%s)", k,
					 fw_expr_name(elem));
				return;
			}
		}
	}
}

/* Message idx (0 = batch begin) of an encoded batch. */
static const struct nlmsghdr *fw_buf_msg(const struct fw_buf *buf, size_t idx)
{
	const struct nlmsghdr *nlh = (const void *)buf->data;
	int len = (int)buf->len;

	for (size_t i = 0; i < idx && mnl_nlmsg_ok(nlh, len); i++)
		nlh = mnl_nlmsg_next(nlh, &len);
	return mnl_nlmsg_ok(nlh, len) ? nlh : NULL;
}

static void fw_ack_error(struct fw *fw, struct fw_acks *a,
			 const struct nlmsghdr *nlh, size_t idx, int err)
{
	const struct fw_msg *msg = NULL;
	char what[160], where[128] = "";
	const struct nlmsghdr *req;
	const char *hint = NULL;
	struct fw_extack ext;

	if (idx > 0 && idx <= a->plan->n)
		msg = &a->plan->msgs[idx - 1];
	if (a->enoent && msg && err == -ENOENT &&
	    (msg->type == FW_MSG_NEWSETELEM || msg->type == FW_MSG_DELSETELEM))
		fw_names_add(a->enoent,
			     nftnl_set_get_str(msg->set, NFTNL_SET_NAME));
	if (a->n_errs++ == 0)
		a->first_err = err;
	if (a->n_errs > FW_MAX_REPORTED)
		return;
	if (msg)
		fw_msg_describe(msg, what, sizeof(what));
	else
		snprintf(what, sizeof(what), "batch");
	if (msg && err == -EEXIST)
		hint = fw_net_clash_hint(msg);
	fw_extack_parse(nlh, &ext);
	req = fw_buf_msg(a->buf, idx);
	if (req)
		fw_describe_offset(req, ext.has_offset, ext.offset, where,
				   sizeof(where));
	fw_errmsg_add(fw, "%s%s: %s%s%s%s%s%s%s", what, where, strerror(-err),
		      ext.msg ? " (" : "", ext.msg ? ext.msg : "",
		      ext.msg ? ")" : "", hint ? " (" : "", hint ? hint : "",
		      hint ? ")" : "");
}

struct fw_ack_ctx {
	struct fw *fw;
	struct fw_acks *acks;
};

static void fw_ack_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_ack_ctx *c = data;
	struct fw_acks *a = c->acks;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	uint32_t idx = nlh->nlmsg_seq - a->buf->seq;

	if (nlh->nlmsg_type != NLMSG_ERROR ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*e) ||
	    idx > a->plan->n + 1)
		return;		/* not an answer to this batch */
	if (idx == a->plan->n)
		a->done = true;
	if (e->error < 0)
		fw_ack_error(c->fw, a, nlh, idx, e->error);
}

static int fw_acks_result(struct fw *fw, const struct fw_acks *a)
{
	if (a->n_errs > FW_MAX_REPORTED)
		fw_errmsg_add(fw, "and %zu more errors",
			      a->n_errs - FW_MAX_REPORTED);
	if (a->lost)
		fw_errmsg_add(fw, "kernel answers were lost (receive buffer "
			      "overflow)");
	if (a->n_errs)
		return a->first_err;
	if (a->lost)
		return -ENOBUFS;
	if (!a->done) {
		fw_errmsg_add(fw, "the kernel did not acknowledge the batch");
		return -EPROTO;
	}
	return 0;
}

/* Send plan as one batch; the sets of element messages refused with
 * ENOENT go to enoent if not NULL. */
static int fw_send_plan_ex(struct fw *fw, const struct fw_plan *plan,
			   struct fw_names *enoent)
{
	struct fw_acks acks = { .plan = plan, .enoent = enoent };
	struct fw_ack_ctx ctx = { fw, &acks };
	struct fw_buf buf;
	ssize_t sent;
	int ret;

	ret = fw_plan_encode(plan, fw->seq, &buf);
	if (ret < 0) {
		fw_errmsg_add(fw, "cannot encode the batch: %s", strerror(-ret));
		return ret;
	}
	fw->seq += (uint32_t)plan->n + 2;
	acks.buf = &buf;
	(void)fw_recv_queued(fw, NULL, NULL);	/* stale answers, if any */
	fw_sock_reserve(fw, SO_SNDBUF, SO_SNDBUFFORCE, buf.len + 4096);
	fw_sock_reserve(fw, SO_RCVBUF, SO_RCVBUFFORCE,
			(plan->n + 2) * FW_ACK_ROOM);
	sent = mnl_socket_sendto(fw->nl, buf.data, buf.len);
	if (sent < 0 || (size_t)sent != buf.len) {
		ret = sent < 0 ? -errno : -EMSGSIZE;
		fw_errmsg_add(fw, "cannot send a batch of %zu bytes: %s",
			      buf.len, strerror(-ret));
	} else {
		acks.lost = fw_recv_queued(fw, fw_ack_cb, &ctx) == -ENOBUFS;
		ret = fw_acks_result(fw, &acks);
	}
	fw_buf_release(&buf);
	return ret;
}

static int fw_send_plan(struct fw *fw, const struct fw_plan *plan)
{
	return fw_send_plan_ex(fw, plan, NULL);
}

int fw_sync(struct fw *fw, const struct fw_network *nets, size_t n)
{
	struct fw_plan *plan = NULL;
	int ret;

	fw->errmsg[0] = '\0';
	ret = fw_plan_sync(nets, n, &plan, fw->errmsg, sizeof(fw->errmsg));
	if (ret < 0)
		return ret;
	ret = fw_send_plan(fw, plan);
	fw_plan_free(plan);
	return ret;
}

int fw_guard_sync(struct fw *fw, const struct fw_guard *g, size_t n,
		  const struct fw_prefix *v6, size_t n_v6)
{
	struct fw_plan *plan = NULL;
	int ret;

	fw->errmsg[0] = '\0';
	ret = fw_plan_guard_sync(g, n, v6, n_v6, &plan, fw->errmsg,
				 sizeof(fw->errmsg));
	if (ret < 0)
		return ret;
	ret = fw_send_plan(fw, plan);
	fw_plan_free(plan);
	return ret;
}

/* Send a plan of element changes to table bridge netd (ret: planning's). */
static int fw_send_guard_plan(struct fw *fw, int ret, struct fw_plan *plan)
{
	if (ret < 0)
		return ret;
	ret = fw_send_plan(fw, plan);
	fw_plan_free(plan);
	/* the elements' add-before-delete rules out a missing element */
	if (ret == -ENOENT)
		fw_errmsg_add(fw, "table bridge %s or one of its sets is "
			      "missing", FW_TABLE);
	return ret;
}

int fw_guard_set(struct fw *fw, const struct fw_guard *old,
		 const struct fw_guard *new)
{
	struct fw_plan *plan = NULL;
	int ret;

	fw->errmsg[0] = '\0';
	ret = fw_plan_guard_set(old, new, &plan, fw->errmsg,
				sizeof(fw->errmsg));
	return fw_send_guard_plan(fw, ret, plan);
}

int fw_guard_remove(struct fw *fw, const struct fw_guard *old, size_t n)
{
	struct fw_plan *plan = NULL;
	int ret;

	fw->errmsg[0] = '\0';
	if (!n)
		return 0;
	ret = fw_plan_guard_remove(old, n, &plan, fw->errmsg, sizeof(fw->errmsg));
	return fw_send_guard_plan(fw, ret, plan);
}

struct fw_get_ctx {
	uint32_t seq;
	bool answered;
	bool found;
	int error;
};

static void fw_get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_get_ctx *c = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_seq != c->seq)
		return;
	if (nlh->nlmsg_type == NLMSG_ERROR &&
	    mnl_nlmsg_get_payload_len(nlh) >= sizeof(*e)) {
		c->answered = true;
		c->error = e->error;
	} else if (nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
		c->found = true;	/* the object asked for */
	}
}

/* Send the GET request nlh for one object: 1 if the kernel has it, 0 if
 * not (or if the kernel has no such family), negative errno on failure. */
static int fw_get_obj(struct fw *fw, const struct nlmsghdr *nlh)
{
	struct fw_get_ctx c = { .seq = nlh->nlmsg_seq };
	int ret;

	(void)fw_recv_queued(fw, NULL, NULL);
	if (mnl_socket_sendto(fw->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	ret = fw_recv_queued(fw, fw_get_cb, &c);
	if (ret < 0)
		return ret;
	if (!c.answered)
		return -EPROTO;
	if (c.error == -ENOENT || c.error == -EAFNOSUPPORT)
		return 0;
	if (c.error < 0)
		return c.error;
	return c.found ? 1 : 0;
}

/* Send the dump request nlh on fw's socket and pass every answer to cb
 * (the socket stays open: closing a netfilter socket can wait for the
 * kernel's RCU grace period, 5-20 ms while links are being deleted). */
int fw_dump(struct fw *fw, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	ssize_t n;
	int r = MNL_CB_OK;

	nlh->nlmsg_seq = fw->seq++;
	(void)fw_recv_queued(fw, NULL, NULL);
	if (mnl_socket_sendto(fw->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while (r > MNL_CB_STOP &&
	       (n = mnl_socket_recvfrom(fw->nl, fw->rbuf, sizeof(fw->rbuf))) > 0)
		r = mnl_cb_run(fw->rbuf, (size_t)n, nlh->nlmsg_seq, fw->portid,
			       cb, data);
	if (r > MNL_CB_STOP)
		return -errno;	/* recvfrom failed */
	return r < 0 ? -errno : 0;
}

static int fw_get_table(struct fw *fw, uint16_t family)
{
	char buf[512];	/* GETTABLE with our table name */
	struct nftnl_table *t = fw_table_new(family, FW_TABLE);
	struct nlmsghdr *nlh;

	if (!t)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, family, NLM_F_ACK,
				    fw->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return fw_get_obj(fw, nlh);
}

/* Is element key in set of table inet netd? */
static int fw_get_elem(struct fw *fw, const char *set, const void *key,
		       uint32_t len)
{
	char buf[512];	/* GETSETELEM with one key of at most 32 bytes */
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	struct nlmsghdr *nlh;

	if (!s || !e) {
		nftnl_set_free(s);
		nftnl_set_elem_free(e);
		return -ENOMEM;
	}
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_elem_add(s, e);
	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, FW_TABLE) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, set) < 0 ||
	    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len) < 0) {
		nftnl_set_free(s);
		return -ENOMEM;
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET,
				    NLM_F_ACK, fw->seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return fw_get_obj(fw, nlh);
}

static int fw_table_of(struct fw *fw, uint16_t family)
{
	int ret;

	fw->errmsg[0] = '\0';
	ret = fw_get_table(fw, family);
	if (ret < 0)
		fw_errmsg_add(fw, "cannot look up table %s %s: %s",
			      family == NFPROTO_INET ? "inet" : "bridge",
			      FW_TABLE, strerror(-ret));
	return ret;
}

int fw_table_exists(struct fw *fw)
{
	return fw_table_of(fw, NFPROTO_INET);
}

int fw_guard_table_exists(struct fw *fw)
{
	return fw_table_of(fw, NFPROTO_BRIDGE);
}

/* One batch that deletes our inet and/or bridge table. */
static int fw_drop_tables(struct fw *fw, bool inet, bool bridge)
{
	struct fw_plan *plan = NULL;
	int ret = fw_plan_remove(inet, bridge, &plan);

	if (ret < 0)
		return ret;
	ret = fw_send_plan(fw, plan);
	fw_plan_free(plan);
	return ret;
}

int fw_guard_clear(struct fw *fw)
{
	int ret;

	fw->errmsg[0] = '\0';
	/* one round trip: the delete itself tells whether it was there */
	ret = fw_drop_tables(fw, false, true);
	if (ret == -ENOENT) {
		fw->errmsg[0] = '\0';
		return 0;
	}
	return ret;
}

int fw_remove(struct fw *fw)
{
	int inet, bridge, ret;

	fw->errmsg[0] = '\0';
	inet = fw_get_table(fw, NFPROTO_INET);
	bridge = inet < 0 ? 0 : fw_get_table(fw, NFPROTO_BRIDGE);
	if (inet < 0 || bridge < 0) {
		ret = inet < 0 ? inet : bridge;
		fw_errmsg_add(fw, "cannot look up our tables: %s",
			      strerror(-ret));
		return ret;
	}
	if (!inet && !bridge)
		return 0;
	return fw_drop_tables(fw, inet, bridge);
}

/* 1 if a network of net's name is in table inet netd, 0 if not. */
static int fw_net_present(struct fw *fw, const struct fw_network *net)
{
	uint8_t name[FW_NAME_MAX] = { 0 };

	memcpy(name, net->name, strnlen(net->name, FW_NAME_MAX));
	return fw_get_elem(fw, FW_MAP_NETWORKS, name, sizeof(name));
}

/* The batch of fw_plan_net() failed with err: is that because table
 * inet netd, or (removing) the network itself, is not there? */
static int fw_net_failed(struct fw *fw, const struct fw_network *old,
			 const struct fw_network *new, int err)
{
	int table = fw_get_table(fw, NFPROTO_INET), present;

	if (table == 0 && !new) {
		fw->errmsg[0] = '\0';	/* nothing to remove */
		return 0;
	}
	if (table == 0) {
		snprintf(fw->errmsg, sizeof(fw->errmsg), "table inet %s is "
			 "missing", FW_TABLE);
		return -ENOENT;
	}
	if (table == 1 && err == -ENOENT)
		fw_errmsg_add(fw, "table inet %s is incomplete", FW_TABLE);
	if (table < 0 || err != -EEXIST || new)
		return err;
	/* removing: did we clash with another network's elements only? */
	present = fw_net_present(fw, old);
	if (present == 0) {
		fw->errmsg[0] = '\0';
		return 0;
	}
	return err;
}

/* Are all names those of slot sets? */
static bool fw_names_slots(const struct fw_names *names)
{
	struct fw_slot slot;

	for (size_t i = 0; i < names->n; i++)
		if (!fw_slot_parse(names->name[i], &slot))
			return false;
	return names->n > 0;
}

static int fw_net_try(struct fw *fw, const struct fw_network *old,
		      const struct fw_network *new,
		      const struct fw_names *missing, struct fw_names *enoent)
{
	struct fw_plan *plan = NULL;
	int ret;

	fw->errmsg[0] = '\0';
	ret = fw_plan_net(old, new, missing, &plan, fw->errmsg,
			  sizeof(fw->errmsg));
	if (ret < 0)
		return ret;
	ret = fw_send_plan_ex(fw, plan, enoent);
	fw_plan_free(plan);
	return ret;
}

/* One try; if the kernel lacks only slot sets (a prefix length new to
 * the table), a second one that makes them, or leaves them alone. */
static int fw_net_change(struct fw *fw, const struct fw_network *old,
			 const struct fw_network *new)
{
	struct fw_names missing = { 0 };
	int ret;

	ret = fw_net_try(fw, old, new, NULL, &missing);
	if (ret == -ENOENT && missing.oom) {
		fw_names_free(&missing);
		snprintf(fw->errmsg, sizeof(fw->errmsg), "out of memory");
		return -ENOMEM;
	}
	if (ret == -ENOENT && fw_names_slots(&missing))
		ret = fw_net_try(fw, old, new, &missing, NULL);
	fw_names_free(&missing);
	if (ret == -ENOENT || (ret == -EEXIST && !new))
		ret = fw_net_failed(fw, old, new, ret);
	return ret;
}

int fw_network_add(struct fw *fw, const struct fw_network *net)
{
	if (!net) {
		snprintf(fw->errmsg, sizeof(fw->errmsg), "no network given");
		return -EINVAL;
	}
	return fw_net_change(fw, NULL, net);
}

int fw_network_del(struct fw *fw, const struct fw_network *net)
{
	if (!net) {
		snprintf(fw->errmsg, sizeof(fw->errmsg), "no network given");
		return -EINVAL;
	}
	return fw_net_change(fw, net, NULL);
}

int fw_network_update(struct fw *fw, const struct fw_network *old,
		      const struct fw_network *net)
{
	if (!old || !net) {
		snprintf(fw->errmsg, sizeof(fw->errmsg), "no network given");
		return -EINVAL;
	}
	return fw_net_change(fw, old, net);
}
