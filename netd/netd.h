/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's state.  One `struct netd` owns the netlink and nftables
 * handles, the epoll loop and the list of networks.  Each `struct network`
 * pairs a configuration with what netd made of it in the kernel (bridge
 * ifindex) and its dnsmasq.
 */
#ifndef NETD_NETD_H
#define NETD_NETD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <json-c/json.h>

#include "dhcp/dhcp.h"
#include "netd/config.h"

/*
 * Interface aliases carry what netd knows about its links, so a restarted
 * netd and --cleanup find everything again without a state file:
 *   bridge:        "netd:NET"
 *   TAP netd made: "netd:NET:port:UID:KIND[:MAC]"   (--cleanup deletes it)
 *   attached link: "netd-attach:NET:UID[:MAC]"      (--cleanup releases it)
 */
#define NETD_ALIAS_PREFIX "netd:"
#define NETD_ATTACH_PREFIX "netd-attach:"
/* Link group of the TAPs netd makes. */
#define NETD_PORT_GROUP 0x6e6564u
/* TAPs netd names: netd-tN.  netd picks N itself (counting on from the
 * highest it knows): the kernel's netd-t%d scans every link of the host. */
#define NETD_TAP_PREFIX "netd-t"
#define NETD_TAP_MAX 1000000u

struct netd;
struct rtnl_link;

/* What an epoll event belongs to. */
enum source_kind {
	SOURCE_SIGNAL,
	SOURCE_DNSMASQ,		/* a dnsmasq's pidfd */
	SOURCE_TIMER,		/* restart backoff timer */
	SOURCE_INOTIFY,		/* RUN_DIR/dnsmasq: pid files written */
	SOURCE_CONTROL,		/* the listening control socket */
	SOURCE_CLIENT,		/* a control connection */
	SOURCE_MONITOR,		/* rtnetlink link events */
	SOURCE_LEASES,		/* inotify on STATE_DIR: lease files changed */
	SOURCE_FWMON,		/* nftables events: someone touched our tables */
	SOURCE_REAPER,		/* the reaper's eventfd: deletions that failed */
};

struct source {
	enum source_kind kind;
	void *ptr;
};

enum dnsmasq_state {
	DNSMASQ_NONE,		/* not needed, or not started */
	DNSMASQ_STARTING,	/* spawned, pid file not yet written */
	DNSMASQ_RUNNING,
	DNSMASQ_BACKOFF,	/* exited; restart scheduled */
};

struct dhcp_lease;
struct port;
struct client;
struct rtnl;

/* Addresses of the namespace from one dump. */
struct addr_snapshot {
	struct rtnl_addr *a;
	size_t n, cap;
};
int addr_snapshot_take(struct rtnl *rt, struct addr_snapshot *s);
void addr_snapshot_free(struct addr_snapshot *s);

struct network {
	struct netd *netd;
	struct net_config *cfg;
	bool running;
	bool dirty;		/* new or changed: start_networks() applies it */
	bool keep;		/* scratch flag of apply_config() */
	int ifindex;		/* the bridge */
	unsigned int mtu;	/* the bridge's, given to ports */

	struct dhcp_paths paths;
	enum dnsmasq_state dm_state;
	pid_t dm_pid;
	int dm_pidfd;		/* -1 when none */
	bool dm_child;		/* ours to reap (not adopted) */
	struct source dm_source;
	unsigned int dm_failures;	/* consecutive quick exits */
	uint64_t dm_started_ms;
	uint64_t dm_restart_at_ms;	/* when in DNSMASQ_BACKOFF */
	bool taps_reaping;	/* its TAPs went to the reaper: so does its bridge */
	char dm_error[256];	/* last failure, for show/status */

	struct dhcp_lease *leases;	/* as last read from the lease file */
	size_t n_leases;
	size_t n_ports;
};

struct netd {
	const char *config_dir, *state_dir, *run_dir, *dnsmasq_bin;
	char *run_dir_abs, *state_dir_abs;
	struct rtnl *rt;
	struct fw *fw;
	int epfd, sigfd, timerfd, inofd, lockfd;
	struct source sig_source, timer_source, ino_source;
	bool quit;
	bool reload;		/* SIGHUP seen: reload after this dispatch */
	bool ready;		/* netd.pid written */
	uint64_t ready_deadline_ms;

	struct network **nets;
	struct network **net_by_name, **net_by_bridge;	/* hash tables (netd.c) */
	size_t net_index_cap;
	size_t n_nets;

	/* control socket */
	int ctlfd;
	struct source ctl_source;
	struct client *clients;
	size_t n_clients;
	size_t n_subscribed;	/* clients that asked for events */
	bool dead_clients;
	bool pending_clients;	/* some client has buffered requests */
	time_t started;

	/* ports, by ifindex */
	struct port **port_buckets;
	size_t n_port_buckets, n_ports;
	struct port **mac_buckets;	/* launcher-given MACs, n_port_buckets too */
	struct user_ports *user_ports;	/* ports per owner */
	size_t n_user_ports;
	unsigned int next_tap;		/* N of the next netd-tN tried (ops.c) */
	struct rtnl_monitor *mon;
	struct source mon_source;
	int leasefd;		/* inotify on STATE_DIR */
	struct source lease_source;
	struct addr_snapshot *addr_snap;	/* during start_networks() only */
	struct reaper *reaper;
	struct fw_monitor *fwmon;
	struct source fwmon_source;
	unsigned int fw_repairs;	/* times the ruleset was put back */
	const char *resolv_conf;	/* upstream DNS servers come from here */
	int resolv_wd[2];		/* inotify: its directory, its target's */
	char resolv_name[2][256];	/* the names watched in those directories */
	bool adopting;			/* start-up: look for orphaned dnsmasqs */
	bool guard_deferred;		/* a guard_sync_all() follows: guard_port() waits */
	size_t n_guarded;		/* ports with p->guarded: table bridge netd exists
					 * only while there is one */
	struct source reaper_source;
	/* port.detach requests waiting for the reaper (ports.c) */
	struct detach_wait *detaches;
	size_t n_detaches, cap_detaches;
};

