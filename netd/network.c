/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One network: its bridge and addresses, its dnsmasq.
 *
 * Everything here is "make it so": a bridge or address that already exists
 * is kept as it is (same ifindex), a dnsmasq already serving the same
 * configuration is adopted rather than restarted.  That is what lets netd
 * exit and start again without a guest noticing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netd/log.h"
#include "netd/netd.h"
#include "netlink/rtnl.h"

/* dnsmasq restart backoff: 100 ms doubling to 30 s; a run of 30 s resets it. */
#define DM_BACKOFF_FIRST_MS 100
#define DM_BACKOFF_MAX_MS 30000
#define DM_STABLE_MS 30000

struct network *network_new(struct netd *d, struct net_config *cfg)
{
	struct network *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->netd = d;
	n->cfg = cfg;
	n->dm_pidfd = -1;
	n->dm_source.kind = SOURCE_DNSMASQ;
	n->dm_source.ptr = n;
	if (dhcp_paths(d->run_dir, d->state_dir, cfg->name, &n->paths) < 0) {
		free(n);
		return NULL;
	}
	return n;
}

static void dm_forget(struct network *n)
{
	if (n->dm_pidfd >= 0) {
		netd_unwatch(n->netd, n->dm_pidfd);
		close(n->dm_pidfd);
	}
	n->dm_pidfd = -1;
	n->dm_pid = 0;
	n->dm_child = false;
}

struct network *network_free(struct network *n)
{
	if (!n)
		return NULL;
	dm_forget(n);
	net_config_free(n->cfg);
	free(n->leases);
	free(n);
	return NULL;
}

bool network_needs_dnsmasq(const struct network *n)
{
	return n->cfg->mode != NET_MODE_BRIDGE && (n->cfg->dhcp || n->cfg->dns);
}

/*
 * A fixed, locally administered MAC per bridge name.  Without one the
 * bridge takes the lowest MAC of its ports and changes it as guests come
 * and go, which makes guests' ARP caches for the gateway go stale.
 */
void network_bridge_mac(const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x02;
	mac[1] = 0x6e;	/* 'n' */
	mac[2] = (uint8_t)(h >> 24);
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}


static bool configured(const struct net_config *c, const struct rtnl_addr *a)
{
	for (size_t i = 0; i < c->n_addrs; i++) {
		const struct ipprefix *p = &c->addrs[i];

		if (p->addr.family == a->family && p->len == a->prefixlen &&
		    memcmp(p->addr.a.b, &a->addr, a->family == AF_INET ? 4 : 16) == 0)
			return true;
	}
	return false;
}

static int collect_addr(const struct rtnl_addr *a, void *data)
{
	struct addr_snapshot *s = data;
	struct rtnl_addr *tmp;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		tmp = realloc(s->a, s->cap * sizeof(*tmp));
		if (!tmp)
			return -ENOMEM;
		s->a = tmp;
	}
	s->a[s->n++] = *a;
	return 0;
}

/* Every address of the namespace, from one dump (start-up reuses it for all networks). */
int addr_snapshot_take(struct rtnl *rt, struct addr_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	return rtnl_addr_dump(rt, AF_UNSPEC, collect_addr, s);
}

void addr_snapshot_free(struct addr_snapshot *s)
{
	free(s->a);
	memset(s, 0, sizeof(*s));
}

static bool link_local6(const struct rtnl_addr *a)
{
	return a->family == AF_INET6 && a->addr.v6.s6_addr[0] == 0xfe &&
	       (a->addr.v6.s6_addr[1] & 0xc0) == 0x80;
}

static bool present(const struct addr_snapshot *s, int ifindex, const struct ipprefix *p)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct rtnl_addr *a = &s->a[i];

		if (a->ifindex == ifindex && a->family == p->addr.family && a->prefixlen == p->len &&
		    memcmp(&a->addr, p->addr.a.b, a->family == AF_INET ? 4 : 16) == 0)
			return true;
	}
	return false;
}

/*
 * Add the configured addresses the bridge lacks; remove others an earlier
 * configuration left (the kernel's IPv6 link-local addresses stay).  Uses
 * the start-up snapshot when there is one, else one dump.
 */
