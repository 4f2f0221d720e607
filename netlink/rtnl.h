/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rtnl: the small slice of rtnetlink netd needs, over libmnl.
 *
 * Every call is synchronous: one request, one acknowledgement (or one dump),
 * on one NETLINK_ROUTE socket with NETLINK_EXT_ACK on.  Functions return 0 or
 * a negative errno; when the kernel attached an extended-ack message to a
 * failure, rtnl_errmsg() returns it until the next call.  The library never
 * logs.
 *
 * "Create" calls are idempotent: asking for what already exists (a bridge of
 * that name, an address already on the link) succeeds.
 */
#ifndef NETD_RTNL_H
#define NETD_RTNL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <net/if.h>
#include <netinet/in.h>

struct rtnl;

struct rtnl_link {
	int ifindex;
	char name[IF_NAMESIZE];
	char kind[16];		/* IFLA_INFO_KIND: "bridge", "tun", "veth", "" */
	char alias[128];	/* IFLA_IFALIAS, "" when unset */
	int master;		/* ifindex of the bridge it is enslaved to, 0 if none */
	unsigned int mtu;
	unsigned int group;
	bool up;		/* IFF_UP is set */
	uint8_t mac[6];
};

struct rtnl_addr {
	int ifindex;
	int family;		/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	uint8_t prefixlen;
};

struct rtnl_route {
	int family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} dst;
	uint8_t dst_len;	/* 0 for a default route */
	int oif;		/* 0 when the route has none (e.g. multipath) */
	uint8_t table;
	uint8_t type;		/* RTN_UNICAST, RTN_LOCAL, ... */
};

/* A bridge forwarding database entry (what the bridge learned on a port). */
struct rtnl_fdb {
	int ifindex;		/* the port */
	int master;		/* the bridge */
	uint16_t state;		/* NUD_PERMANENT: the port's own address */
	uint8_t flags;		/* NTF_SELF, NTF_MASTER, ... */
	uint8_t mac[6];
};

typedef int (*rtnl_link_cb)(const struct rtnl_link *link, void *data);
typedef int (*rtnl_fdb_cb)(const struct rtnl_fdb *fdb, void *data);
typedef int (*rtnl_addr_cb)(const struct rtnl_addr *addr, void *data);
typedef int (*rtnl_route_cb)(const struct rtnl_route *route, void *data);

int rtnl_open(struct rtnl **ret);
struct rtnl *rtnl_close(struct rtnl *rt);	/* NULL-safe, returns NULL */
const char *rtnl_errmsg(const struct rtnl *rt);	/* "" when there is none */

/* Lookups: -ENODEV when no link has that name/index. */
int rtnl_link_get(struct rtnl *rt, const char *name, struct rtnl_link *ret);
int rtnl_link_get_by_index(struct rtnl *rt, int ifindex, struct rtnl_link *ret);

/*
 * Dumps: the callback runs once per object; a negative return stops the dump
 * and is returned.  Only main-table unicast routes are reported by
 * rtnl_route_dump (what can overlap a subnet we would add).  The whole dump
 * is read before the first callback, so callbacks see one consistent
 * snapshot and may call other rtnl functions; -EAGAIN when the kernel kept
 * interrupting the dump (NLM_F_DUMP_INTR) through every retry.
 */
int rtnl_link_dump(struct rtnl *rt, rtnl_link_cb cb, void *data);
int rtnl_addr_dump(struct rtnl *rt, int family, rtnl_addr_cb cb, void *data);
/* The addresses of one link (both families), without dumping the others. */
int rtnl_addr_dump_link(struct rtnl *rt, int ifindex, rtnl_addr_cb cb, void *data);
int rtnl_route_dump(struct rtnl *rt, int family, rtnl_route_cb cb, void *data);
/* Every bridge FDB entry (AF_BRIDGE neighbours) of the namespace. */
int rtnl_fdb_dump(struct rtnl *rt, rtnl_fdb_cb cb, void *data);

struct rtnl_bridge_opts {
	unsigned int mtu;	/* 0: kernel default */
	const uint8_t *mac;	/* NULL: kernel chooses; otherwise fixed, so it
				 * does not change as ports join and leave */
	const char *alias;	/* IFLA_IFALIAS marker, NULL for none */
	unsigned int group;	/* IFLA_GROUP, 0 for the default group */
	bool no_ipv6;		/* a new bridge gets IPv6 off before it goes up
				 * (rtnl_link_set_ipv6) */
};

/*
 * Create a bridge with STP off and forward delay 0, and bring it up.  An
 * existing link of that name succeeds when it is a bridge (its ifindex is
 * returned and nothing is changed) and fails with -EEXIST otherwise.
 */
int rtnl_bridge_create(struct rtnl *rt, const char *name,
		       const struct rtnl_bridge_opts *opts, int *ret_ifindex);

int rtnl_link_delete(struct rtnl *rt, int ifindex);	/* -ENODEV is not an error: 0 */
/* Delete every link of group (not 0) in one request; none is not an error. */
int rtnl_link_delete_group(struct rtnl *rt, unsigned int group);
int rtnl_link_set_up(struct rtnl *rt, int ifindex, bool up);
int rtnl_link_set_mtu(struct rtnl *rt, int ifindex, unsigned int mtu);
/* IFLA_GROUP; 0 is the default group. */
int rtnl_link_set_group(struct rtnl *rt, int ifindex, unsigned int group);
/* Enslave to master (a bridge), 0 to release; also sets the link up. */
int rtnl_link_set_master(struct rtnl *rt, int ifindex, int master);

