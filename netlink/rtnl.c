/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rtnl: synchronous rtnetlink requests over one libmnl socket.
 *
 * Each request carries NLM_F_ACK and a fresh sequence number; replies are
 * matched on sequence number and port id, anything else (the tail of an
 * earlier, abandoned exchange) is dropped.  Dumps are collected in full
 * before any callback runs, so a callback sees one consistent snapshot, each
 * object once, and may itself issue requests on the same handle.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "netlink/rtnl.h"

#define RTNL_RECV_SIZE	32768	/* MNL_SOCKET_DUMP_SIZE in newer libmnl */
#define RTNL_REQ_SIZE	1024	/* the largest request (255-byte alias) is ~300 */
#define RTNL_DUMP_TRIES	5	/* attempts when a dump is interrupted */
#define RTNL_ALIAS_MAX	255	/* IFALIASZ - 1 */
#define RTNL_TAP_QUEUES	256	/* MAX_TAP_QUEUES in drivers/net/tun.c */

struct rtnl {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char errmsg[256];
	char *buf;				/* receive buffer */
	alignas(struct nlmsghdr) char req[RTNL_REQ_SIZE];
};

/* Per data message of a reply: 0 to go on, negative errno to fail. */
typedef int (*rtnl_msg_cb)(const struct nlmsghdr *nlh, void *data);

struct rtnl_exchange {
	uint32_t seq;
	rtnl_msg_cb cb;
	void *data;
	int cb_err;		/* first error returned by cb */
	int err;		/* the kernel's errno from NLMSG_ERROR/DONE */
	bool done;
	bool intr;		/* NLM_F_DUMP_INTR seen */
};

/* A growable array of parsed dump entries. */
struct rtnl_vec {
	char *items;
	size_t n, cap, size;
};

/* Parses one dump message into item: 1 keep it, 0 skip it, -errno. */
typedef int (*rtnl_parse_fn)(const struct nlmsghdr *nlh, void *item);