uint64_t now_ms(void);

/* FNV-1a: the hash of netd's own tables (networks by name, ports by MAC). */
static inline uint32_t netd_hash(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/*
 * Fault injection for the adoption tests: with NETD_CRASH_AT=NAME in the
 * environment, netd kills itself with SIGKILL when it reaches point NAME
 * (a half-made change, as a crash or power cut would leave it).
 */
void crashpoint(const char *name);

/* network.c */
struct network *network_new(struct netd *d, struct net_config *cfg);
struct network *network_free(struct network *n);	/* no teardown */
int network_setup_links(struct network *n);	/* bridge, MTU, addresses */
/* A link event or dump entry: a running network's bridge put in another
 * link group (by hand, a network manager) is put back in its own. */
void network_bridge_seen(struct netd *d, const struct rtnl_link *l);
int network_start_dnsmasq(struct network *n);
void network_stop_dnsmasq(struct network *n);
int network_teardown(struct network *n);	/* bridge, dnsmasq, files */
void network_dnsmasq_exited(struct network *n);
void network_dnsmasq_pidfile(struct network *n);
bool network_needs_dnsmasq(const struct network *n);
void network_bridge_mac(const char *name, uint8_t mac[6]);

void netd_index_networks(struct netd *d);	/* after d->nets changed */
struct network *netd_find_network(struct netd *d, const char *name);
struct network *netd_find_network_by_bridge(struct netd *d, const char *bridge);
/* By network name, or by bridge device name (for QEMU's br=). */
struct network *netd_find_network_or_bridge(struct netd *d, const char *name);
int network_start(struct network *n);	/* links + firewall + dnsmasq */
int network_stop(struct network *n);	/* full teardown, ports included */

/* ops.c: a lease as the control protocol shows it */
json_object *lease_to_json(const struct network *n, const struct dhcp_lease *l);

/* leasewatch.c */
void network_read_leases(struct network *n, bool announce);
void network_expire_leases(struct network *n);
time_t leases_next_expiry(struct netd *d);
int leases_init(struct netd *d);
void leases_event(struct netd *d);

/* netd.c */
int netd_reload(struct netd *d, json_object *outcome);
int netd_firewall_sync(struct netd *d);
/* The link group of the network's bridge, by its mode (fw_bridge_group()). */
unsigned int netd_bridge_group(const struct net_config *c);
int netd_watch(struct netd *d, int fd, struct source *src);
void netd_unwatch(struct netd *d, int fd);
void netd_arm_timer(struct netd *d);

/* upstream.c: the servers-file every dnsmasq reads, from resolv.conf */
struct inotify_event;
int upstream_init(struct netd *d);
/* An event on the loop's inotify fd: true if it was upstream's to handle. */
bool upstream_event(struct netd *d, const struct inotify_event *ev);

/* host.c: what the kernel has, for validation and adoption */
int host_view_read(struct rtnl *rt, struct host_view *ret);
void host_view_free(struct host_view *h);

/* reaper.c: link deletion off the event loop */
struct reaper;
int reaper_start(struct reaper **ret);
void reaper_delete(struct reaper *r, struct rtnl *rt, const int *ifindexes, size_t n);
struct reaper *reaper_stop(struct reaper *r);	/* finishes the queue first */
/* A stopped network's bridge, deleted after the TAPs queued before it. */
void reaper_delete_bridge(struct reaper *r, struct rtnl *rt, int ifindex);
/* If bridge ifindex is queued or being deleted, wait until it is gone and
 * return true; false at once otherwise. */
bool reaper_wait_bridge(struct reaper *r, int ifindex);
/* The loop polls reaper_fd(); reaper_collect() reports the links not deleted. */
typedef void (*reaper_fail_cb)(int ifindex, int err, void *data);
int reaper_fd(const struct reaper *r);
void reaper_collect(struct reaper *r, reaper_fail_cb cb, void *data);
/* Delete now, a chunk of links per group delete (--cleanup: netd's TAPs). */
void reaper_delete_now(struct rtnl *rt, const int *ifindexes, size_t n, reaper_fail_cb fail,
		       void *data);
/*
 * ports.c: port.detach of a TAP netd made forgets the port at once and
 * replies once the reaper deleted the link (its RTM_DELLINK), or failed to.
 */
int port_detach_deferred(struct netd *d, struct port *p, struct client *c, json_object *id);
/* Join a detach under way of ifindex: -ENOENT none, -EPERM not the owner's. */
int port_detach_join(struct netd *d, int ifindex, struct client *c, json_object *id,
		     uid_t *ret_owner);
void ports_reaper_event(struct netd *d);
void ports_client_gone(struct netd *d, struct client *c);	/* before it is freed */

/* cleanup.c */
int netd_cleanup(const char *run_dir, const char *state_dir);
int sysctl_forwarding_enable(const char *state_dir, bool v6);
int sysctl_forwarding_restore(const char *state_dir);
int kill_and_wait(pid_t pid, int timeout_ms);

#endif