static int sync_addresses(struct network *n)
{
	struct net_config *c = n->cfg;
	struct rtnl *rt = n->netd->rt;
	struct addr_snapshot own = { 0 }, *snap = n->netd->addr_snap;
	int r;

	if (!snap) {
		r = rtnl_addr_dump_link(rt, n->ifindex, collect_addr, &own);
		if (r < 0) {
			addr_snapshot_free(&own);
			return r;
		}
		snap = &own;
	}
	for (size_t i = 0; i < snap->n; i++) {
		const struct rtnl_addr *a = &snap->a[i];

		if (a->ifindex != n->ifindex || configured(c, a) || link_local6(a))
			continue;
		r = rtnl_addr_del(rt, a);
		if (r < 0)
			log_warn(c->name, "cannot remove old address from %s: %s, ignoring",
				 c->bridge, strerror(-r));
	}
	r = 0;
	for (size_t i = 0; i < c->n_addrs && r == 0; i++) {
		struct rtnl_addr a = {
			.ifindex = n->ifindex,
			.family = c->addrs[i].addr.family,
			.prefixlen = c->addrs[i].len,
		};
		char s[64];

		if (present(snap, n->ifindex, &c->addrs[i]))
			continue;
		memcpy(&a.addr, c->addrs[i].addr.a.b, a.family == AF_INET ? 4 : 16);
		r = rtnl_addr_add(rt, &a);
		if (r < 0)
			log_error(c->name, "cannot add %s/%u to %s: %s%s%s",
				  ipaddr_to_string(&c->addrs[i].addr, s, sizeof(s)), a.prefixlen,
				  c->bridge, strerror(-r), *rtnl_errmsg(rt) ? ": " : "",
				  rtnl_errmsg(rt));
	}
	addr_snapshot_free(&own);
	return r;
}

static bool has_ipv6(const struct net_config *c)
{
	for (size_t i = 0; i < c->n_addrs; i++)
		if (c->addrs[i].addr.family == AF_INET6)
			return true;
	return false;
}

void network_bridge_seen(struct netd *d, const struct rtnl_link *l)
{
	struct network *n;
	unsigned int want;
	int r;

	if (strcmp(l->kind, "bridge") != 0 || !(n = netd_find_network_by_bridge(d, l->name)) ||
	    !n->running || n->ifindex != l->ifindex || n->cfg->mode == NET_MODE_BRIDGE)
		return;
	want = netd_bridge_group(n->cfg);
	if (l->group == want)
		return;
	log_warn(n->cfg->name, "bridge %s was moved to link group %#x: putting it back in %#x "
		 "(netd's forward rules know its bridges by it)", l->name, l->group, want);
	r = rtnl_link_set_group(d->rt, l->ifindex, want);
	if (r < 0)
		log_error(n->cfg->name, "cannot put bridge %s back in link group %#x: %s", l->name,
			  want, *rtnl_errmsg(d->rt) ? rtnl_errmsg(d->rt) : strerror(-r));
}

