/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fw: netd's nftables ruleset, built with libnftnl and committed in one
 * atomic batch per change.  Everything lives in `table inet netd`; no other
 * table is ever read or written.
 *
 * The caller describes the networks that should be live; fw_sync() replaces
 * the whole table with the ruleset for exactly those networks in a single
 * transaction (add table; delete table; add table and its content), so a
 * packet sees either the old ruleset or the new one, never a mix.  That
 * batch grows with the number of networks: it is for start-up and repair.
 * Starting, stopping or changing one network goes through
 * fw_network_add(), fw_network_del() and fw_network_update().
 *
 * The rules are fixed; a network is elements of hash sets and maps keyed
 * by its name, bridge, subnets (masked to their prefix length, one set per
 * length in use) and forwarded ports.  A packet's path costs one hash
 * lookup per question asked of it, whatever the number of networks, and
 * the batch of one network holds that network's elements only: no chain,
 * rule or jump, so the kernel does not validate the table again and the
 * commit costs the same with 1 or 10,000 networks in the table.
 *
 * Guest ports of netd bridges are protected against spoofing in a second
 * table, `table bridge netd` (fw_guard_sync(), fw_guard_set()): a fixed
 * ruleset whose sets are keyed by port name, so ports come and go as set
 * elements and a packet's cost does not depend on the number of ports.
 *
 * Returns 0 or a negative errno; fw_errmsg() carries the kernel's extended
 * ack text (or a description of which object failed) until the next call.
 * The library never logs.
 */
#ifndef NETD_FW_H
#define NETD_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define FW_TABLE "netd"

/*
 * The link group (IFLA_GROUP, `ip link set BRIDGE group 0x6e6562`) every
 * network's bridge must be in: FW_ISOLATED_GROUP for an isolated network,
 * FW_BRIDGE_GROUP for the others (fw_bridge_group()).  The forward chain
 * tells netd's bridges, and the isolated ones, from other links by it: a
 * compare of the packet's device group, where a lookup of its name in a
 * hash set cost 2-3% of the CPU of a forwarded TCP stream.  A link of
 * another kind put in one of these groups is treated as a bridge without
 * a network: what comes in through it is dropped (what is routed to it
 * is treated as going to a guest).  A network's mode is fixed for the
 * life of its bridge (netd rebuilds a network whose mode changes), and
 * netd puts a bridge moved to another group back in its own.
 */
#define FW_BRIDGE_GROUP 0x6e6562u
#define FW_ISOLATED_GROUP 0x6e6563u
/* Both groups: (group & FW_GROUP_MASK) == FW_BRIDGE_GROUP */
#define FW_GROUP_MASK 0xfffffffeu

enum fw_mode {
	FW_MODE_NAT,
	FW_MODE_ROUTED,
	FW_MODE_ISOLATED,
};

static inline unsigned int fw_bridge_group(enum fw_mode mode)
{
	return mode == FW_MODE_ISOLATED ? FW_ISOLATED_GROUP : FW_BRIDGE_GROUP;
}

struct fw_prefix {
	int family;		/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} host;			/* the host's own address on the bridge */
	uint8_t len;		/* prefix length of the subnet */
};

struct fw_forward {
	uint8_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t host_port;
	int family;		/* family of guest: AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} guest;
	uint16_t guest_port;
};

struct fw_network {
	const char *name;	/* network name (map networks) */
	const char *bridge;	/* bridge ifname */
	enum fw_mode mode;
	const char *uplink;	/* NULL or "": any interface */
	const struct fw_prefix *prefixes;
	size_t n_prefixes;
	const struct fw_forward *forwards;	/* honoured in nat mode */
	size_t n_forwards;
};

/* A guest port under protection: it may send only from mac, and IPv4 only
 * from ip4 once that is known (has_ip4); before that only DHCP requests
 * from 0.0.0.0 and ARP probes.  IPv6 only from the prefixes given to
 * fw_guard_sync() and link-local/unspecified addresses.  Never DHCP or
 * DHCPv6 server traffic, IPv6 router advertisements or redirects, or
 * VLAN-tagged frames. */
struct fw_guard {
	const char *ifname;	/* the bridge port (TAP), 1 to 15 characters */
	uint8_t mac[6];		/* unicast, not all zero */
	bool has_ip4;
	struct in_addr ip4;	/* when has_ip4: a unicast address */
};

struct fw;

int fw_open(struct fw **ret);
struct fw *fw_close(struct fw *fw);	/* NULL-safe, returns NULL */
const char *fw_errmsg(const struct fw *fw);	/* "" when there is none */

/* Replace table inet netd with the ruleset for these networks, atomically. */
int fw_sync(struct fw *fw, const struct fw_network *nets, size_t n);