struct rtnl_collect {
	struct rtnl_vec *vec;
	rtnl_parse_fn parse;
};

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t len = strnlen(src, size - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

int rtnl_open(struct rtnl **ret)
{
	struct rtnl *rt;
	int one = 1, r;

	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->buf = malloc(RTNL_RECV_SIZE);
	rt->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!rt->buf || !rt->nl) {
		r = rt->buf ? -errno : -ENOMEM;
		goto fail;
	}
	if (mnl_socket_setsockopt(rt->nl, NETLINK_EXT_ACK, &one, sizeof(one)) < 0 ||
	    mnl_socket_setsockopt(rt->nl, NETLINK_CAP_ACK, &one, sizeof(one)) < 0 ||
	    mnl_socket_bind(rt->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	rt->portid = mnl_socket_get_portid(rt->nl);
	rt->seq = (uint32_t)time(NULL);
	*ret = rt;
	return 0;
fail:
	rtnl_close(rt);
	return r;
}

struct rtnl *rtnl_close(struct rtnl *rt)
{
	if (!rt)
		return NULL;
	if (rt->nl)
		mnl_socket_close(rt->nl);
	free(rt->buf);
	free(rt);
	return NULL;
}

const char *rtnl_errmsg(const struct rtnl *rt)
{
	return rt ? rt->errmsg : "";
}

/* Every public entry point starts here: the message is per call. */
static void rtnl_reset(struct rtnl *rt)
{
	rt->errmsg[0] = '\0';
}

static struct nlmsghdr *rtnl_begin(struct rtnl *rt, uint16_t type,
				   uint16_t flags)
{
	struct nlmsghdr *nlh;

	nlh = mnl_nlmsg_put_header(rt->req);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	return nlh;
}

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	struct rtnl *rt = data;

	if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_OK;	/* a bad message is no message */
	copy_str(rt->errmsg, sizeof(rt->errmsg), mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/* Read the errno of an NLMSG_ERROR or NLMSG_DONE, and its extack text. */
static int rtnl_parse_status(struct rtnl *rt, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t plen = mnl_nlmsg_get_payload_len(nlh);
	size_t off;
	int err;

	if (nlh->nlmsg_type == NLMSG_DONE) {
		if (plen < sizeof(int))
			return 0;	/* old kernels: an empty DONE */
		memcpy(&err, e, sizeof(err));
		off = sizeof(int);
	} else {
		if (plen < sizeof(*e))
			return -EPROTO;
		err = e->error;
		off = sizeof(*e);
		/* without NLM_F_CAPPED the request's payload is echoed */
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED) &&
		    e->msg.nlmsg_len >= sizeof(e->msg))
			off += NLMSG_ALIGN(e->msg.nlmsg_len) - sizeof(e->msg);
	}
	if (err < 0 && (nlh->nlmsg_flags & NLM_F_ACK_TLVS) && off <= plen)
		mnl_attr_parse(nlh, off, extack_attr_cb, rt);
	return err > 0 ? -err : err;
}

static void rtnl_process_msg(struct rtnl *rt, const struct nlmsghdr *nlh,
			     struct rtnl_exchange *ex)
{
	int r;

	if (nlh->nlmsg_seq != ex->seq || nlh->nlmsg_pid != rt->portid)
		return;		/* stale: from an earlier exchange */
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		ex->intr = true;
	switch (nlh->nlmsg_type) {
	case NLMSG_ERROR:
	case NLMSG_DONE:
		ex->err = rtnl_parse_status(rt, nlh);
		ex->done = true;
		return;
	case NLMSG_NOOP:
	case NLMSG_OVERRUN:
		return;
	default:
		break;
	}
	if (nlh->nlmsg_type < NLMSG_MIN_TYPE || !ex->cb || ex->cb_err)
		return;
	r = ex->cb(nlh, ex->data);
	if (r < 0)
		ex->cb_err = r;	/* keep reading: drain the reply */
}

/*
 * Send the request built in rt->req and read until its acknowledgement (or
 * the end of the dump).  A callback error stops the callbacks, not the
 * reading, so that nothing of this reply is left in the socket.
 */
static int rtnl_talk(struct rtnl *rt, struct nlmsghdr *nlh, rtnl_msg_cb cb,
		     void *data)
{
	struct rtnl_exchange ex = { .cb = cb, .data = data };
	const struct nlmsghdr *msg;
	ssize_t n;
	int len;

	nlh->nlmsg_seq = ex.seq = ++rt->seq;
	if (mnl_socket_sendto(rt->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while (!ex.done) {
		n = mnl_socket_recvfrom(rt->nl, rt->buf, RTNL_RECV_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		len = (int)n;
		for (msg = (const struct nlmsghdr *)rt->buf;
		     mnl_nlmsg_ok(msg, len) && !ex.done;
		     msg = mnl_nlmsg_next(msg, &len))
			rtnl_process_msg(rt, msg, &ex);
	}
	if (ex.cb_err)
		return ex.cb_err;
	if (ex.err)
		return ex.err;
	return ex.intr ? -EINTR : 0;
}

static int vec_push(struct rtnl_vec *v, const void *item)
{
	size_t cap;
	char *p;

	if (v->n == v->cap) {
		cap = v->cap ? v->cap * 2 : 16;
		p = reallocarray(v->items, cap, v->size);
		if (!p)
			return -ENOMEM;
		v->items = p;
		v->cap = cap;
	}
	memcpy(v->items + v->n * v->size, item, v->size);
	v->n++;
	return 0;
}

static int collect_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rtnl_collect *c = data;
	union {
		struct rtnl_link link;
		struct rtnl_addr addr;
		struct rtnl_route route;
	} item;
	int r;

	memset(&item, 0, sizeof(item));
	r = c->parse(nlh, &item);
	if (r <= 0)
		return r;
	return vec_push(c->vec, &item);
}

/*
 * Dump `type` for `family` into vec.  The kernel flags a dump that raced
 * with a change (NLM_F_DUMP_INTR); it is then done again from scratch, and
 * -EAGAIN returned if it never came out whole.  ifindex > 0 (RTM_GETADDR
 * only) asks for one link's addresses.
 */
static int rtnl_dump(struct rtnl *rt, uint16_t type, int family, int ifindex,
		     size_t hdrlen, rtnl_parse_fn parse, struct rtnl_vec *vec)
{
	struct rtnl_collect c = { .vec = vec, .parse = parse };
	struct nlmsghdr *nlh;
	struct rtgenmsg *g;
	int r = -EINTR;

	for (int i = 0; i < RTNL_DUMP_TRIES && r == -EINTR; i++) {
		vec->n = 0;
		nlh = rtnl_begin(rt, type, NLM_F_DUMP);
		/* ifinfomsg/ifaddrmsg/rtmsg all start with the family */
		g = mnl_nlmsg_put_extra_header(nlh, hdrlen);
		g->rtgen_family = (unsigned char)family;
		if (type == RTM_GETADDR && ifindex > 0)
			((struct ifaddrmsg *)g)->ifa_index = (unsigned int)ifindex;
		if (type == RTM_GETLINK)
			mnl_attr_put_u32(nlh, IFLA_EXT_MASK,
					 RTEXT_FILTER_SKIP_STATS);
		r = rtnl_talk(rt, nlh, collect_cb, &c);
	}
	if (r < 0) {
		free(vec->items);
		vec->items = NULL;
		vec->n = 0;
	}
	return r == -EINTR ? -EAGAIN : r;
}

/* ---- links ---- */

static int linkinfo_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_get_type(attr) != IFLA_INFO_KIND)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_ERROR;
	tb[IFLA_INFO_KIND] = attr;
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);
	enum mnl_attr_data_type want;

	switch (type) {
	case IFLA_IFNAME:
	case IFLA_IFALIAS:
		want = MNL_TYPE_NUL_STRING;
		break;
	case IFLA_MTU:
	case IFLA_GROUP:
	case IFLA_MASTER:
		want = MNL_TYPE_U32;
		break;
	case IFLA_LINKINFO:
		want = MNL_TYPE_NESTED;
		break;
	case IFLA_ADDRESS:
		/* only Ethernet-style addresses: tunnels carry IPs here */
		if (mnl_attr_get_payload_len(attr) == ETH_ALEN)
			tb[type] = attr;
		return MNL_CB_OK;
	default:
		return MNL_CB_OK;
	}
	if (mnl_attr_validate(attr, want) < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int link_parse(const struct nlmsghdr *nlh, void *item)
{
	const struct nlattr *tb[IFLA_MAX + 1] = { NULL };
	const struct nlattr *info[IFLA_INFO_MAX + 1] = { NULL };
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct rtnl_link *l = item;

	/* RTM_DELLINK: only from the monitor, the last state of the link */
	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return 0;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi) ||
	    mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, tb) < 0)
		return -EPROTO;
	if (tb[IFLA_LINKINFO] &&
	    mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, info) < 0)
		return -EPROTO;
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->up = ifi->ifi_flags & IFF_UP;
	if (tb[IFLA_IFNAME])
		copy_str(l->name, sizeof(l->name), mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_IFALIAS])
		copy_str(l->alias, sizeof(l->alias), mnl_attr_get_str(tb[IFLA_IFALIAS]));
	if (info[IFLA_INFO_KIND])
		copy_str(l->kind, sizeof(l->kind), mnl_attr_get_str(info[IFLA_INFO_KIND]));
	if (tb[IFLA_MTU])
		l->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_GROUP])
		l->group = mnl_attr_get_u32(tb[IFLA_GROUP]);
	if (tb[IFLA_MASTER])
		l->master = (int)mnl_attr_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_ADDRESS])
		memcpy(l->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), ETH_ALEN);
	return 1;
}