int network_setup_links(struct network *n)
{
	struct net_config *c = n->cfg;
	struct rtnl *rt = n->netd->rt;
	struct rtnl_bridge_opts bo;
	struct rtnl_link link;
	char alias[64];
	uint8_t mac[6];
	int r;

	if (c->mode == NET_MODE_BRIDGE) {
		/* Not ours: only check it is there. */
		r = rtnl_link_get(rt, c->bridge, &link);
		if (r < 0) {
			log_error(c->name, "bridge %s does not exist: %s", c->bridge, strerror(-r));
			return r;
		}
		if (strcmp(link.kind, "bridge") != 0) {
			log_error(c->name, "%s is not a bridge", c->bridge);
			return -ENOTSUP;
		}
		n->ifindex = link.ifindex;
		n->mtu = link.mtu;
		return 0;
	}

	snprintf(alias, sizeof(alias), NETD_ALIAS_PREFIX "%s", c->name);
	network_bridge_mac(c->bridge, mac);
	bo = (struct rtnl_bridge_opts){ .mtu = c->mtu, .mac = mac, .alias = alias,
					.group = netd_bridge_group(c), .no_ipv6 = !has_ipv6(c) };
	r = rtnl_bridge_create(rt, c->bridge, &bo, &n->ifindex);
	/*
	 * A bridge of this name that the reaper is deleting (this network,
	 * stopped just before) is not one to adopt: wait for it to go, then
	 * make a new one.  Other networks' bridges do not hold this one up.
	 */
	if (r == 0 && reaper_wait_bridge(n->netd->reaper, n->ifindex))
		r = rtnl_bridge_create(rt, c->bridge, &bo, &n->ifindex);
	if (r < 0) {
		log_error(c->name, "cannot create bridge %s: %s%s%s", c->bridge, strerror(-r),
			  *rtnl_errmsg(rt) ? ": " : "", rtnl_errmsg(rt));
		return r;
	}
	crashpoint("bridge");
	r = rtnl_link_get_by_index(rt, n->ifindex, &link);
	if (r < 0)
		return r;
	if (!link.alias[0] && memcmp(link.mac, mac, 6) == 0) {
		/*
		 * Our MAC but no alias yet: netd died between creating the
		 * bridge and naming it (the kernel takes the alias only in a
		 * second request).  It is ours: finish the job.
		 */
		log_info(c->name, "bridge %s was left half-made: completing it", c->bridge);
		r = rtnl_port_setup(rt, n->ifindex, &(struct rtnl_port_opts){ .alias = alias,
									.mtu = c->mtu });
		if (r < 0)
			return r;
		snprintf(link.alias, sizeof(link.alias), "%s", alias);
	}
	if (strcmp(link.alias, alias) != 0) {
		log_error(c->name, "bridge %s exists but was not made by netd (alias '%s'); "
			  "not touching it", c->bridge, link.alias);
		return -EEXIST;
	}
	if (link.group != netd_bridge_group(c)) {
		/*
		 * The forward chain knows netd's bridges, and the isolated
		 * ones, by their link group: without it the bridge's traffic
		 * would pass unchecked.  A bridge made by an older netd, or
		 * changed by hand.
		 */
		log_info(c->name, "bridge %s: link group %#x -> %#x", c->bridge, link.group,
			 netd_bridge_group(c));
		r = rtnl_link_set_group(rt, n->ifindex, netd_bridge_group(c));
		if (r < 0) {
			log_error(c->name, "cannot put bridge %s in link group %#x: %s", c->bridge,
				  netd_bridge_group(c),
				  *rtnl_errmsg(rt) ? rtnl_errmsg(rt) : strerror(-r));
			return r;
		}
	}
	if (c->mtu && link.mtu != c->mtu) {
		r = rtnl_link_set_mtu(rt, n->ifindex, c->mtu);
		if (r < 0)
			log_warn(c->name, "cannot set MTU %u on %s: %s, ignoring", c->mtu, c->bridge,
				 *rtnl_errmsg(rt) ? rtnl_errmsg(rt) : strerror(-r));
	}
	/*
	 * IPv6 only where the network has an IPv6 address: a bridge of an
	 * IPv4-only network takes no fe80:: address and no routes, so the
	 * host's other dnsmasqs are not woken up by them (as libvirt does).
	 */
	r = rtnl_link_set_ipv6(c->bridge, has_ipv6(c));
	if (r < 0)
		log_warn(c->name, "cannot turn IPv6 %s on %s: %s, ignoring", has_ipv6(c) ? "on" : "off",
			 c->bridge, strerror(-r));
	if (!link.up) {
		r = rtnl_link_set_up(rt, n->ifindex, true);
		if (r < 0)
			return r;
	}
	n->mtu = c->mtu ? c->mtu : link.mtu;
	return sync_addresses(n);
}

/* dnsmasq */

static void fill_dhcp_network(const struct net_config *c, struct dhcp_network *dn,
			      struct dhcp_subnet *subnets, struct dhcp_reservation *res,
			      struct dhcp_record *recs)
{
	memset(dn, 0, sizeof(*dn));
	dn->name = c->name;
	dn->bridge = c->bridge;
	for (size_t i = 0; i < c->n_addrs; i++) {
		subnets[i].host.family = c->addrs[i].addr.family;
		memcpy(&subnets[i].host.a, c->addrs[i].addr.a.b, 16);
		subnets[i].prefixlen = c->addrs[i].len;
		if (c->addrs[i].addr.family == AF_INET && !dn->range_prefixlen)
			dn->range_prefixlen = c->addrs[i].len;
	}
	dn->subnets = subnets;
	dn->n_subnets = c->n_addrs;
	dn->dhcp = c->dhcp;
	dn->range_start.family = c->range_start.family;
	memcpy(&dn->range_start.a, c->range_start.a.b, 16);
	dn->range_end.family = c->range_end.family;
	memcpy(&dn->range_end.a, c->range_end.a.b, 16);
	dn->lease_time = c->lease_time;
	for (size_t i = 0; i < c->n_reservations; i++) {
		memcpy(res[i].mac, c->reservations[i].mac, 6);
		res[i].ip.family = c->reservations[i].ip.family;
		memcpy(&res[i].ip.a, c->reservations[i].ip.a.b, 16);
		res[i].hostname = c->reservations[i].hostname;
	}
	dn->reservations = res;
	dn->n_reservations = c->n_reservations;
	dn->dns = c->dns;
	dn->domain = c->domain;
	for (size_t i = 0; i < c->n_records; i++) {
		recs[i].name = c->records[i].name;
		recs[i].ip.family = c->records[i].ip.family;
		memcpy(&recs[i].ip.a, c->records[i].ip.a.b, 16);
	}
	dn->records = recs;
	dn->n_records = c->n_records;
}

