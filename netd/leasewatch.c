/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Following each network's lease file.  dnsmasq rewrites STATE_DIR/NAME.leases
 * whenever a lease is granted, renewed or released; an inotify watch on
 * STATE_DIR tells us, and the new list is diffed against the old one to
 * tell subscribers what changed.  Leases past their expiry are dropped (and
 * announced) by the timer, since dnsmasq only prunes its file when it next
 * writes it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "netd/control.h"
#include "netd/log.h"
#include "netd/netd.h"
#include "netd/ports.h"

static bool same_lease(const struct dhcp_lease *a, const struct dhcp_lease *b)
{
	if (a->has_mac != b->has_mac || a->ip.family != b->ip.family)
		return false;
	if (a->has_mac && memcmp(a->mac, b->mac, 6) != 0)
		return false;
	if (!a->has_mac && strcmp(a->client_id, b->client_id) != 0)
		return false;
	return memcmp(&a->ip.a, &b->ip.a, a->ip.family == AF_INET ? 4 : 16) == 0;
}

static bool contains(const struct dhcp_lease *list, size_t n, const struct dhcp_lease *l)
{
	for (size_t i = 0; i < n; i++)
		if (same_lease(&list[i], l))
			return true;
	return false;
}

static bool expired(const struct dhcp_lease *l, time_t now)
{
	return l->expires != 0 && l->expires <= now;
}

/* Re-read the network's lease file and announce the difference. */
void network_read_leases(struct network *n, bool announce)
{
	struct netd *d = n->netd;
	struct dhcp_lease *fresh = NULL;
	size_t n_fresh = 0, kept = 0;
	time_t now = time(NULL);
	int r;

	if (!network_needs_dnsmasq(n))
		return;
	r = dhcp_leases_read(n->paths.leases, &fresh, &n_fresh);
	if (r < 0) {
		log_warn(n->cfg->name, "cannot read %s: %s", n->paths.leases, strerror(-r));
		return;
	}
	for (size_t i = 0; i < n_fresh; i++)
		if (!expired(&fresh[i], now))
			fresh[kept++] = fresh[i];
	n_fresh = kept;
	for (size_t i = 0; announce && i < n_fresh; i++)
		if (!contains(n->leases, n->n_leases, &fresh[i]))
			control_broadcast(d, "lease.added", lease_to_json(n, &fresh[i]));
	for (size_t i = 0; announce && i < n->n_leases; i++)
		if (!contains(fresh, n_fresh, &n->leases[i]))
			control_broadcast(d, "lease.removed", lease_to_json(n, &n->leases[i]));
	free(n->leases);
	n->leases = fresh;
	n->n_leases = n_fresh;
	guard_network(d, n->cfg->name);
	netd_arm_timer(d);
}

/* Drop leases whose time is up; called from the timer. */
void network_expire_leases(struct network *n)
{
	time_t now = time(NULL);
	size_t kept = 0;

	for (size_t i = 0; i < n->n_leases; i++) {
		if (expired(&n->leases[i], now))
			control_broadcast(n->netd, "lease.expired", lease_to_json(n, &n->leases[i]));
		else
			n->leases[kept++] = n->leases[i];
	}
	n->n_leases = kept;
	guard_network(n->netd, n->cfg->name);
}

/* Earliest lease expiry of any network, in epoch seconds; 0 if none. */
time_t leases_next_expiry(struct netd *d)
{
	time_t next = 0;

	for (size_t i = 0; i < d->n_nets; i++)
		for (size_t j = 0; j < d->nets[i]->n_leases; j++) {
			time_t e = (time_t)d->nets[i]->leases[j].expires;

			if (e && (!next || e < next))
				next = e;
		}
	return next;
}

int leases_init(struct netd *d)
{
	d->leasefd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (d->leasefd < 0)
		return -errno;
	if (inotify_add_watch(d->leasefd, d->state_dir, IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO |
			      IN_CREATE | IN_DELETE) < 0)
		return -errno;
	d->lease_source = (struct source){ .kind = SOURCE_LEASES };
	for (size_t i = 0; i < d->n_nets; i++)
		network_read_leases(d->nets[i], false);
	return netd_watch(d, d->leasefd, &d->lease_source);
}

void leases_event(struct netd *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool *dirty = calloc(d->n_nets + 1, sizeof(bool));
	ssize_t len;

	if (!dirty)
		return;
	while ((len = read(d->leasefd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			size_t nl = ev->len ? strlen(ev->name) : 0;

			p += sizeof(*ev) + ev->len;
			if (nl < 8 || strcmp(ev->name + nl - 7, ".leases") != 0)
				continue;
			for (size_t i = 0; i < d->n_nets; i++)
				if (strlen(d->nets[i]->cfg->name) == nl - 7 &&
				    strncmp(d->nets[i]->cfg->name, ev->name, nl - 7) == 0)
					dirty[i] = true;
		}
	}
	for (size_t i = 0; i < d->n_nets; i++)
		if (dirty[i])
			network_read_leases(d->nets[i], true);
	free(dirty);
}