struct link_get_ctx {
	struct rtnl_link *link;
	bool found;
};

static int link_get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_get_ctx *ctx = data;
	int r;

	r = link_parse(nlh, ctx->link);
	if (r > 0)
		ctx->found = true;
	return r < 0 ? r : 0;
}

static struct nlmsghdr *link_msg(struct rtnl *rt, uint16_t type,
				 uint16_t flags, int ifindex)
{
	struct nlmsghdr *nlh = rtnl_begin(rt, type, flags);
	struct ifinfomsg *ifi;

	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

static int link_get(struct rtnl *rt, const char *name, int ifindex,
		    struct rtnl_link *ret)
{
	struct link_get_ctx ctx = { .link = ret };
	struct nlmsghdr *nlh;
	int r;

	nlh = link_msg(rt, RTM_GETLINK, 0, ifindex);
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	r = rtnl_talk(rt, nlh, link_get_cb, &ctx);
	if (r < 0)
		return r;
	return ctx.found ? 0 : -ENODEV;
}

static bool name_ok(const char *name)
{
	return name && name[0] && strlen(name) < IF_NAMESIZE;
}

int rtnl_link_get(struct rtnl *rt, const char *name, struct rtnl_link *ret)
{
	rtnl_reset(rt);
	if (!name_ok(name))
		return -EINVAL;
	return link_get(rt, name, 0, ret);
}

int rtnl_link_get_by_index(struct rtnl *rt, int ifindex, struct rtnl_link *ret)
{
	rtnl_reset(rt);
	if (ifindex <= 0)
		return -ENODEV;
	return link_get(rt, NULL, ifindex, ret);
}

int rtnl_link_dump(struct rtnl *rt, rtnl_link_cb cb, void *data)
{
	struct rtnl_vec v = { .size = sizeof(struct rtnl_link) };
	int r;

	rtnl_reset(rt);
	r = rtnl_dump(rt, RTM_GETLINK, AF_UNSPEC, 0, sizeof(struct ifinfomsg),
		      link_parse, &v);
	for (size_t i = 0; i < v.n && r >= 0; i++)
		r = cb((const struct rtnl_link *)v.items + i, data);
	free(v.items);
	return r < 0 ? r : 0;
}

/* ---- addresses ---- */

static size_t family_addr_len(int family)
{
	switch (family) {
	case AF_INET:
		return sizeof(struct in_addr);
	case AF_INET6:
		return sizeof(struct in6_addr);
	default:
		return 0;
	}
}

/* The attributes we read from an ifaddrmsg or rtmsg, validated. */
struct ip_attrs {
	const struct nlattr **tb;
	size_t addr_len;	/* of the message's family */
};

static int ip_attr_validate(const struct nlattr *attr, struct ip_attrs *a,
			    bool is_addr)
{
	if (is_addr) {
		if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, a->addr_len) < 0)
			return MNL_CB_ERROR;
	} else if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) {
		return MNL_CB_ERROR;
	}
	a->tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	switch (mnl_attr_get_type(attr)) {
	case IFA_ADDRESS:
	case IFA_LOCAL:
		return ip_attr_validate(attr, data, true);
	default:
		return MNL_CB_OK;
	}
}

static int addr_parse(const struct nlmsghdr *nlh, void *item)
{
	const struct nlattr *tb[IFA_MAX + 1] = { NULL };
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct ip_attrs attrs = { .tb = tb };
	struct rtnl_addr *a = item;
	const struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWADDR)
		return 0;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return -EPROTO;
	attrs.addr_len = family_addr_len(ifa->ifa_family);
	if (!attrs.addr_len)
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, &attrs) < 0)
		return -EPROTO;
	/* IFA_LOCAL is ours; IFA_ADDRESS is the peer on point-to-point */
	attr = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!attr)
		return 0;
	a->ifindex = (int)ifa->ifa_index;
	a->family = ifa->ifa_family;
	a->prefixlen = ifa->ifa_prefixlen;
	memcpy(&a->addr, mnl_attr_get_payload(attr), attrs.addr_len);
	return 1;
}

static bool family_ok(int family)
{
	return family == AF_UNSPEC || family == AF_INET || family == AF_INET6;
}

/*
 * Addresses of family, of every link or of ifindex only.  For one link,
 * strict checking goes on for that dump alone (it also makes the kernel
 * refuse loosely built requests): the kernel then dumps only ifa_index's
 * addresses (Linux 4.20 and later).  Without it the whole dump comes back,
 * filtered here.
 */
static int addr_dump(struct rtnl *rt, int family, int ifindex, rtnl_addr_cb cb, void *data)
{
	struct rtnl_vec v = { .size = sizeof(struct rtnl_addr) };
	int one = 1, zero = 0, r;
	bool strict = false;

	rtnl_reset(rt);
	if (!family_ok(family))
		return -EAFNOSUPPORT;
	if (ifindex > 0)
		strict = mnl_socket_setsockopt(rt->nl, NETLINK_GET_STRICT_CHK, &one,
					       sizeof(one)) == 0;
	r = rtnl_dump(rt, RTM_GETADDR, family, strict ? ifindex : 0, sizeof(struct ifaddrmsg),
		      addr_parse, &v);
	if (strict)
		(void)mnl_socket_setsockopt(rt->nl, NETLINK_GET_STRICT_CHK, &zero, sizeof(zero));
	for (size_t i = 0; i < v.n && r >= 0; i++) {
		const struct rtnl_addr *a = (const struct rtnl_addr *)v.items + i;

		if (ifindex <= 0 || a->ifindex == ifindex)
			r = cb(a, data);
	}
	free(v.items);
	return r < 0 ? r : 0;
}