static int write_dnsmasq_files(struct network *n, unsigned int *changed)
{
	struct net_config *c = n->cfg;
	struct dhcp_subnet subnets[NET_MAX_ADDRS];
	struct dhcp_reservation *res;
	struct dhcp_record *recs;
	struct dhcp_network dn;
	int r;

	res = calloc(c->n_reservations + 1, sizeof(*res));
	recs = calloc(c->n_records + 1, sizeof(*recs));
	if (!res || !recs) {
		free(res);
		free(recs);
		return -ENOMEM;
	}
	fill_dhcp_network(c, &dn, subnets, res, recs);
	r = dhcp_write_files(&dn, &n->paths, changed);
	free(res);
	free(recs);
	return r;
}

static void dm_quiet(struct network *n);

static int dm_track(struct network *n, pid_t pid, bool child)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0)
		return -errno;
	n->dm_pid = pid;
	n->dm_pidfd = fd;
	n->dm_child = child;
	return netd_watch(n->netd, fd, &n->dm_source);
}

/* Try again later: 100 ms doubling to 30 s. */
static void schedule_restart(struct network *n)
{
	uint64_t delay = DM_BACKOFF_FIRST_MS << (n->dm_failures < 10 ? n->dm_failures : 10);

	if (delay > DM_BACKOFF_MAX_MS)
		delay = DM_BACKOFF_MAX_MS;
	n->dm_failures++;
	n->dm_state = DNSMASQ_BACKOFF;
	n->dm_restart_at_ms = now_ms() + delay;
	log_info(n->cfg->name, "restarting dnsmasq in %llu ms", (unsigned long long)delay);
	netd_arm_timer(n->netd);
}

static int match_conf(pid_t pid, const char *conf, void *data)
{
	struct network *n = data;

	if (strcmp(conf, n->paths.conf) == 0 && !n->dm_pid)
		n->dm_pid = pid;
	return 0;
}

/*
 * Our dnsmasq, by its pid file, or else, at start-up, by its command line:
 * an earlier netd may have died after spawning it and before it wrote its
 * pid file.  Later, a network that is not running has no dnsmasq (netd
 * stops it with the network), so the scan of /proc, whose cost grows with
 * the number of processes, is skipped.
 */
static int find_dnsmasq(struct network *n, pid_t *ret)
{
	if (dhcp_find(&n->paths, ret) == 0)
		return 0;
	if (!n->netd->adopting)
		return -ESRCH;
	n->dm_pid = 0;
	if (dhcp_find_all(n->netd->run_dir, match_conf, n) == 0 && n->dm_pid > 0) {
		*ret = n->dm_pid;
		n->dm_pid = 0;
		return 0;
	}
	return -ESRCH;
}

static int dm_spawn(struct network *n)
{
	pid_t pid;
	int r;

	r = dhcp_spawn(n->netd->dnsmasq_bin, &n->paths, &pid);
	if (r < 0) {
		const char *bin = n->netd->dnsmasq_bin;

		if (r == -ENOENT && !bin)
			snprintf(n->dm_error, sizeof(n->dm_error),
				 "cannot start dnsmasq: it is not installed (package dnsmasq-base)");
		else
			snprintf(n->dm_error, sizeof(n->dm_error), "cannot start dnsmasq (%s): %s",
				 bin ? bin : "dnsmasq", strerror(-r));
		log_error(n->cfg->name, "%s", n->dm_error);
		schedule_restart(n);
		return r;
	}
	crashpoint("dnsmasq");
	n->dm_started_ms = now_ms();
	n->dm_state = DNSMASQ_STARTING;
	r = dm_track(n, pid, true);
	if (r < 0) {
		log_error(n->cfg->name, "cannot watch dnsmasq (pid %d): %s", pid, strerror(-r));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		dm_forget(n);
		n->dm_state = DNSMASQ_NONE;
		return r;
	}
	log_info(n->cfg->name, "dnsmasq started (pid %d)", pid);
	return 0;
}

/*
 * Start (or adopt) the network's dnsmasq.  An instance already serving the
 * same configuration is kept, with a SIGHUP if only its hosts files changed;
 * one serving an older configuration is replaced.
 */
