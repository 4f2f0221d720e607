/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-port protection: keeping `table bridge netd` in step with the ports.
 *
 * A port is guarded when its network runs in nat, routed or isolated mode
 * with AntiSpoofing on (the default) and netd knows the guest's MAC: given
 * by the launcher, or the first one the bridge learned on the port (QEMU's
 * bridge helper cannot tell us; once guarded, frames from any other MAC are
 * dropped before the bridge learns them).  Its IPv4 is known from a
 * reservation or a lease.  Each change is one element batch
 * (fw_guard_set); the whole table is rebuilt (fw_guard_sync) at start-up,
 * on reload and when someone else removed it.  The table exists only while
 * a port is guarded: its hook costs every frame that enters any bridge of
 * the host (a chain and a lookup: about 1% of the CPU of a forwarded
 * stream), which a host without guarded ports need not pay.  The first
 * guarded port rebuilds it, the last one gone deletes it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "firewall/fw.h"
#include "netd/log.h"
#include "netd/netd.h"
#include "netd/ports.h"

/* Should p be guarded, and how?  Fills g (ifname points into p). */
static bool guard_wanted(struct netd *d, const struct port *p, struct fw_guard *g)
{
	struct network *n = netd_find_network(d, p->network);
	const struct net_config *c;

	if (!n || !n->running || !p->has_mac)
		return false;
	c = n->cfg;
	if (c->mode == NET_MODE_BRIDGE || !c->antispoofing)
		return false;
	memset(g, 0, sizeof(*g));
	g->ifname = p->ifname;
	memcpy(g->mac, p->mac, 6);
	for (size_t i = 0; i < c->n_reservations && !g->has_ip4; i++) {
		if (memcmp(c->reservations[i].mac, p->mac, 6) == 0) {
			g->has_ip4 = true;
			memcpy(&g->ip4, c->reservations[i].ip.a.b, 4);
		}
	}
	for (size_t i = 0; i < n->n_leases && !g->has_ip4; i++) {
		const struct dhcp_lease *l = &n->leases[i];

		if (l->has_mac && l->ip.family == AF_INET && memcmp(l->mac, p->mac, 6) == 0) {
			g->has_ip4 = true;
			g->ip4 = l->ip.a.v4;
		}
	}
	return true;
}

static void guard_remember(struct netd *d, struct port *p, const struct fw_guard *g)
{
	if (p->guarded != (g != NULL))
		d->n_guarded += g ? 1 : (size_t)-1;
	p->guarded = g != NULL;
	if (g) {
		memcpy(p->guard_mac, g->mac, 6);
		p->guard_has_ip4 = g->has_ip4;
		p->guard_ip4 = g->ip4;
	}
}

/* Rebuild table bridge netd for every port that should be guarded. */
int guard_sync_all(struct netd *d)
{
	struct fw_guard *g = calloc(d->n_ports + 1, sizeof(*g));
	struct fw_prefix *v6;
	size_t n = 0, n6 = 0, it, cap6 = 0;
	int r;

	for (size_t i = 0; i < d->n_nets; i++)
		cap6 += d->nets[i]->cfg->n_addrs;
	v6 = calloc(cap6 + 1, sizeof(*v6));
	if (!g || !v6) {
		free(g);
		free(v6);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->n_nets; i++) {
		const struct net_config *c = d->nets[i]->cfg;

		if (!d->nets[i]->running)
			continue;
		for (size_t j = 0; j < c->n_addrs; j++) {
			if (c->addrs[j].addr.family != AF_INET6)
				continue;
			v6[n6].family = AF_INET6;
			memcpy(&v6[n6].host.v6, c->addrs[j].addr.a.b, 16);
			v6[n6++].len = c->addrs[j].len;
		}
	}
	for (struct port *p = ports_first(d, &it); p; p = ports_next(d, p, &it)) {
		bool want = guard_wanted(d, p, &g[n]);

		guard_remember(d, p, want ? &g[n] : NULL);
		n += want;
	}
	r = n ? fw_guard_sync(d->fw, g, n, v6, n6) : fw_guard_clear(d->fw);
	if (r < 0) {
		log_error(NULL, "cannot %s table bridge %s: %s%s%s", n ? "commit" : "delete", FW_TABLE,
			  strerror(-r), *fw_errmsg(d->fw) ? ": " : "", fw_errmsg(d->fw));
		for (struct port *p = ports_first(d, &it); p; p = ports_next(d, p, &it))
			guard_remember(d, p, NULL);
		/* no port counts as guarded now: no old guard may stay behind */
		if (n && fw_guard_clear(d->fw) < 0)
			log_error(NULL, "cannot delete table bridge %s either: %s", FW_TABLE,
				  fw_errmsg(d->fw));
	} else {
		log_debug(NULL, "port protection: %zu ports guarded", n);
	}
	free(g);
	free(v6);
	return r;
}

/* No port guarded any more: delete the table (and its hook). */
static void guard_drop_table_if_idle(struct netd *d)
{
	int r;

	if (d->n_guarded || d->guard_deferred)
		return;
	r = fw_guard_clear(d->fw);
	if (r < 0)
		log_warn(NULL, "cannot delete table bridge %s (no port is guarded): %s%s%s", FW_TABLE,
			 strerror(-r), *fw_errmsg(d->fw) ? ": " : "", fw_errmsg(d->fw));
	else
		log_debug(NULL, "no port guarded: table bridge %s deleted", FW_TABLE);
}