int rtnl_addr_dump(struct rtnl *rt, int family, rtnl_addr_cb cb, void *data)
{
	return addr_dump(rt, family, 0, cb, data);
}

int rtnl_addr_dump_link(struct rtnl *rt, int ifindex, rtnl_addr_cb cb, void *data)
{
	if (ifindex <= 0) {
		rtnl_reset(rt);
		return -EINVAL;
	}
	return addr_dump(rt, AF_UNSPEC, ifindex, cb, data);
}

/* ---- routes ---- */

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	switch (mnl_attr_get_type(attr)) {
	case RTA_DST:
		return ip_attr_validate(attr, data, true);
	case RTA_OIF:
	case RTA_TABLE:
		return ip_attr_validate(attr, data, false);
	default:
		return MNL_CB_OK;
	}
}

static int route_parse(const struct nlmsghdr *nlh, void *item)
{
	const struct nlattr *tb[RTA_MAX + 1] = { NULL };
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct ip_attrs attrs = { .tb = tb };
	struct rtnl_route *rte = item;
	uint32_t table;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return 0;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return -EPROTO;
	attrs.addr_len = family_addr_len(rtm->rtm_family);
	if (!attrs.addr_len || rtm->rtm_type != RTN_UNICAST)
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, &attrs) < 0)
		return -EPROTO;
	/* tables above 255 show RT_TABLE_COMPAT in rtm_table */
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (table != RT_TABLE_MAIN)
		return 0;
	rte->family = rtm->rtm_family;
	rte->dst_len = rtm->rtm_dst_len;
	rte->table = RT_TABLE_MAIN;
	rte->type = rtm->rtm_type;
	if (tb[RTA_OIF])
		rte->oif = (int)mnl_attr_get_u32(tb[RTA_OIF]);
	if (tb[RTA_DST])
		memcpy(&rte->dst, mnl_attr_get_payload(tb[RTA_DST]), attrs.addr_len);
	return 1;
}

int rtnl_route_dump(struct rtnl *rt, int family, rtnl_route_cb cb, void *data)
{
	struct rtnl_vec v = { .size = sizeof(struct rtnl_route) };
	int r;

	rtnl_reset(rt);
	if (!family_ok(family))
		return -EAFNOSUPPORT;
	r = rtnl_dump(rt, RTM_GETROUTE, family, 0, sizeof(struct rtmsg),
		      route_parse, &v);
	for (size_t i = 0; i < v.n && r >= 0; i++)
		r = cb((const struct rtnl_route *)v.items + i, data);
	free(v.items);
	return r < 0 ? r : 0;
}

/* FDB */

struct fdb_attrs {
	const struct nlattr *lladdr, *master;
};

static int fdb_attr_cb(const struct nlattr *attr, void *data)
{
	struct fdb_attrs *a = data;

	switch (mnl_attr_get_type(attr)) {
	case NDA_LLADDR:
		if (mnl_attr_get_payload_len(attr) == 6)
			a->lladdr = attr;
		return MNL_CB_OK;
	case NDA_MASTER:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		a->master = attr;
		return MNL_CB_OK;
	default:
		return MNL_CB_OK;
	}
}

static int fdb_parse(const struct nlmsghdr *nlh, void *item)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	struct fdb_attrs a = { 0 };
	struct rtnl_fdb *f = item;

	if (nlh->nlmsg_type != RTM_NEWNEIGH && nlh->nlmsg_type != RTM_DELNEIGH)
		return 0;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ndm))
		return -EPROTO;
	if (ndm->ndm_family != AF_BRIDGE)
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*ndm), fdb_attr_cb, &a) < 0)
		return -EPROTO;
	if (!a.lladdr)
		return 0;
	f->ifindex = ndm->ndm_ifindex;
	f->master = a.master ? (int)mnl_attr_get_u32(a.master) : 0;
	f->state = ndm->ndm_state;
	f->flags = ndm->ndm_flags;
	memcpy(f->mac, mnl_attr_get_payload(a.lladdr), 6);
	return 1;
}

int rtnl_fdb_dump(struct rtnl *rt, rtnl_fdb_cb cb, void *data)
{
	struct rtnl_vec v = { .size = sizeof(struct rtnl_fdb) };
	int r;

	rtnl_reset(rt);
	r = rtnl_dump(rt, RTM_GETNEIGH, AF_BRIDGE, 0, sizeof(struct ndmsg), fdb_parse, &v);
	for (size_t i = 0; i < v.n && r >= 0; i++)
		r = cb((const struct rtnl_fdb *)v.items + i, data);
	free(v.items);
	return r < 0 ? r : 0;
}

/* ---- link changes ---- */

/* Ask for IFF_UP (or its absence) in the same message. */
static void link_msg_set_up(struct nlmsghdr *nlh, bool up)
{
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	ifi->ifi_flags = up ? IFF_UP : 0;
	ifi->ifi_change = IFF_UP;
}

/* Request sizes are bounded (name_ok, RTNL_ALIAS_MAX): unchecked puts. */
static void bridge_put_attrs(struct nlmsghdr *nlh, const char *name,
			     const struct rtnl_bridge_opts *o)
{
	struct nlattr *info, *data;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (o->mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, ETH_ALEN, o->mac);
	if (o->group)
		mnl_attr_put_u32(nlh, IFLA_GROUP, o->group);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_BR_STP_STATE, 0);
	mnl_attr_put_u32(nlh, IFLA_BR_FORWARD_DELAY, 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
}