int network_start_dnsmasq(struct network *n)
{
	unsigned int changed = 0;
	pid_t pid;
	int r;

	if (!network_needs_dnsmasq(n))
		return 0;
	r = write_dnsmasq_files(n, &changed);
	if (r < 0) {
		log_error(n->cfg->name, "cannot write dnsmasq configuration under %s: %s",
			  n->netd->run_dir, strerror(-r));
		return r;
	}
	if (n->dm_pidfd < 0 && find_dnsmasq(n, &pid) == 0) {
		if (!(changed & DHCP_CHANGED_CONF)) {
			r = dm_track(n, pid, false);
			if (r == 0) {
				n->dm_state = DNSMASQ_RUNNING;
				n->dm_started_ms = now_ms();
				dm_quiet(n);
				if (changed & DHCP_CHANGED_HOSTS)
					kill(pid, SIGHUP);
				log_info(n->cfg->name, "adopted running dnsmasq (pid %d)", pid);
				return 0;
			}
		}
		log_info(n->cfg->name, "replacing dnsmasq (pid %d): configuration changed", pid);
		kill_and_wait(pid, 2000);
	} else if (n->dm_pidfd >= 0) {
		if (!(changed & DHCP_CHANGED_CONF)) {
			if (changed & DHCP_CHANGED_HOSTS)
				kill(n->dm_pid, SIGHUP);
			return 0;
		}
		network_stop_dnsmasq(n);
	}
	return dm_spawn(n);
}

void network_stop_dnsmasq(struct network *n)
{
	if (n->dm_pidfd >= 0) {
		pid_t pid = n->dm_pid;
		bool child = n->dm_child;

		dm_forget(n);
		kill_and_wait(pid, 2000);
		if (child)
			waitpid(pid, NULL, WNOHANG);
	}
	n->dm_state = DNSMASQ_NONE;
}

/* The dnsmasq's pidfd became readable: it exited. */
void network_dnsmasq_exited(struct network *n)
{
	uint64_t now = now_ms();
	char how[64] = "exited";
	char *tail;
	int status;

	if (n->dm_child && waitpid(n->dm_pid, &status, WNOHANG) == n->dm_pid) {
		if (WIFEXITED(status))
			snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
	}
	tail = dhcp_log_tail(&n->paths, 400);
	snprintf(n->dm_error, sizeof(n->dm_error), "dnsmasq (pid %d) %s%s%s", n->dm_pid, how,
		 tail && *tail ? ": " : "", tail ? tail : "");
	log_warn(n->cfg->name, "%s", n->dm_error);
	free(tail);
	dm_forget(n);

	if (now - n->dm_started_ms > DM_STABLE_MS)
		n->dm_failures = 0;
	schedule_restart(n);
}

/*
 * A running dnsmasq of an IPv4-only network stops hearing the host's
 * address and route changes (dhcp_quiet_netlink), so a network start does
 * not wake every other network's dnsmasq.  One with IPv6 keeps them: its
 * router advertisements and DHCPv6 follow its interface.
 */
static void dm_quiet(struct network *n)
{
	int r;

	if (has_ipv6(n->cfg) || n->dm_pidfd < 0)
		return;
	r = dhcp_quiet_netlink(n->dm_pid, n->dm_pidfd);
	if (r < 0)
		log_debug(n->cfg->name, "dnsmasq (pid %d) keeps hearing netlink events: %s", n->dm_pid,
			  *dhcp_errmsg() ? dhcp_errmsg() : strerror(-r));
}

/* RUN_DIR/dnsmasq/NAME.pid was written: dnsmasq is serving. */
void network_dnsmasq_pidfile(struct network *n)
{
	if (n->dm_state == DNSMASQ_STARTING) {
		n->dm_state = DNSMASQ_RUNNING;
		dm_quiet(n);
		log_debug(n->cfg->name, "dnsmasq is serving");
	}
}

int network_teardown(struct network *n)
{
	struct net_config *c = n->cfg;
	int r = 0;

	network_stop_dnsmasq(n);
	dhcp_remove_files(&n->paths);
	if (c->mode == NET_MODE_BRIDGE || n->ifindex <= 0) {
		/* not ours, or not made */
	} else if (n->taps_reaping) {
		/* After its TAPs: the loop does not wait for 1,000 ports to leave it. */
		reaper_delete_bridge(n->netd->reaper, n->netd->rt, n->ifindex);
	} else if ((r = rtnl_link_delete(n->netd->rt, n->ifindex)) < 0) {
		log_error(c->name, "cannot delete bridge %s: %s", c->bridge, strerror(-r));
	}
	n->ifindex = 0;
	n->running = false;
	n->taps_reaping = false;
	return r;
}