/* Bring one port's guard up to date: one element batch, or nothing. */
void guard_port(struct netd *d, struct port *p)
{
	struct fw_guard want, had;
	bool wanted;
	int r;

	if (d->guard_deferred)
		return;
	wanted = guard_wanted(d, p, &want);
	if (!wanted && !p->guarded)
		return;
	if (wanted && d->n_guarded == 0) {
		/* the first guarded port: table bridge netd is not there */
		guard_sync_all(d);
		return;
	}
	if (!wanted && d->n_guarded == 1) {
		/* the last one: the table goes, elements and all */
		guard_remember(d, p, NULL);
		guard_drop_table_if_idle(d);
		return;
	}
	if (wanted && p->guarded && memcmp(p->guard_mac, want.mac, 6) == 0 &&
	    p->guard_has_ip4 == want.has_ip4 &&
	    (!want.has_ip4 || p->guard_ip4.s_addr == want.ip4.s_addr))
		return;
	memset(&had, 0, sizeof(had));
	had.ifname = p->ifname;
	memcpy(had.mac, p->guard_mac, 6);
	had.has_ip4 = p->guard_has_ip4;
	had.ip4 = p->guard_ip4;
	r = fw_guard_set(d->fw, p->guarded ? &had : NULL, wanted ? &want : NULL);
	if (r == -ENOENT) {
		log_warn(NULL, "table bridge %s is missing: rebuilding it", FW_TABLE);
		guard_sync_all(d);
		return;
	}
	if (r < 0) {
		log_error(p->network, "cannot update the protection of port %s: %s%s%s", p->ifname,
			  strerror(-r), *fw_errmsg(d->fw) ? ": " : "", fw_errmsg(d->fw));
		return;
	}
	guard_remember(d, p, wanted ? &want : NULL);
	guard_drop_table_if_idle(d);
	if (wanted)
		log_debug(p->network, "port %s guarded: MAC %02x:%02x:%02x:%02x:%02x:%02x%s%s", p->ifname,
			  want.mac[0], want.mac[1], want.mac[2], want.mac[3], want.mac[4], want.mac[5],
			  want.has_ip4 ? ", IPv4 " : "",
			  want.has_ip4 ? inet_ntoa(want.ip4) : "");
}

/*
 * The ports of a network that stops, all at once: one batch that drops
 * their elements (a rebuild of the whole table, with 9,000 other ports,
 * took 250 ms of the loop), or the table if they were the only guarded
 * ones.  Marks them unguarded.  Falls back to a rebuild if the table is
 * not as expected.
 */
void guard_forget_network(struct netd *d, const char *network)
{
	struct fw_guard *g = calloc(d->n_ports + 1, sizeof(*g));
	size_t n = 0, it;
	int r;

	for (struct port *p = ports_first(d, &it); g && p; p = ports_next(d, p, &it)) {
		if (!p->guarded || strcmp(p->network, network) != 0)
			continue;
		g[n] = (struct fw_guard){ .ifname = p->ifname, .has_ip4 = p->guard_has_ip4,
					  .ip4 = p->guard_ip4 };
		memcpy(g[n++].mac, p->guard_mac, 6);
	}
	/* the network had every guarded port: the table goes instead */
	r = !g ? -ENOMEM : n == d->n_guarded ? 0 : fw_guard_remove(d->fw, g, n);
	if (r < 0)
		log_warn(network, "cannot drop its ports' protection in one batch: %s%s%s; rebuilding "
			 "table bridge %s", strerror(-r), *fw_errmsg(d->fw) ? ": " : "",
			 fw_errmsg(d->fw), FW_TABLE);
	for (struct port *p = ports_first(d, &it); p; p = ports_next(d, p, &it))
		if (strcmp(p->network, network) == 0)
			guard_remember(d, p, NULL);
	free(g);
	if (r < 0)
		guard_sync_all(d);
	else if (n)
		guard_drop_table_if_idle(d);
}

/* A port is going away: drop its elements. */
void guard_forget(struct netd *d, struct port *p)
{
	struct fw_guard had = { .ifname = p->ifname, .has_ip4 = p->guard_has_ip4, .ip4 = p->guard_ip4 };

	if (!p->guarded)
		return;
	memcpy(had.mac, p->guard_mac, 6);
	guard_remember(d, p, NULL);
	if (d->n_guarded == 0) {
		guard_drop_table_if_idle(d);
		return;
	}
	if (fw_guard_set(d->fw, &had, NULL) < 0)
		log_debug(p->network, "cannot drop the protection of port %s: %s", p->ifname,
			  fw_errmsg(d->fw));
}

/* The network's leases or configuration changed: its ports' IPv4 may have. */
void guard_network(struct netd *d, const char *network)
{
	size_t it;

	if (d->guard_deferred)
		return;

	for (struct port *p = ports_first(d, &it); p; p = ports_next(d, p, &it))
		if (strcmp(p->network, network) == 0)
			guard_port(d, p);
}