/* An existing link of that name: fine if it is a bridge. */
static int bridge_existing(struct rtnl *rt, const char *name, int *ret_ifindex)
{
	struct rtnl_link l;
	char msg[sizeof(rt->errmsg)];
	int r;

	memcpy(msg, rt->errmsg, sizeof(msg));
	r = link_get(rt, name, 0, &l);
	if (r < 0)
		return r;
	if (strcmp(l.kind, "bridge") != 0) {
		memcpy(rt->errmsg, msg, sizeof(msg));
		return -EEXIST;
	}
	rtnl_reset(rt);
	if (ret_ifindex)
		*ret_ifindex = l.ifindex;
	return 0;
}

/*
 * What RTM_NEWLINK cannot do for a new bridge: the kernel ignores
 * IFLA_IFALIAS at creation, and an IFLA_MTU given there is not "set by
 * user" for the bridge, which then follows its ports' MTU.  (An MTU equal
 * to the bridge's initial 1500 changes nothing, so it is not pinned
 * either: such a bridge takes the smallest MTU of its ports.)
 */
static int bridge_configure(struct rtnl *rt, int ifindex,
			    const struct rtnl_bridge_opts *o)
{
	struct nlmsghdr *nlh;

	if (!o->mtu && !o->alias && !o->no_ipv6)
		return 0;
	nlh = link_msg(rt, RTM_SETLINK, 0, ifindex);
	if (o->no_ipv6)
		link_msg_set_up(nlh, true);
	if (o->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, o->mtu);
	if (o->alias)
		mnl_attr_put_strz(nlh, IFLA_IFALIAS, o->alias);
	return rtnl_talk(rt, nlh, NULL, NULL);
}

/* A kernel error that means "already so": 0, and no message either. */
static int rtnl_already(struct rtnl *rt, int r, int e1, int e2)
{
	if (r != e1 && r != e2)
		return r;
	rtnl_reset(rt);
	return 0;
}

/* Remove a link we just made, keeping the message of what failed. */
static void link_undo(struct rtnl *rt, int ifindex)
{
	char msg[sizeof(rt->errmsg)];

	memcpy(msg, rt->errmsg, sizeof(msg));
	(void)rtnl_talk(rt, link_msg(rt, RTM_DELLINK, 0, ifindex), NULL, NULL);
	memcpy(rt->errmsg, msg, sizeof(msg));
}

static int bridge_new(struct rtnl *rt, const char *name,
		      const struct rtnl_bridge_opts *o, int *ret_ifindex)
{
	struct rtnl_link l;
	struct link_get_ctx ctx = { .link = &l };
	struct nlmsghdr *nlh;
	int r;

	nlh = link_msg(rt, RTM_NEWLINK,
		       NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, 0);
	/*
	 * Honoured at creation (rtnl_configure_link): the bridge comes up
	 * without a second request.  NLM_F_ECHO returns the new link.  With
	 * no_ipv6 it comes up in bridge_configure's request instead, once
	 * IPv6 is off.
	 */
	link_msg_set_up(nlh, !o->no_ipv6);
	bridge_put_attrs(nlh, name, o);
	r = rtnl_talk(rt, nlh, link_get_cb, &ctx);
	if (r < 0)
		return r;
	if (!ctx.found) {
		/* older kernels do not echo a new link */
		r = link_get(rt, name, 0, &l);
		if (r < 0)
			return r;
	}
	r = o->no_ipv6 ? rtnl_link_set_ipv6(name, false) : 0;
	if (r == 0)
		r = bridge_configure(rt, l.ifindex, o);
	if (r < 0) {
		link_undo(rt, l.ifindex);
		return r;
	}
	if (ret_ifindex)
		*ret_ifindex = l.ifindex;
	return 0;
}

int rtnl_bridge_create(struct rtnl *rt, const char *name,
		       const struct rtnl_bridge_opts *opts, int *ret_ifindex)
{
	static const struct rtnl_bridge_opts none;
	const struct rtnl_bridge_opts *o = opts ? opts : &none;
	int r = 0;

	rtnl_reset(rt);
	if (!name_ok(name) || (o->alias && strlen(o->alias) > RTNL_ALIAS_MAX))
		return -EINVAL;
	/* twice at most: the link may vanish between EEXIST and lookup */
	for (int i = 0; i < 2; i++) {
		r = bridge_new(rt, name, o, ret_ifindex);
		if (r != -EEXIST)
			return r;
		r = bridge_existing(rt, name, ret_ifindex);
		if (r != -ENODEV)
			return r;
	}
	return r;
}

int rtnl_link_delete(struct rtnl *rt, int ifindex)
{
	int r;

	rtnl_reset(rt);
	if (ifindex <= 0)
		return -EINVAL;
	r = rtnl_talk(rt, link_msg(rt, RTM_DELLINK, 0, ifindex), NULL, NULL);
	return rtnl_already(rt, r, -ENODEV, -ENODEV);
}

/*
 * Delete every link in a group with one request: the kernel unregisters
 * them together and waits for RCU once, instead of once per link.
 */
int rtnl_link_delete_group(struct rtnl *rt, unsigned int group)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int r;

	rtnl_reset(rt);
	if (group == 0)
		return -EINVAL;	/* the default group: every ordinary link */
	nlh = rtnl_begin(rt, RTM_DELLINK, NLM_F_ACK);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, IFLA_GROUP, group);
	r = rtnl_talk(rt, nlh, NULL, NULL);
	return r == -ENODEV ? 0 : r;
}