/* Add one network (its set and map elements) to the existing table in
 * ONE batch, touching nothing else.  -ENOENT when table inet netd is
 * missing (caller does a full fw_sync).  -EEXIST when a network of this
 * name is in the table already (caller: fw_network_del first, or
 * fw_sync).
 * The checks across networks that fw_sync() makes are the kernel's here:
 * every element is added exclusively, so a bridge another network uses,
 * a nat subnet another network has or a port another network forwards
 * fails with -EEXIST as well, fw_errmsg() naming the element
 * ("elements of dnat (part 1), element tcp . 8080: File exists (another
 * network forwards this port)"), and nothing changes.  A nat subnet that
 * overlaps another network's without being equal to it is not seen (the
 * sets are hashes, not intervals); fw_sync() refuses it.
 * A prefix length that no network in the table has needs the sets and
 * rule of that length: the kernel then refuses the batch, and a second
 * one adds them along with the network (that one makes the kernel check
 * the whole table, once per new length). */
int fw_network_add(struct fw *fw, const struct fw_network *net);

/* Remove one network's elements in ONE batch, nothing else.  Absent is
 * fine (0), wholly or in part, and so is a missing table.  Elements are
 * deleted by key, as net describes them: pass the network as it was added
 * (or last updated); those that belong to another network (a bridge or
 * nat subnet of another one) make it fail rather than go.  The sets of a
 * prefix length stay, empty, when their last network goes, until the
 * next fw_sync(). */
int fw_network_del(struct fw *fw, const struct fw_network *net);

/* Replace one network's elements atomically in one batch (del + add),
 * e.g. when its addresses or forwards changed.  old is the network as it
 * was added; old and net may differ in anything, name and bridge
 * included.  Errors as for fw_network_add(); on error nothing changes. */
int fw_network_update(struct fw *fw, const struct fw_network *old,
		      const struct fw_network *net);

/* Delete table inet netd (and table bridge netd); absent tables are fine. */
int fw_remove(struct fw *fw);

/* 1 if table inet netd exists, 0 if not, negative errno on failure. */
int fw_table_exists(struct fw *fw);
/* The same for table bridge netd. */
int fw_guard_table_exists(struct fw *fw);

/* Replace table bridge netd, atomically (add; delete; add + content), with
 * guards for exactly these ports and these IPv6 prefixes allowed as
 * sources (their subnets; AF_INET entries are skipped, so a network's
 * prefix list can be passed as it is).  n may be 0: the table with empty
 * sets.  Two guards for one port: -EEXIST. */
int fw_guard_sync(struct fw *fw, const struct fw_guard *g, size_t n,
		  const struct fw_prefix *v6, size_t n_v6);

/* Change one port in one batch of element operations: old NULL adds new;
 * new NULL removes old; both replace old with new (e.g. its IPv4 became
 * known).  Removing elements that are not there is not an error.
 * -ENOENT: table bridge netd (or one of its sets) is missing; resync. */
int fw_guard_set(struct fw *fw, const struct fw_guard *old,
		 const struct fw_guard *new);

/* Remove n ports' guards in one batch (a network stopped); as
 * fw_guard_set(fw, &old[i], NULL) for each, but one commit. */
int fw_guard_remove(struct fw *fw, const struct fw_guard *old, size_t n);

/* Delete table bridge netd, if it exists: with no port to guard, its hook
 * would still cost every frame entering any bridge of the host. */
int fw_guard_clear(struct fw *fw);

/*
 * Watching the ruleset (fw-monitor.c).  fw_monitor_read() drains the
 * NFNLGRP_NFTABLES events queued on fw_monitor_fd() and returns 1 when a
 * transaction committed by another process touched a table named netd
 * (flush ruleset, delete table, an edit), 2 when events were lost (the
 * caller checks its tables are there), 0 otherwise.
 */
struct fw_monitor;
int fw_monitor_open(struct fw_monitor **ret);
int fw_monitor_fd(const struct fw_monitor *m);
int fw_monitor_read(struct fw_monitor *m);
struct fw_monitor *fw_monitor_close(struct fw_monitor *m);	/* NULL-safe */

/* A base chain of another table that drops by policy on a hook guests'
 * traffic takes: no accept of ours can override it. */
struct fw_foreign_chain {
	char family[8];		/* ip, ip6, inet, bridge */
	char table[64];
	char chain[64];
	char hook[16];		/* forward, input */
	int priority;
};
/* *ret is malloc'd (NULL when none).  Uses fw's socket. */
int fw_foreign_drops(struct fw *fw, struct fw_foreign_chain **ret, size_t *ret_n);

#endif
