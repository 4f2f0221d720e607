/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest ports: TAPs netd made for a launcher (open: the launcher holds the
 * only fd; persistent: owned by a user, opened by name later) and links
 * someone else made that netd attached to a bridge.
 *
 * The port table is a hash by ifindex.  It is kept true by the kernel's
 * link events: a port whose link disappears (VM exited, deleted by hand) or
 * leaves its bridge is dropped.  What a port is (network, owner, kind,
 * guest MAC) is written in the link's alias, so a restarted netd rebuilds
 * the table from one link dump.
 */
#ifndef NETD_PORTS_H
#define NETD_PORTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <net/if.h>
#include <netinet/in.h>

#include <json-c/json.h>

#include "netd/config.h"

struct netd;
struct network;
struct rtnl_link;

enum port_kind {
	PORT_OPEN,		/* port.open: lives while the launcher holds its fd */
	PORT_PERSISTENT,	/* port.create: a persistent TAP owned by a user */
	PORT_ATTACHED,		/* port.attach: someone else's link */
};

struct port {
	struct port *next;	/* hash chain */
	struct port *mac_next;	/* chain by MAC, when given by the launcher */
	int ifindex;
	char ifname[IF_NAMESIZE];
	char network[NET_NAME_MAX + 1];
	uid_t owner;
	enum port_kind kind;
	uint8_t mac[6];		/* the guest's MAC, when given */
	bool has_mac;
	bool mac_learned;	/* from the bridge's FDB, not given by the launcher */
	bool up;		/* IFF_UP */
	/* what table bridge netd holds for it (guard.c) */
	bool guarded;
	bool guard_has_ip4;
	uint8_t guard_mac[6];
	struct in_addr guard_ip4;
};

const char *port_kind_to_string(enum port_kind k);

/* Alias text <-> port description (pure; see netd.h for the format). */
int port_alias_format(char *buf, size_t len, const struct port *p);
int port_alias_parse(const char *alias, struct port *ret);

struct port *port_find(struct netd *d, int ifindex);
/* Insert a copy of p; returns the stored port. */
struct port *port_add(struct netd *d, const struct port *p);
/* Drop from the table (and tell subscribers); does not touch the kernel.
 * Logs "port IFNAME removed: why"; why NULL: the caller logs for many. */
void port_forget(struct netd *d, struct port *p, const char *why);
size_t ports_of_user(struct netd *d, uid_t uid);
/* The port of network whose launcher gave it mac (not a learned one). */
struct port *port_find_guest_mac(struct netd *d, const char *network, const uint8_t *mac);

/* Delete (netd's TAPs) or release (attached links) a port, then forget it. */
int port_remove(struct netd *d, struct port *p);
/* Remove every port of a network (network.stop). */
/* Returns how many TAPs went to the reaper (the bridge must follow them). */
size_t ports_remove_network(struct netd *d, const char *network);

/* Start-up: rebuild the table from the kernel; open the link monitor. */
int ports_init(struct netd *d);
void ports_monitor_event(struct netd *d);
void ports_free(struct netd *d);

json_object *port_to_json(struct netd *d, const struct port *p);
/* Fill in guest MACs nobody told us from the bridges' FDB (one dump). */
void ports_learn_macs(struct netd *d);

/* guard.c: per-port protection in table bridge netd */
int guard_sync_all(struct netd *d);
void guard_port(struct netd *d, struct port *p);
void guard_forget(struct netd *d, struct port *p);
void guard_forget_network(struct netd *d, const char *network);	/* its ports, one batch */
void guard_network(struct netd *d, const char *network);

/* Iterate: for (p = ports_first(d, &i); p; p = ports_next(d, p, &i)) */
struct port *ports_first(struct netd *d, size_t *iter);
struct port *ports_next(struct netd *d, struct port *p, size_t *iter);

#endif