int rtnl_link_set_up(struct rtnl *rt, int ifindex, bool up)
{
	struct nlmsghdr *nlh;

	rtnl_reset(rt);
	if (ifindex <= 0)
		return -EINVAL;
	nlh = link_msg(rt, RTM_SETLINK, 0, ifindex);
	link_msg_set_up(nlh, up);
	return rtnl_talk(rt, nlh, NULL, NULL);
}

/* RTM_SETLINK of one u32 attribute */
static int link_set_u32(struct rtnl *rt, int ifindex, uint16_t type, uint32_t value)
{
	struct nlmsghdr *nlh = link_msg(rt, RTM_SETLINK, 0, ifindex);

	mnl_attr_put_u32(nlh, type, value);
	return rtnl_talk(rt, nlh, NULL, NULL);
}

int rtnl_link_set_mtu(struct rtnl *rt, int ifindex, unsigned int mtu)
{
	rtnl_reset(rt);
	if (ifindex <= 0 || mtu == 0)
		return -EINVAL;
	return link_set_u32(rt, ifindex, IFLA_MTU, mtu);
}

int rtnl_link_set_group(struct rtnl *rt, int ifindex, unsigned int group)
{
	rtnl_reset(rt);
	if (ifindex <= 0)
		return -EINVAL;
	return link_set_u32(rt, ifindex, IFLA_GROUP, group);
}

int rtnl_link_set_master(struct rtnl *rt, int ifindex, int master)
{
	struct nlmsghdr *nlh;

	rtnl_reset(rt);
	if (ifindex <= 0 || master < 0)
		return -EINVAL;
	nlh = link_msg(rt, RTM_SETLINK, 0, ifindex);
	link_msg_set_up(nlh, true);
	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	return rtnl_talk(rt, nlh, NULL, NULL);
}

/* ---- port setup ---- */

static bool port_opts_ok(const struct rtnl_port_opts *o)
{
	return o->master >= 0 && (!o->alias || strlen(o->alias) <= RTNL_ALIAS_MAX);
}

/*
 * One RTM_SETLINK for all of it: do_setlink() handles IFLA_MTU, IFLA_GROUP,
 * IFLA_IFALIAS, ifi_flags/ifi_change and IFLA_MASTER of one message, in
 * that order (so the port is up when it joins the bridge).  IFLA_MASTER is
 * always there: 0 releases a port, and is a no-op for one without a
 * master (a new TAP).  An empty alias
 * is sent as "\0": the kernel stores it as empty and no longer reports one
 * (a zero-length IFLA_IFALIAS would fail NLA_STRING validation).
 */
static struct nlmsghdr *port_msg(struct rtnl *rt, int ifindex,
				 const struct rtnl_port_opts *o)
{
	struct nlmsghdr *nlh = link_msg(rt, RTM_SETLINK, 0, ifindex);

	if (o->up)
		link_msg_set_up(nlh, true);
	if (o->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, o->mtu);
	if (o->group)
		mnl_attr_put_u32(nlh, IFLA_GROUP, o->group);
	if (o->alias)
		mnl_attr_put_strz(nlh, IFLA_IFALIAS, o->alias);
	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)o->master);
	return nlh;
}

int rtnl_port_setup(struct rtnl *rt, int ifindex, const struct rtnl_port_opts *o)
{
	rtnl_reset(rt);
	if (ifindex <= 0 || !o || !port_opts_ok(o))
		return -EINVAL;
	return rtnl_talk(rt, port_msg(rt, ifindex, o), NULL, NULL);
}

/* ---- address changes ---- */

static int addr_msg(struct rtnl *rt, uint16_t type, uint16_t flags,
		    const struct rtnl_addr *a, struct nlmsghdr **ret)
{
	size_t len = family_addr_len(a->family);
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;

	if (!len)
		return -EAFNOSUPPORT;
	if (a->ifindex <= 0 || a->prefixlen > len * 8)
		return -EINVAL;
	nlh = rtnl_begin(rt, type, flags);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (unsigned char)a->family;
	ifa->ifa_prefixlen = a->prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned int)a->ifindex;
	/* IPv4: IFA_LOCAL is the address, IFA_ADDRESS the (same) peer */
	if (a->family == AF_INET)
		mnl_attr_put(nlh, IFA_LOCAL, len, &a->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, &a->addr);
	*ret = nlh;
	return 0;
}

/* The directed broadcast of addr/prefixlen: host bits all ones. */
static uint32_t ipv4_broadcast(struct in_addr addr, uint8_t prefixlen)
{
	uint32_t mask = prefixlen ? ~0u << (32 - prefixlen) : 0;

	return htonl(ntohl(addr.s_addr) | ~mask);
}

