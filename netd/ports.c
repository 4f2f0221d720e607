/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The port table, its link monitor and adoption (see ports.h). */
#include <errno.h>
#include <pwd.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/neighbour.h>

#include "netd/control.h"
#include "netd/log.h"
#include "netd/netd.h"
#include "netd/ports.h"
#include "netlink/rtnl.h"

static const char *const kind_names[] = {
	[PORT_OPEN] = "open",
	[PORT_PERSISTENT] = "persistent",
	[PORT_ATTACHED] = "attached",
};

const char *port_kind_to_string(enum port_kind k)
{
	return (size_t)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "?";
}

static void mac_to_string(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

int port_alias_format(char *buf, size_t len, const struct port *p)
{
	char mac[18] = "";
	int n;

	if (p->has_mac)
		mac_to_string(p->mac, mac, sizeof(mac));
	if (p->kind == PORT_ATTACHED)
		n = snprintf(buf, len, NETD_ATTACH_PREFIX "%s:%u%s%s", p->network, (unsigned)p->owner,
			     *mac ? ":" : "", mac);
	else
		n = snprintf(buf, len, NETD_ALIAS_PREFIX "%s:port:%u:%s%s%s", p->network,
			     (unsigned)p->owner, port_kind_to_string(p->kind), *mac ? ":" : "", mac);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Parse "NET:UID[:MAC]" (attached) or "NET:port:UID:KIND[:MAC]" (ours). */
int port_alias_parse(const char *alias, struct port *ret)
{
	bool attached = strncmp(alias, NETD_ATTACH_PREFIX, strlen(NETD_ATTACH_PREFIX)) == 0;
	char buf[256], *f[6], *save = NULL, *tok;
	size_t n = 0, i = 0;
	unsigned long uid;
	char *end;

	if (!attached && strncmp(alias, NETD_ALIAS_PREFIX, strlen(NETD_ALIAS_PREFIX)) != 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", alias + strlen(attached ? NETD_ATTACH_PREFIX : NETD_ALIAS_PREFIX));
	/* The MAC has colons itself: split off at most the fixed fields. */
	for (tok = strtok_r(buf, ":", &save); tok && n < (attached ? 2u : 4u);
	     tok = strtok_r(NULL, ":", &save))
		f[n++] = tok;
	memset(ret, 0, sizeof(*ret));
	if (attached ? n != 2 : n != 4 || strcmp(f[1], "port") != 0)
		return -EINVAL;
	if (strlen(f[0]) > NET_NAME_MAX)
		return -EINVAL;
	strcpy(ret->network, f[0]);
	errno = 0;
	uid = strtoul(f[attached ? 1 : 2], &end, 10);
	if (errno || *end || uid > UINT32_MAX - 1)
		return -EINVAL;
	ret->owner = (uid_t)uid;
	if (attached) {
		ret->kind = PORT_ATTACHED;
	} else {
		for (i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
			if (strcmp(f[3], kind_names[i]) == 0)
				break;
		if (i == PORT_ATTACHED || i == sizeof(kind_names) / sizeof(kind_names[0]))
			return -EINVAL;
		ret->kind = (enum port_kind)i;
	}
	if (tok) {
		/* tok is the first MAC byte; the rest follows unsplit in save. */
		char mac[32];

		snprintf(mac, sizeof(mac), "%s%s%s", tok, save && *save ? ":" : "", save ? save : "");
		if (mac_parse(mac, ret->mac) < 0)
			return -EINVAL;
		ret->has_mac = true;
	}
	return 0;
}

/*
 * The port table: chained hash tables by ifindex (next) and, for the MACs
 * launchers gave their ports, by MAC (mac_next; port_find_guest_mac: a
 * port.open with a MAC must not take another port's, and walking every
 * port for it cost 10,000 steps at 10,000 ports).  Both have
 * n_port_buckets buckets and grow together, before an insertion.
 */
static size_t ifindex_bucket(int ifindex, size_t n)
{
	return (size_t)(uint32_t)ifindex * 2654435761u % n;
}

static size_t mac_bucket(const uint8_t *mac, size_t n)
{
	return netd_hash(mac, 6) % n;
}

static bool in_mac_index(const struct port *p)
{
	return p->has_mac && !p->mac_learned;
}

struct port *port_find(struct netd *d, int ifindex)
{
	if (!d->n_port_buckets)
		return NULL;
	for (struct port *p = d->port_buckets[ifindex_bucket(ifindex, d->n_port_buckets)]; p;
	     p = p->next)
		if (p->ifindex == ifindex)
			return p;
	return NULL;
}

static void chain(struct port **buckets, size_t n, struct port *p, bool by_mac)
{
	size_t k = by_mac ? mac_bucket(p->mac, n) : ifindex_bucket(p->ifindex, n);
	struct port **next = by_mac ? &p->mac_next : &p->next;

	*next = buckets[k];
	buckets[k] = p;
}

static int grow(struct netd *d)
{
	size_t n = d->n_port_buckets ? d->n_port_buckets * 2 : 64;
	struct port **b = calloc(n, sizeof(*b)), **m = calloc(n, sizeof(*m));

	if (!b || !m) {
		free(b);
		free(m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->n_port_buckets; i++) {
		for (struct port *p = d->port_buckets[i], *next; p; p = next) {
			next = p->next;
			chain(b, n, p, false);
		}
		for (struct port *p = d->mac_buckets[i], *next; p; p = next) {
			next = p->mac_next;
			chain(m, n, p, true);
		}
	}
	free(d->port_buckets);
	free(d->mac_buckets);
	d->port_buckets = b;
	d->mac_buckets = m;
	d->n_port_buckets = n;
	return 0;
}

/* Take p out of the chain that starts at *pp (by next, or by mac_next). */
static bool unchain(struct port **pp, const struct port *p, bool by_mac)
{
	for (; *pp; pp = by_mac ? &(*pp)->mac_next : &(*pp)->next) {
		if (*pp == p) {
			*pp = by_mac ? p->mac_next : p->next;
			return true;
		}
	}
	return false;
}

struct port *port_find_guest_mac(struct netd *d, const char *network, const uint8_t *mac)
{
	if (!d->n_port_buckets)
		return NULL;
	for (struct port *p = d->mac_buckets[mac_bucket(mac, d->n_port_buckets)]; p; p = p->mac_next)
		if (memcmp(p->mac, mac, 6) == 0 && strcmp(p->network, network) == 0)
			return p;
	return NULL;
}

/* Ports per owner, for the per-user limit: a short list of uids. */
struct user_ports {
	uid_t uid;
	size_t n;
};

/* Count a port of uid in (delta 1) or out (-1); only counting in allocates. */
static int user_ports_add(struct netd *d, uid_t uid, int delta)
{
	struct user_ports *grown;

	for (size_t i = 0; i < d->n_user_ports; i++) {
		if (d->user_ports[i].uid == uid) {
			d->user_ports[i].n += (size_t)delta;
			if (!d->user_ports[i].n)
				d->user_ports[i] = d->user_ports[--d->n_user_ports];
			return 0;
		}
	}
	if (delta < 0)
		return 0;
	grown = reallocarray(d->user_ports, d->n_user_ports + 1, sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	d->user_ports = grown;
	d->user_ports[d->n_user_ports++] = (struct user_ports){ uid, (size_t)delta };
	return 0;
}

/* Names netd picks go on after the highest netd-tN it knows (adopted too). */
static void note_tap_name(struct netd *d, const char *ifname)
{
	unsigned int k;
	int end = 0;

	if (sscanf(ifname, NETD_TAP_PREFIX "%u%n", &k, &end) == 1 && ifname[end] == '\0' &&
	    k < NETD_TAP_MAX && k >= d->next_tap)
		d->next_tap = k + 1;
}

struct port *port_add(struct netd *d, const struct port *tmpl)
{
	struct network *n = netd_find_network(d, tmpl->network);
	struct port *p;

	if (d->n_ports >= d->n_port_buckets && grow(d) < 0)
		return NULL;
	p = malloc(sizeof(*p));
	if (!p || user_ports_add(d, tmpl->owner, 1) < 0) {
		free(p);
		return NULL;
	}
	*p = *tmpl;
	chain(d->port_buckets, d->n_port_buckets, p, false);
	if (in_mac_index(p))
		chain(d->mac_buckets, d->n_port_buckets, p, true);
	d->n_ports++;
	if (n)
		n->n_ports++;
	note_tap_name(d, p->ifname);
	p->guarded = false;
	log_info(p->network, "port %s (%s, uid %u) added", p->ifname, port_kind_to_string(p->kind),
		 (unsigned)p->owner);
	guard_port(d, p);
	if (d->n_subscribed)
		control_broadcast(d, "port.added", port_to_json(d, p));
	return p;
}

void port_forget(struct netd *d, struct port *p, const char *why)
{
	struct network *n = netd_find_network(d, p->network);
	size_t k;

	if (!d->n_port_buckets)
		return;
	k = ifindex_bucket(p->ifindex, d->n_port_buckets);
	if (!unchain(&d->port_buckets[k], p, false))
		return;
	if (in_mac_index(p))
		unchain(&d->mac_buckets[mac_bucket(p->mac, d->n_port_buckets)], p, true);
	guard_forget(d, p);
	user_ports_add(d, p->owner, -1);
	d->n_ports--;
	if (n && n->n_ports)
		n->n_ports--;
	if (why)
		log_info(p->network, "port %s removed: %s", p->ifname, why);
	if (d->n_subscribed)
		control_broadcast(d, "port.removed", port_to_json(d, p));
	free(p);
}

size_t ports_of_user(struct netd *d, uid_t uid)
{
	for (size_t i = 0; i < d->n_user_ports; i++)
		if (d->user_ports[i].uid == uid)
			return d->user_ports[i].n;
	return 0;
}

int port_remove(struct netd *d, struct port *p)
{
	int r;

	if (p->kind == PORT_ATTACHED)
		r = rtnl_port_setup(d->rt, p->ifindex,
				    &(struct rtnl_port_opts){ .master = 0, .alias = "" , .up = false });
	else
		r = rtnl_link_delete(d->rt, p->ifindex);
	if (r < 0 && r != -ENODEV)
		return r;
	port_forget(d, p, p->kind == PORT_ATTACHED ? "detached" : "deleted");
	return 0;
}

/*
 * Remove every port of a network.  The TAPs netd made are handed to the
 * reaper (deleting them takes the kernel ~15 ms each); links netd only
 * attached are released here, which is quick.
 */
size_t ports_remove_network(struct netd *d, const char *network)
{
	int *doomed = calloc(d->n_ports + 1, sizeof(int));
	size_t it, n = 0;
	struct port *p;

	/* One batch for all their guards instead of a batch per port. */
	guard_forget_network(d, network);
	p = ports_first(d, &it);
	while (p) {
		struct port *next = ports_next(d, p, &it);

		if (strcmp(p->network, network) != 0) {
			p = next;
			continue;
		}
		if (p->kind != PORT_ATTACHED && doomed && d->reaper) {
			/* one line for all of them below, not 1,000 */
			doomed[n++] = p->ifindex;
			port_forget(d, p, NULL);
		} else if (port_remove(d, p) < 0) {
			log_warn(network, "cannot remove port %s: %s, ignoring", p->ifname,
				 rtnl_errmsg(d->rt));
		}
		p = next;
	}
	if (n) {
		log_info(network, "%zu port(s) removed: network stopped (their TAPs are being deleted)",
			 n);
		reaper_delete(d->reaper, d->rt, doomed, n);
	}
	free(doomed);
	return n;
}

/*
 * Deferred port.detach.  Deleting a TAP costs the kernel an RCU grace
 * period, so port.detach of a TAP netd made forgets the port at once, hands
 * the link to the reaper and keeps the request here; the reply goes out
 * when the link monitor reports the link's RTM_DELLINK (or the reaper
 * reports that it could not delete it).  An entry outlives its client:
 * while it exists the link is doomed and its events are ignored, so it is
 * not adopted again as a port.
 */
struct detach_wait {
	int ifindex;
	uid_t owner;		/* of the port: who may join the wait */
	char ifname[IF_NAMESIZE];
	char network[NET_NAME_MAX + 1];
	struct client *client;	/* NULL once the client is gone */
	json_object *id;	/* of the request (a reference) */
};

static struct detach_wait *detach_find(struct netd *d, int ifindex)
{
	for (size_t i = 0; i < d->n_detaches; i++)
		if (d->detaches[i].ifindex == ifindex)
			return &d->detaches[i];
	return NULL;
}

static int detach_add(struct netd *d, const struct detach_wait *tmpl, struct client *c,
		      json_object *id)
{
	struct detach_wait *w;

	if (d->n_detaches == d->cap_detaches) {
		size_t cap = d->cap_detaches ? d->cap_detaches * 2 : 16;

		w = realloc(d->detaches, cap * sizeof(*w));
		if (!w)
			return -ENOMEM;
		d->detaches = w;
		d->cap_detaches = cap;
	}
	w = &d->detaches[d->n_detaches++];
	*w = *tmpl;
	w->client = c;
	w->id = json_object_get(id);
	return 0;
}

/* Answer every port.detach waiting for ifindex: deleted (err 0) or not. */
static void detaches_answer(struct netd *d, int ifindex, int err)
{
	for (size_t i = d->n_detaches; i-- > 0;) {
		struct detach_wait *w = &d->detaches[i];
		json_object *o;

		if (w->ifindex != ifindex)
			continue;
		if (w->client && err == 0) {
			o = json_object_new_object();
			json_object_object_add(o, "ifname", json_object_new_string(w->ifname));
			client_send(w->client, proto_reply_ok(w->id, o), NULL, 0);
		} else if (w->client) {
			client_error(w->client, w->id, E_FAILED, "port.detach: %s: cannot delete it: %s",
				     w->ifname, strerror(-err));
		}
		json_object_put(w->id);
		/* Entries after i were seen already: the last one may move here. */
		*w = d->detaches[--d->n_detaches];
	}
}

int port_detach_deferred(struct netd *d, struct port *p, struct client *c, json_object *id)
{
	struct detach_wait tmpl = { .ifindex = p->ifindex, .owner = p->owner };
	int r;

	if (!d->reaper)
		return -EOPNOTSUPP;
	memcpy(tmpl.ifname, p->ifname, sizeof(tmpl.ifname));
	memcpy(tmpl.network, p->network, sizeof(tmpl.network));
	r = detach_add(d, &tmpl, c, id);
	if (r < 0)
		return r;
	port_forget(d, p, "deleted");
	reaper_delete(d->reaper, d->rt, &tmpl.ifindex, 1);
	return 0;
}

int port_detach_join(struct netd *d, int ifindex, struct client *c, json_object *id,
		     uid_t *ret_owner)
{
	struct detach_wait *w = detach_find(d, ifindex), tmpl;

	if (!w)
		return -ENOENT;
	*ret_owner = w->owner;
	if (c->uid != 0 && w->owner != c->uid)
		return -EPERM;
	tmpl = *w;	/* detach_add may move the table */
	return detach_add(d, &tmpl, c, id);
}

void ports_client_gone(struct netd *d, struct client *c)
{
	for (size_t i = 0; i < d->n_detaches; i++)
		if (d->detaches[i].client == c)
			d->detaches[i].client = NULL;
}

static int on_link_event(const struct rtnl_link *l, bool removed, void *data);

/* The reaper could not delete a link (it is back in NETD_PORT_GROUP). */
static void on_reap_failed(int ifindex, int err, void *data)
{
	struct netd *d = data;
	struct detach_wait *w = detach_find(d, ifindex);
	struct rtnl_link now;
	int r;

	if (!w) {
		log_warn(NULL, "cannot delete link %d: %s", ifindex, strerror(-err));
		return;
	}
	log_warn(w->network, "cannot delete port %s: %s", w->ifname, strerror(-err));
	r = rtnl_link_get_by_index(d->rt, ifindex, &now);
	detaches_answer(d, ifindex, r == -ENODEV ? 0 : err);
	/* Still there and still a port: back in the table, detach may be retried. */
	if (r == 0)
		on_link_event(&now, false, d);
}

void ports_reaper_event(struct netd *d)
{
	if (d->reaper)
		reaper_collect(d->reaper, on_reap_failed, d);
}

struct port *ports_first(struct netd *d, size_t *iter)
{
	for (*iter = 0; *iter < d->n_port_buckets; (*iter)++)
		if (d->port_buckets[*iter])
			return d->port_buckets[*iter];
	return NULL;
}

struct port *ports_next(struct netd *d, struct port *p, size_t *iter)
{
	if (p->next)
		return p->next;
	for ((*iter)++; *iter < d->n_port_buckets; (*iter)++)
		if (d->port_buckets[*iter])
			return d->port_buckets[*iter];
	return NULL;
}

/* Link events */

/* Is this link one of our ports, enslaved to its network's bridge? */
static bool describes_port(struct netd *d, const struct rtnl_link *l, struct port *ret)
{
	struct network *n;

	if (strcmp(l->kind, "bridge") == 0 || port_alias_parse(l->alias, ret) < 0)
		return false;
	n = netd_find_network(d, ret->network);
	if (!n || !n->running || n->ifindex != l->master)
		return false;
	ret->ifindex = l->ifindex;
	snprintf(ret->ifname, sizeof(ret->ifname), "%s", l->name);
	ret->up = l->up;
	return true;
}

/*
 * A link as an event or a dump describes it.  An event may describe the
 * past, so a link it does not settle is looked up again; a dump (current)
 * is how the links are now, which spares 10,000 lookups at a start-up
 * with 10,000 ports.
 */
static int link_seen(struct netd *d, const struct rtnl_link *l, bool removed, bool current)
{
	struct port *p = port_find(d, l->ifindex), tmpl;
	struct rtnl_link now;

	if (!removed)
		network_bridge_seen(d, l);
	if (detach_find(d, l->ifindex)) {
		/* Doomed by a port.detach: only its end matters. */
		if (removed)
			detaches_answer(d, l->ifindex, 0);
		return 0;
	}
	if (removed) {
		if (p)
			port_forget(d, p, "link deleted");
		return 0;
	}
	/*
	 * A link that would change the table (a port to add or to drop) is
	 * looked up as it is now, once: events describe the past (a new
	 * TAP's first event predates its enslavement), a dump does not.
	 */
	for (bool looked = current;; looked = true) {
		bool is = describes_port(d, l, &tmpl) && (!p || strcmp(tmpl.network, p->network) == 0);

		if (p && is) {
			snprintf(p->ifname, sizeof(p->ifname), "%s", l->name);
			p->up = l->up;
			return 0;
		}
		if (!p && !is)
			return 0;
		if (looked)
			break;
		if (rtnl_link_get_by_index(d->rt, l->ifindex, &now) < 0) {
			if (p)
				port_forget(d, p, "link deleted");
			return 0;
		}
		l = &now;
	}
	if (p)
		port_forget(d, p, "left its bridge");
	else
		port_add(d, &tmpl);
	return 0;
}

static int on_link_event(const struct rtnl_link *l, bool removed, void *data)
{
	return link_seen(data, l, removed, false);
}

/* Match the table to one full link dump (start-up, and after lost events). */
struct resync {
	struct netd *d;
	int *seen;
	size_t n_seen, cap;
};

static int on_dump_link(const struct rtnl_link *l, void *data)
{
	struct resync *rs = data;

	link_seen(rs->d, l, false, true);
	if (port_find(rs->d, l->ifindex) || detach_find(rs->d, l->ifindex)) {
		if (rs->n_seen == rs->cap) {
			size_t cap = rs->cap ? rs->cap * 2 : 256;
			int *s = realloc(rs->seen, cap * sizeof(*s));

			if (!s)
				return -ENOMEM;
			rs->seen = s;
			rs->cap = cap;
		}
		rs->seen[rs->n_seen++] = l->ifindex;
	}
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

static int ports_resync(struct netd *d)
{
	struct resync rs = { .d = d };
	size_t it;
	int r;

	r = rtnl_link_dump(d->rt, on_dump_link, &rs);
	if (r < 0) {
		free(rs.seen);
		return r;
	}
	if (rs.n_seen)
		qsort(rs.seen, rs.n_seen, sizeof(int), cmp_int);
	for (struct port *p = ports_first(d, &it), *next; p; p = next) {
		next = ports_next(d, p, &it);
		if (!rs.n_seen || !bsearch(&p->ifindex, rs.seen, rs.n_seen, sizeof(int), cmp_int))
			port_forget(d, p, "link gone");
	}
	/* Detaches whose RTM_DELLINK was among the lost events. */
	for (size_t i = 0; i < d->n_detaches;) {
		int ifindex = d->detaches[i].ifindex;

		if (rs.n_seen && bsearch(&ifindex, rs.seen, rs.n_seen, sizeof(int), cmp_int))
			i++;
		else
			detaches_answer(d, ifindex, 0);	/* removes entry i */
	}
	free(rs.seen);
	return 0;
}

/* The bridge learned a MAC on a port: the first one is the guest's. */
static int on_fdb_event(const struct rtnl_fdb *f, bool removed, void *data)
{
	struct netd *d = data;
	struct port *p = port_find(d, f->ifindex);

	if (removed || !p || p->has_mac || (f->state & NUD_PERMANENT) || (f->mac[0] & 1))
		return 0;
	memcpy(p->mac, f->mac, 6);
	p->has_mac = true;
	p->mac_learned = true;
	log_info(p->network, "port %s: guest MAC %02x:%02x:%02x:%02x:%02x:%02x learned", p->ifname,
		 f->mac[0], f->mac[1], f->mac[2], f->mac[3], f->mac[4], f->mac[5]);
	guard_port(d, p);
	return 0;
}

void ports_monitor_event(struct netd *d)
{
	int r = rtnl_monitor_read(d->mon, on_link_event, d);

	if (r == -ENOBUFS) {
		log_warn(NULL, "link events were lost; re-reading every link");
		r = ports_resync(d);
	}
	if (r < 0)
		log_warn(NULL, "link monitor: %s", strerror(-r));
}

int ports_init(struct netd *d)
{
	int r;

	r = rtnl_monitor_open(&d->mon);
	if (r < 0)
		return r;
	d->mon_source = (struct source){ .kind = SOURCE_MONITOR };
	r = rtnl_monitor_watch_fdb(d->mon, on_fdb_event);
	if (r < 0)
		return r;
	r = netd_watch(d, rtnl_monitor_fd(d->mon), &d->mon_source);
	if (r < 0)
		return r;
	d->reaper_source = (struct source){ .kind = SOURCE_REAPER };
	if (d->reaper && (r = netd_watch(d, reaper_fd(d->reaper), &d->reaper_source)) < 0)
		return r;
	/* After the monitor is open, so nothing falls between dump and events. */
	r = ports_resync(d);
	if (r < 0)
		return r;
	ports_learn_macs(d);
	return 0;	/* the caller commits the guards: guard_sync_all() */
}

void ports_free(struct netd *d)
{
	for (size_t i = 0; i < d->n_port_buckets; i++) {
		while (d->port_buckets[i]) {
			struct port *p = d->port_buckets[i];

			d->port_buckets[i] = p->next;
			free(p);
		}
	}
	free(d->port_buckets);
	d->port_buckets = NULL;
	d->n_port_buckets = d->n_ports = 0;
	free(d->mac_buckets);
	d->mac_buckets = NULL;
	free(d->user_ports);
	d->user_ports = NULL;
	d->n_user_ports = 0;
	/* Shutdown: the clients are gone; the reaper finished the deletions. */
	for (size_t i = 0; i < d->n_detaches; i++)
		json_object_put(d->detaches[i].id);
	free(d->detaches);
	d->detaches = NULL;
	d->n_detaches = d->cap_detaches = 0;
	d->mon = rtnl_monitor_close(d->mon);
}

static int on_fdb(const struct rtnl_fdb *f, void *data)
{
	struct netd *d = data;
	struct port *p = port_find(d, f->ifindex);

	/* NUD_PERMANENT entries are the port's own address, not the guest's. */
	if (!p || p->has_mac || (f->state & NUD_PERMANENT) || (f->mac[0] & 1))
		return 0;
	memcpy(p->mac, f->mac, 6);
	p->has_mac = true;
	p->mac_learned = true;
	return 0;
}

/*
 * A launcher that does not tell us the guest's MAC (QEMU's bridge helper
 * cannot) still gets it listed: it is what the bridge learned on the port.
 */
void ports_learn_macs(struct netd *d)
{
	size_t it;
	bool need = false;

	for (struct port *p = ports_first(d, &it); p && !need; p = ports_next(d, p, &it))
		need = !p->has_mac;
	if (need)
		(void)rtnl_fdb_dump(d->rt, on_fdb, d);
}

/*
 * The name of a port's owner, from a small cache: getpwuid() reads
 * /etc/passwd (and asks systemd after that) on every call, which was a
 * good part of a port.open's reply and 10,000 file reads per port.list.
 * An entry is trusted for 10 s.  NULL when the uid has no name.
 */
static const char *owner_name(uid_t uid)
{
	static struct {
		uid_t uid;
		bool known;
		time_t at;
		char name[64];
	} cache[16];
	static unsigned int next;
	time_t now = time(NULL);
	struct passwd *pw;
	unsigned int k;

	for (k = 0; k < 16 && !(cache[k].at && cache[k].uid == uid); k++)
		;
	if (k < 16 && now - cache[k].at < 10)
		return cache[k].known ? cache[k].name : NULL;
	if (k == 16)
		k = next++ % 16;	/* a new uid: the oldest slot; a stale one: refreshed */
	pw = getpwuid(uid);
	cache[k].uid = uid;
	cache[k].at = now;
	cache[k].known = pw && strlen(pw->pw_name) < sizeof(cache[k].name);
	if (cache[k].known)
		snprintf(cache[k].name, sizeof(cache[k].name), "%s", pw->pw_name);
	return cache[k].known ? cache[k].name : NULL;
}

json_object *port_to_json(struct netd *d, const struct port *p)
{
	json_object *o = json_object_new_object();
	struct network *n = netd_find_network(d, p->network);
	const char *owner = owner_name(p->owner);
	char mac[18];

	if (!o)
		return NULL;
	json_object_object_add(o, "ifname", json_object_new_string(p->ifname));
	json_object_object_add(o, "network", json_object_new_string(p->network));
	if (p->has_mac) {
		mac_to_string(p->mac, mac, sizeof(mac));
		json_object_object_add(o, "mac", json_object_new_string(mac));
		json_object_object_add(o, "mac_learned", json_object_new_boolean(p->mac_learned));
	} else {
		json_object_object_add(o, "mac", NULL);
	}
	json_object_object_add(o, "owner", json_object_new_int64(p->owner));
	json_object_object_add(o, "owner_name", owner ? json_object_new_string(owner) : NULL);
	json_object_object_add(o, "kind", json_object_new_string(port_kind_to_string(p->kind)));
	json_object_object_add(o, "state", json_object_new_string(p->up ? "up" : "down"));
	json_object_object_add(o, "ip", NULL);
	json_object_object_add(o, "hostname", NULL);
	for (size_t i = 0; n && p->has_mac && i < n->n_leases; i++) {
		const struct dhcp_lease *l = &n->leases[i];
		char ip[INET6_ADDRSTRLEN];

		if (!l->has_mac || memcmp(l->mac, p->mac, 6) != 0)
			continue;
		inet_ntop(l->ip.family, &l->ip.a, ip, sizeof(ip));
		json_object_object_add(o, "ip", json_object_new_string(ip));
		json_object_object_add(o, "hostname", l->hostname[0] ? json_object_new_string(l->hostname) : NULL);
		break;
	}
	return o;
}