/*
 * Set up (or detach) a VM port in ONE RTM_SETLINK request.  The port ends
 * up with master as its master: enslaved to it, or with none when it is 0
 * (released if it had one).  Of mtu, alias, group and up, what is 0, NULL
 * or false is left as it is (this never takes a port down).  The kernel
 * applies them in the order mtu, group, alias, up, master and does not roll
 * back: when one fails, those before it stay applied.  A master that does
 * not exist gives -EINVAL after the port has left its current bridge.
 */
struct rtnl_port_opts {
	int master;		/* bridge ifindex to enslave to, 0: none */
	unsigned int mtu;	/* 0: leave */
	const char *alias;	/* NULL: leave; "": clear */
	unsigned int group;	/* 0: leave */
	bool up;		/* set IFF_UP; false: leave the flag */
};
int rtnl_port_setup(struct rtnl *rt, int ifindex, const struct rtnl_port_opts *o);

/*
 * Address add succeeds when the address is already there; del when it is
 * not, or when the link is gone (-ENODEV).
 */
int rtnl_addr_add(struct rtnl *rt, const struct rtnl_addr *addr);
int rtnl_addr_del(struct rtnl *rt, const struct rtnl_addr *addr);

/*
 * TAP devices (ioctls on /dev/net/tun, then at most one rtnetlink request).
 * name may be NULL or "" (the kernel picks one from the pattern
 * "netd-t%d").  With persist, the device outlives the returned fd and
 * belongs to owner (uid, -1 for none).  vnet_hdr asks for IFF_VNET_HDR;
 * queues > 1 asks for IFF_MULTI_QUEUE and returns `queues` fds.
 *
 * When any of alias, group, master, mtu is set, they are applied together
 * with IFF_UP by the single request of rtnl_port_setup; otherwise no
 * request is sent and the TAP stays down.  A failure of that request
 * (e.g. no such master) fails the whole call.
 *
 * The created name is copied to ret_name (IF_NAMESIZE bytes) and its
 * ifindex to *ret_ifindex; either may be NULL.  Returns 0 or -errno; on
 * failure the fds are closed (set to -1) and no device is left behind.
 */
struct rtnl_tap_opts {
	const char *name;
	bool vnet_hdr;
	bool persist;
	uid_t owner;		/* (uid_t)-1: no owner */
	unsigned int queues;	/* 0 or 1: one fd */
	const uint8_t *mac;	/* NULL: kernel chooses */
	const char *alias;	/* IFLA_IFALIAS, NULL: not set */
	unsigned int group;	/* IFLA_GROUP, 0: not set */
	int master;		/* bridge ifindex to enslave to, 0: not set */
	unsigned int mtu;	/* 0: not set */
	/* IPv6 off on the TAP before it goes up: a bridge port needs no
	 * address of its own, and each IPv6 device the kernel brings up adds
	 * routes (ff00::/8, fe80::/64) that every later link change walks. */
	bool no_ipv6;
};
/*
 * IPv6 on or off on a link (net.ipv6.conf.NAME.disable_ipv6; no rtnetlink
 * attribute sets it).  Off before the link goes up, the kernel gives it no
 * address and no route (fe80::/64, ff00::/8) at all.  0 when the kernel
 * has no IPv6.
 */
int rtnl_link_set_ipv6(const char *name, bool on);

int rtnl_tap_create(struct rtnl *rt, const struct rtnl_tap_opts *opts,
		    int *ret_fds, char *ret_name, int *ret_ifindex);

/*
 * Link events for an event loop: a nonblocking NETLINK_ROUTE socket in
 * RTNLGRP_LINK with a large receive buffer.  Poll rtnl_monitor_fd() for
 * input and call rtnl_monitor_read(), which drains everything queued and
 * runs cb once per RTM_NEWLINK (removed false) and RTM_DELLINK (removed
 * true) of the namespace, with the parsed link.  (The bridge's own
 * AF_BRIDGE port notifications are not reported: they are not link
 * creations or removals.)
 *
 * rtnl_monitor_read returns 0 once the socket is drained; -ENOBUFS when
 * events were lost (the kernel dropped some for lack of buffer, or one
 * could not be read): the rest of the queue is then discarded too and the
 * caller must resync with rtnl_link_dump.  A negative cb return stops the
 * read and is returned; later events stay queued.  cb must not close m.
 */
struct rtnl_monitor;
typedef int (*rtnl_monitor_cb)(const struct rtnl_link *link, bool removed,
			       void *data);

int rtnl_monitor_open(struct rtnl_monitor **ret);
int rtnl_monitor_fd(const struct rtnl_monitor *m);
int rtnl_monitor_read(struct rtnl_monitor *m, rtnl_monitor_cb cb, void *data);
struct rtnl_monitor *rtnl_monitor_close(struct rtnl_monitor *m);
/*
 * Also report bridge FDB changes (RTNLGRP_NEIGH, AF_BRIDGE entries only) to
 * cb from rtnl_monitor_read(): a MAC learned on, or forgotten from, a port.
 */
typedef int (*rtnl_fdb_event_cb)(const struct rtnl_fdb *fdb, bool removed, void *data);
int rtnl_monitor_watch_fdb(struct rtnl_monitor *m, rtnl_fdb_event_cb cb);	/* NULL-safe */

#endif