int rtnl_addr_add(struct rtnl *rt, const struct rtnl_addr *addr)
{
	struct nlmsghdr *nlh;
	int r;

	rtnl_reset(rt);
	r = addr_msg(rt, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, addr, &nlh);
	if (r < 0)
		return r;
	if (addr->family == AF_INET && addr->prefixlen < 31)
		mnl_attr_put_u32(nlh, IFA_BROADCAST,
				 ipv4_broadcast(addr->addr.v4, addr->prefixlen));
	/* no duplicate address detection: usable at once (we own the link) */
	if (addr->family == AF_INET6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	r = rtnl_talk(rt, nlh, NULL, NULL);
	return r == -EEXIST ? 0 : r;
}

int rtnl_addr_del(struct rtnl *rt, const struct rtnl_addr *addr)
{
	struct nlmsghdr *nlh;
	int r;

	rtnl_reset(rt);
	r = addr_msg(rt, RTM_DELADDR, 0, addr, &nlh);
	if (r < 0)
		return r;
	r = rtnl_talk(rt, nlh, NULL, NULL);
	/* IPv4 says EADDRNOTAVAIL, IPv6 ENOENT (older: EADDRNOTAVAIL) */
	r = rtnl_already(rt, r, -EADDRNOTAVAIL, -ENOENT);
	return rtnl_already(rt, r, -ENODEV, -ENODEV);
}

/* ---- TAP devices ---- */

static void tap_close_all(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Open /dev/net/tun and attach it to the device ifr names (or creates). */
static int tap_attach(struct ifreq *ifr)
{
	int fd, r;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNSETIFF, ifr) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int tap_set_mac(int fd, const uint8_t *mac)
{
	struct ifreq ifr = { 0 };

	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, ETH_ALEN);
	return ioctl(fd, SIOCSIFHWADDR, &ifr) < 0 ? -errno : 0;
}

/*
 * The new device's ifindex, by the name TUNSETIFF gave it.  A tun fd has
 * no SIOCGIFINDEX; any socket does, for its namespace, so rt's netlink
 * socket serves (the namespace our request goes to anyway).
 */
static int tap_ifindex(struct rtnl *rt, const char *name, int *ret)
{
	struct ifreq ifr = { 0 };

	copy_str(ifr.ifr_name, IFNAMSIZ, name);
	if (ioctl(mnl_socket_get_fd(rt->nl), SIOCGIFINDEX, &ifr) < 0)
		return -errno;
	*ret = ifr.ifr_ifindex;
	return 0;
}

/*
 * net.ipv6.conf.NAME.disable_ipv6 (there is no rtnetlink attribute for
 * it).  A kernel without IPv6 has no such file: nothing to do.
 */
int rtnl_link_set_ipv6(const char *name, bool on)
{
	char path[96];
	int fd, r = 0;

	/* conf/all and conf/default are not links */
	if (!name_ok(name) || strchr(name, '/') || strcmp(name, "all") == 0 ||
	    strcmp(name, "default") == 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (write(fd, on ? "0" : "1", 1) != 1)
		r = -errno;
	close(fd);
	return r;
}

/* The port part of the options: up when any of them is set. */
static struct rtnl_port_opts tap_port_opts(const struct rtnl_tap_opts *o)
{
	struct rtnl_port_opts port = {
		.master = o->master, .mtu = o->mtu, .alias = o->alias,
		.group = o->group,
	};

	port.up = o->master || o->mtu || o->alias || o->group;
	return port;
}

/*
 * Everything that can fail comes before TUNSETPERSIST: until then the
 * device lives only as long as its fds, so closing them leaves nothing
 * (a bridge drops a port that goes away).  The MAC is set before the port
 * request, so the port is up and joins its bridge with its final address.
 */
static int tap_configure(struct rtnl *rt, int fd, const char *name,
			 const struct rtnl_tap_opts *o, int *ret_ifindex)
{
	struct rtnl_port_opts port = tap_port_opts(o);
	int r;

	if (o->mac) {
		r = tap_set_mac(fd, o->mac);
		if (r < 0)
			return r;
	}
	if (o->persist && o->owner != (uid_t)-1 &&
	    ioctl(fd, TUNSETOWNER, (unsigned long)o->owner) < 0)
		return -errno;
	r = tap_ifindex(rt, name, ret_ifindex);
	if (r < 0)
		return r;
	if (o->no_ipv6) {
		r = rtnl_link_set_ipv6(name, false);
		if (r < 0)
			return r;
	}
	if (port.up) {
		r = rtnl_talk(rt, port_msg(rt, *ret_ifindex, &port), NULL, NULL);
		if (r < 0)
			return r;
	}
	if (o->persist && ioctl(fd, TUNSETPERSIST, 1UL) < 0)
		return -errno;
	return 0;
}

/*
 * The first open creates the device (IFF_TUN_EXCL: never adopt an existing
 * one, whose owner we do not know); the kernel writes the final name back
 * into ifr, so further queues attach to that same device.
 */
static int tap_open_queues(const struct rtnl_tap_opts *o, unsigned int n,
			   int *fds, struct ifreq *ifr)
{
	int flags = IFF_TAP | IFF_NO_PI, r;

	if (o->vnet_hdr)
		flags |= IFF_VNET_HDR;
	if (n > 1)
		flags |= IFF_MULTI_QUEUE;
	copy_str(ifr->ifr_name, IFNAMSIZ,
		 o->name && o->name[0] ? o->name : "netd-t%d");
	for (unsigned int i = 0; i < n; i++) {
		ifr->ifr_flags = (short)(i == 0 ? flags | IFF_TUN_EXCL : flags);
		r = tap_attach(ifr);
		if (r < 0)
			return r == -EBUSY && i == 0 ? -EEXIST : r;
		fds[i] = r;
	}
	return 0;
}

/*
 * open + TUNSETIFF per queue, then ioctls on the first fd, then at most one
 * rtnetlink request (tap_configure).
 */
int rtnl_tap_create(struct rtnl *rt, const struct rtnl_tap_opts *opts,
		    int *ret_fds, char *ret_name, int *ret_ifindex)
{
	static const struct rtnl_tap_opts none = { .owner = (uid_t)-1 };
	const struct rtnl_tap_opts *o = opts ? opts : &none;
	unsigned int n = o->queues > 1 ? o->queues : 1;
	struct rtnl_port_opts port = tap_port_opts(o);
	struct ifreq ifr = { 0 };
	int ifindex = 0, r;

	rtnl_reset(rt);
	if (!ret_fds || n > RTNL_TAP_QUEUES || !port_opts_ok(&port) ||
	    (o->name && strlen(o->name) >= IFNAMSIZ))
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		ret_fds[i] = -1;
	r = tap_open_queues(o, n, ret_fds, &ifr);
	if (r == 0)
		r = tap_configure(rt, ret_fds[0], ifr.ifr_name, o, &ifindex);
	if (r < 0) {
		tap_close_all(ret_fds, n);
		return r;
	}
	if (ret_name)
		copy_str(ret_name, IF_NAMESIZE, ifr.ifr_name);
	if (ret_ifindex)
		*ret_ifindex = ifindex;
	return 0;
}

/* ---- link monitor ---- */

#define RTNL_MONITOR_RCVBUF	(8 << 20)	/* many VMs starting at once */

struct rtnl_monitor {
	int fd;
	char *buf;		/* RTNL_RECV_SIZE bytes */
	rtnl_fdb_event_cb fdb_cb;	/* NULL: link events only */
};

/*
 * SO_RCVBUFFORCE goes past net.core.rmem_max but needs CAP_NET_ADMIN;
 * without it SO_RCVBUF gets what rmem_max allows.
 */
static int monitor_set_rcvbuf(int fd)
{
	int size = RTNL_MONITOR_RCVBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) == 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		return -errno;
	return 0;
}

static int monitor_socket(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int group = RTNLGRP_LINK, fd, r;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	/* the buffer before the group, which may fill it at once */
	r = monitor_set_rcvbuf(fd);
	if (r == 0 && (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		       setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
				  &group, sizeof(group)) < 0))
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int rtnl_monitor_open(struct rtnl_monitor **ret)
{
	struct rtnl_monitor *m;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->buf = malloc(RTNL_RECV_SIZE);
	m->fd = m->buf ? monitor_socket() : -ENOMEM;
	if (m->fd < 0) {
		int r = m->fd;

		rtnl_monitor_close(m);
		return r;
	}
	*ret = m;
	return 0;
}

int rtnl_monitor_fd(const struct rtnl_monitor *m)
{
	return m ? m->fd : -EBADF;
}

int rtnl_monitor_watch_fdb(struct rtnl_monitor *m, rtnl_fdb_event_cb cb)
{
	int group = RTNLGRP_NEIGH;

	if (setsockopt(m->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
		return -errno;
	m->fdb_cb = cb;
	return 0;
}

struct rtnl_monitor *rtnl_monitor_close(struct rtnl_monitor *m)
{
	if (!m)
		return NULL;
	if (m->fd >= 0)
		close(m->fd);
	free(m->buf);
	free(m);
	return NULL;
}

/*
 * One datagram into m->buf: its length; 0 for one to ignore (not from the
 * kernel); -EAGAIN when drained; -ENOBUFS when the kernel dropped events;
 * -EMSGSIZE for a truncated one; other -errno.
 */
static ssize_t monitor_recv(struct rtnl_monitor *m)
{
	struct sockaddr_nl sa;
	struct iovec iov = { .iov_base = m->buf, .iov_len = RTNL_RECV_SIZE };
	struct msghdr msg = {
		.msg_name = &sa, .msg_namelen = sizeof(sa),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	ssize_t n;

	do
		n = recvmsg(m->fd, &msg, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if (msg.msg_namelen != sizeof(sa) || sa.nl_pid != 0)
		return 0;
	return n;
}

/* 1 with a link event in l, 0 for another message, -EPROTO. */
static int monitor_parse(const struct nlmsghdr *nlh, struct rtnl_link *l)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return 0;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return -EPROTO;
	/*
	 * AF_BRIDGE ones are the bridge's port notifications (its
	 * RTM_DELLINK is a port leaving, not a link going away).
	 */
	if (ifi->ifi_family != AF_UNSPEC)
		return 0;
	return link_parse(nlh, l);
}

/*
 * The events of one datagram (the kernel sends each notification in a
 * datagram of its own).  One that cannot be parsed is an event lost.
 */
static int monitor_dispatch(const struct rtnl_monitor *m, const char *buf, int len,
			    rtnl_monitor_cb cb, void *data, bool *lost)
{
	const struct nlmsghdr *nlh;
	struct rtnl_link l;
	struct rtnl_fdb f;
	int r;

	for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
	     nlh = mnl_nlmsg_next(nlh, &len)) {
		if (nlh->nlmsg_type == RTM_NEWNEIGH || nlh->nlmsg_type == RTM_DELNEIGH) {
			bool del = nlh->nlmsg_type == RTM_DELNEIGH;

			if (!m->fdb_cb)
				continue;
			r = fdb_parse(nlh, &f);
			if (r < 0) {
				*lost = true;
				return 0;
			}
			if (r > 0 && (r = m->fdb_cb(&f, del, data)) < 0)
				return r;
			continue;
		}
		r = monitor_parse(nlh, &l);
		if (r < 0) {
			*lost = true;
			return 0;
		}
		if (r == 0)
			continue;
		r = cb(&l, nlh->nlmsg_type == RTM_DELLINK, data);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Once events are lost, the rest of the queue is older than the resync the
 * caller is about to do: it is read and dropped, so the socket is left
 * empty and the next events are newer than that resync.
 */
int rtnl_monitor_read(struct rtnl_monitor *m, rtnl_monitor_cb cb, void *data)
{
	bool lost = false;
	ssize_t n;
	int r;

	if (!m || !cb)
		return -EINVAL;
	for (;;) {
		n = monitor_recv(m);
		if (n == -EAGAIN)
			break;
		if (n == -ENOBUFS || n == -EMSGSIZE) {
			lost = true;
			continue;
		}
		if (n < 0)
			return lost ? -ENOBUFS : (int)n;
		if (n == 0 || lost)
			continue;
		r = monitor_dispatch(m, m->buf, (int)n, cb, data, &lost);
		if (r < 0)
			return r;
	}
	return lost ? -ENOBUFS : 0;
}
