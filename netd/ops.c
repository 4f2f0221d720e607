/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control operations.  Each handler checks its arguments against the
 * operation's table entry before touching anything, decides what the
 * caller may do from its credentials and the network's [Access], and sends
 * exactly one reply.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dhcp/dhcp.h"
#include "firewall/fw.h"
#include "netd/control.h"
#include "netd/log.h"
#include "netd/netd.h"
#include "netd/ports.h"
#include "netlink/rtnl.h"

/* Ports one non-root user may hold at once. */
#define MAX_PORTS_PER_USER 256

struct op {
	const char *name;
	void (*fn)(struct client *c, const struct proto_request *req);
	const char *const *args;	/* allowed argument names */
	bool root_only;
};

#define MSG_LEN 512

static bool in_group(const struct client *c, gid_t gid)
{
	if (c->gid == gid)
		return true;
	for (size_t i = 0; i < c->n_groups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

static const char *user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, len, "%s (uid %u)", pw->pw_name, (unsigned)uid);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
	return buf;
}

/* May this caller open, create or attach ports on the network? */
static bool may_use(const struct client *c, const struct network *n, char *why, size_t len)
{
	const struct net_config *cfg = n->cfg;
	char who[128];

	if (c->uid == 0)
		return true;
	for (size_t i = 0; i < cfg->n_users; i++) {
		struct passwd *pw = getpwnam(cfg->users[i]);

		if (pw && pw->pw_uid == c->uid)
			return true;
	}
	for (size_t i = 0; i < cfg->n_groups; i++) {
		struct group *gr = getgrnam(cfg->groups[i]);

		if (gr && in_group(c, gr->gr_gid))
			return true;
	}
	snprintf(why, len, "%s may not use network %s: neither the user nor one of its groups "
		 "is listed in [Access] User= or Group= of %.200s", user_name(c->uid, who, sizeof(who)),
		 cfg->name, cfg->path[0] ? cfg->path : "the built-in default network (root only)");
	return false;
}

static void reply_ok(struct client *c, const struct proto_request *req, json_object *result)
{
	client_send(c, proto_reply_ok(req->id, result), NULL, 0);
}

/* Look up the "network" argument; replies with the error itself. */
static struct network *arg_network(struct client *c, const struct proto_request *req,
				   bool or_bridge, bool must_run)
{
	char msg[MSG_LEN];
	const char *name;
	struct network *n;
	int r;

	r = proto_arg_string(req->args, or_bridge ? "network" : "name", &name, msg, sizeof(msg));
	if (r == -ENOENT && !or_bridge)
		r = proto_arg_string(req->args, "network", &name, msg, sizeof(msg));
	if (r == -ENOENT) {
		client_error(c, req->id, E_INVALID, "%s: argument \"%s\" is required", req->op,
			     or_bridge ? "network" : "name");
		return NULL;
	}
	if (r < 0) {
		client_error(c, req->id, E_INVALID, "%s: %s", req->op, msg);
		return NULL;
	}
	n = or_bridge ? netd_find_network_or_bridge(c->netd, name) : netd_find_network(c->netd, name);
	if (!n) {
		client_error(c, req->id, E_NOT_FOUND, "no network named %.64s", name);
		return NULL;
	}
	if (must_run && !n->running) {
		client_error(c, req->id, E_STATE, "network %s is not running", n->cfg->name);
		return NULL;
	}
	return n;
}

/* Optional string argument; false (reply sent) on a type error. */
static bool opt_string(struct client *c, const struct proto_request *req, const char *key,
		       const char **ret)
{
	char msg[MSG_LEN];
	int r = proto_arg_string(req->args, key, ret, msg, sizeof(msg));

	if (r == -EINVAL) {
		client_error(c, req->id, E_INVALID, "%s: %s", req->op, msg);
		return false;
	}
	return true;
}

static json_object *addr_json(const struct ipprefix *p)
{
	char s[INET6_ADDRSTRLEN], buf[INET6_ADDRSTRLEN + 8];

	snprintf(buf, sizeof(buf), "%s/%u", ipaddr_to_string(&p->addr, s, sizeof(s)), p->len);
	return json_object_new_string(buf);
}

static const char *network_state(const struct network *n)
{
	return n->running ? "running" : "stopped";
}

static const char *dnsmasq_state(const struct network *n)
{
	static const char *const names[] = {
		[DNSMASQ_NONE] = "none", [DNSMASQ_STARTING] = "starting",
		[DNSMASQ_RUNNING] = "running", [DNSMASQ_BACKOFF] = "restarting",
	};

	if (!network_needs_dnsmasq(n))
		return "not-needed";
	return names[n->dm_state];
}

json_object *lease_to_json(const struct network *n, const struct dhcp_lease *l)
{
	json_object *o = json_object_new_object();
	char ip[INET6_ADDRSTRLEN], mac[18];

	if (!o)
		return NULL;
	inet_ntop(l->ip.family, &l->ip.a, ip, sizeof(ip));
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", l->mac[0], l->mac[1], l->mac[2],
		 l->mac[3], l->mac[4], l->mac[5]);
	json_object_object_add(o, "mac", l->has_mac ? json_object_new_string(mac) : NULL);
	json_object_object_add(o, "ip", json_object_new_string(ip));
	json_object_object_add(o, "hostname", l->hostname[0] ? json_object_new_string(l->hostname) : NULL);
	json_object_object_add(o, "expires", json_object_new_int64(l->expires));
	json_object_object_add(o, "network", json_object_new_string(n->cfg->name));
	if (l->client_id[0])
		json_object_object_add(o, "client_id", json_object_new_string(l->client_id));
	return o;
}

static json_object *network_json(struct netd *d, struct network *n, bool detail)
{
	json_object *o = json_object_new_object(), *addrs = json_object_new_array();
	struct net_config *cfg = n->cfg;

	if (!o || !addrs) {
		json_object_put(o);
		json_object_put(addrs);
		return NULL;
	}
	json_object_object_add(o, "name", json_object_new_string(cfg->name));
	json_object_object_add(o, "mode", json_object_new_string(net_mode_to_string(cfg->mode)));
	json_object_object_add(o, "bridge", json_object_new_string(cfg->bridge));
	json_object_object_add(o, "state", json_object_new_string(network_state(n)));
	for (size_t i = 0; i < cfg->n_addrs; i++)
		json_object_array_add(addrs, addr_json(&cfg->addrs[i]));
	json_object_object_add(o, "addresses", addrs);
	json_object_object_add(o, "ports", json_object_new_int64((int64_t)n->n_ports));
	json_object_object_add(o, "leases", json_object_new_int64((int64_t)n->n_leases));

	json_object *dm = json_object_new_object();

	json_object_object_add(dm, "state", json_object_new_string(dnsmasq_state(n)));
	json_object_object_add(dm, "pid", n->dm_pid ? json_object_new_int64(n->dm_pid) : NULL);
	json_object_object_add(dm, "error", n->dm_error[0] ? json_object_new_string(n->dm_error) : NULL);
	json_object_object_add(dm, "restarts", json_object_new_int64(n->dm_failures));
	json_object_object_add(o, "dnsmasq", dm);
	if (!detail)
		return o;

	json_object *plist = json_object_new_array(), *llist = json_object_new_array(),
		    *fwd = json_object_new_array();
	size_t it;
	char s[INET6_ADDRSTRLEN];

	json_object_object_add(o, "file", cfg->path[0] ? json_object_new_string(cfg->path) : NULL);
	json_object_object_add(o, "uplink", cfg->uplink[0] ? json_object_new_string(cfg->uplink) : NULL);
	json_object_object_add(o, "mtu", json_object_new_int64(n->mtu));
	json_object_object_add(o, "ifindex", json_object_new_int64(n->ifindex));
	json_object_object_add(o, "dhcp", json_object_new_boolean(cfg->dhcp));
	if (cfg->dhcp && cfg->range_start.family) {
		char e[INET6_ADDRSTRLEN], buf[2 * INET6_ADDRSTRLEN + 2];

		snprintf(buf, sizeof(buf), "%s-%s", ipaddr_to_string(&cfg->range_start, s, sizeof(s)),
			 ipaddr_to_string(&cfg->range_end, e, sizeof(e)));
		json_object_object_add(o, "range", json_object_new_string(buf));
	}
	json_object_object_add(o, "dns", json_object_new_boolean(cfg->dns));
	json_object_object_add(o, "domain", cfg->domain[0] ? json_object_new_string(cfg->domain) : NULL);
	for (size_t i = 0; i < cfg->n_forwards; i++) {
		char buf[128];
		const struct net_forward *f = &cfg->forwards[i];

		snprintf(buf, sizeof(buf), "%s/%u=%s:%u", f->proto == IPPROTO_TCP ? "tcp" : "udp",
			 f->host_port, ipaddr_to_string(&f->guest, s, sizeof(s)), f->guest_port);
		json_object_array_add(fwd, json_object_new_string(buf));
	}
	json_object_object_add(o, "forwards", fwd);
	for (struct port *p = ports_first(d, &it); p; p = ports_next(d, p, &it))
		if (strcmp(p->network, cfg->name) == 0)
			json_object_array_add(plist, port_to_json(d, p));
	json_object_object_add(o, "port_list", plist);
	for (size_t i = 0; i < n->n_leases; i++)
		json_object_array_add(llist, lease_to_json(n, &n->leases[i]));
	json_object_object_add(o, "lease_list", llist);
	return o;
}

/*
 * Base chains of other tables that drop by policy on the hooks our guests'
 * traffic takes.  Our accepts cannot override another table's drop.
 */
static json_object *firewall_conflicts(struct netd *d)
{
	struct fw_foreign_chain *fc;
	json_object *arr = json_object_new_array();
	size_t n;

	if (!d->fw || fw_foreign_drops(d->fw, &fc, &n) < 0)
		return arr;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		char msg[512];

		snprintf(msg, sizeof(msg), "table %s %s, chain %s: hook %s, policy drop; netd's accepts cannot "
			 "override it, so guests' traffic it does not accept itself is dropped",
			 fc[i].family, fc[i].table, fc[i].chain, fc[i].hook);
		json_object_object_add(o, "family", json_object_new_string(fc[i].family));
		json_object_object_add(o, "table", json_object_new_string(fc[i].table));
		json_object_object_add(o, "chain", json_object_new_string(fc[i].chain));
		json_object_object_add(o, "hook", json_object_new_string(fc[i].hook));
		json_object_object_add(o, "priority", json_object_new_int(fc[i].priority));
		json_object_object_add(o, "message", json_object_new_string(msg));
		json_object_array_add(arr, o);
	}
	free(fc);
	return arr;
}

/* status, network.* */

static void op_status(struct client *c, const struct proto_request *req)
{
	struct netd *d = c->netd;
	json_object *o = json_object_new_object();
	size_t running = 0, leases = 0;

	for (size_t i = 0; i < d->n_nets; i++) {
		running += d->nets[i]->running;
		leases += d->nets[i]->n_leases;
	}
	json_object_object_add(o, "version", json_object_new_string(NETD_VERSION));
	json_object_object_add(o, "pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "uptime", json_object_new_int64(time(NULL) - d->started));
	json_object_object_add(o, "networks", json_object_new_int64((int64_t)d->n_nets));
	json_object_object_add(o, "running", json_object_new_int64((int64_t)running));
	json_object_object_add(o, "ports", json_object_new_int64((int64_t)d->n_ports));
	json_object_object_add(o, "leases", json_object_new_int64((int64_t)leases));
	json_object_object_add(o, "clients", json_object_new_int64((int64_t)d->n_clients));
	json_object_object_add(o, "firewall_repairs", json_object_new_int64(d->fw_repairs));
	json_object_object_add(o, "firewall_conflicts", firewall_conflicts(d));
	reply_ok(c, req, o);
}

static void op_network_list(struct client *c, const struct proto_request *req)
{
	struct netd *d = c->netd;
	json_object *o = json_object_new_object(), *arr = json_object_new_array();

	for (size_t i = 0; i < d->n_nets; i++)
		json_object_array_add(arr, network_json(d, d->nets[i], false));
	json_object_object_add(o, "networks", arr);
	reply_ok(c, req, o);
}

static void op_network_show(struct client *c, const struct proto_request *req)
{
	struct network *n = arg_network(c, req, false, false);
	json_object *o;

	if (!n)
		return;
	ports_learn_macs(c->netd);
	o = json_object_new_object();
	json_object_object_add(o, "network", network_json(c->netd, n, true));
	json_object_object_add(json_object_object_get(o, "network"), "firewall_conflicts",
			       firewall_conflicts(c->netd));
	reply_ok(c, req, o);
}

static void op_network_start(struct client *c, const struct proto_request *req)
{
	struct network *n = arg_network(c, req, false, false);
	json_object *o;
	int r;

	if (!n)
		return;
	if (!n->running) {
		r = network_start(n);
		if (r < 0) {
			client_error(c, req->id, E_FAILED, "cannot start network %s: %s", n->cfg->name,
				     n->dm_error[0] ? n->dm_error : strerror(-r));
			return;
		}
	}
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(n->cfg->name));
	json_object_object_add(o, "state", json_object_new_string(network_state(n)));
	reply_ok(c, req, o);
}

static void op_network_stop(struct client *c, const struct proto_request *req)
{
	struct network *n = arg_network(c, req, false, false);
	json_object *o;

	if (!n)
		return;
	if (n->running)
		network_stop(n);
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(n->cfg->name));
	json_object_object_add(o, "state", json_object_new_string(network_state(n)));
	reply_ok(c, req, o);
}

static void op_reload(struct client *c, const struct proto_request *req)
{
	json_object *outcome = json_object_new_array();
	int r = netd_reload(c->netd, outcome);

	if (r < 0) {
		json_object_put(outcome);
		client_error(c, req->id, E_FAILED, "cannot read the configuration: %s", strerror(-r));
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "networks", outcome);
	reply_ok(c, req, o);
}

static void op_subscribe(struct client *c, const struct proto_request *req)
{
	if (!c->subscribed)
		c->netd->n_subscribed++;
	c->subscribed = true;
	reply_ok(c, req, NULL);
}

/* Ports */

static int check_ifname_arg(struct client *c, const struct proto_request *req, const char *ifname)
{
	if (!ifname)
		return 0;
	if (!config_ifname_valid(ifname)) {
		client_error(c, req->id, E_INVALID, "%s: \"%.32s\" is not a valid interface name", req->op,
			     ifname);
		return -EINVAL;
	}
	return 0;
}

static int check_mac_arg(struct client *c, const struct proto_request *req, const char *s,
			 struct port *p)
{
	if (!s)
		return 0;
	if (mac_parse(s, p->mac) < 0) {
		client_error(c, req->id, E_INVALID, "%s: \"%.32s\" is not a unicast MAC address", req->op, s);
		return -EINVAL;
	}
	p->has_mac = true;
	return 0;
}

/* Common checks of port.open/create/attach: network, access, quota, mac. */
static struct network *port_prologue(struct client *c, const struct proto_request *req,
				     struct port *tmpl, const char **ifname)
{
	struct netd *d = c->netd;
	struct network *n;
	const char *mac = NULL;
	char why[MSG_LEN];

	n = arg_network(c, req, true, true);
	if (!n)
		return NULL;
	if (!may_use(c, n, why, sizeof(why))) {
		client_error(c, req->id, E_DENIED, "%s", why);
		return NULL;
	}
	if (!opt_string(c, req, "ifname", ifname) || !opt_string(c, req, "mac", &mac) ||
	    check_ifname_arg(c, req, *ifname) < 0)
		return NULL;
	memset(tmpl, 0, sizeof(*tmpl));
	if (check_mac_arg(c, req, mac, tmpl) < 0)
		return NULL;
	if (c->uid != 0 && ports_of_user(d, c->uid) >= MAX_PORTS_PER_USER) {
		client_error(c, req->id, E_LIMIT, "%s already holds %d ports (the limit per user)",
			     user_name(c->uid, why, sizeof(why)), MAX_PORTS_PER_USER);
		return NULL;
	}
	snprintf(tmpl->network, sizeof(tmpl->network), "%s", n->cfg->name);
	tmpl->owner = c->uid;
	if (tmpl->has_mac) {
		struct port *p = port_find_guest_mac(d, tmpl->network, tmpl->mac);

		if (p) {
			client_error(c, req->id, E_EXISTS, "%s: MAC %s is already the guest MAC of port %s",
				     req->op, mac, p->ifname);
			return NULL;
		}
	}
	return n;
}

static json_object *port_reply(struct netd *d, const struct port *p)
{
	json_object *o = port_to_json(d, p);

	return o ? o : json_object_new_object();
}

static int make_tap(struct client *c, const struct proto_request *req, struct network *n,
		    struct port *tmpl, const char *ifname, bool persist, unsigned int queues, int *fds)
{
	struct netd *d = c->netd;
	char alias[128];
	int r;

	port_alias_format(alias, sizeof(alias), tmpl);
	/* Without a name from the caller: netd-tN, N counted here; after a
	 * few names taken by others, the kernel's own netd-t%d. */
	for (unsigned int tries = 0;; tries++) {
		char name[IF_NAMESIZE];
		const char *want = ifname;

		if (!ifname && tries < 8) {
			if (d->next_tap >= NETD_TAP_MAX)
				d->next_tap = 0;
			snprintf(name, sizeof(name), NETD_TAP_PREFIX "%u", d->next_tap++);
			want = name;
		}
		r = rtnl_tap_create(d->rt, &(struct rtnl_tap_opts){
					.name = want, .vnet_hdr = true, .persist = persist,
					.owner = persist ? tmpl->owner : (uid_t)-1, .queues = queues,
					.alias = alias, .group = NETD_PORT_GROUP, .master = n->ifindex,
					.mtu = n->mtu, .no_ipv6 = true },
				    fds, tmpl->ifname, &tmpl->ifindex);
		if (ifname || !want || r != -EEXIST)
			break;
	}
	if (r < 0) {
		const char *em = rtnl_errmsg(d->rt);

		if (r == -EEXIST || r == -EBUSY)
			client_error(c, req->id, E_EXISTS, "%s: interface %s already exists", req->op,
				     ifname ? ifname : "?");
		else
			client_error(c, req->id, E_FAILED, "%s: cannot create the TAP: %s%s%s", req->op,
				     strerror(-r), *em ? ": " : "", em);
		return r;
	}
	tmpl->up = true;
	return 0;
}

/* "queues": how many fds (multiqueue TAP), 1 when absent. */
static int queues_arg(struct client *c, const struct proto_request *req, uint32_t *ret)
{
	char msg[MSG_LEN];
	int r = proto_arg_uint(req->args, "queues", PROTO_MAX_FDS, ret, msg, sizeof(msg));

	if (r == -ENOENT) {
		*ret = 1;
		return 0;
	}
	if (r < 0 || *ret == 0) {
		client_error(c, req->id, E_INVALID, "%s: %s", req->op,
			     r < 0 ? msg : "argument \"queues\" must be 1 or more");
		return -EINVAL;
	}
	return 0;
}

static void op_port_open(struct client *c, const struct proto_request *req)
{
	struct netd *d = c->netd;
	int fds[PROTO_MAX_FDS];
	const char *ifname = NULL;
	uint32_t queues = 1;
	struct network *n;
	struct port tmpl;
	json_object *o;

	n = port_prologue(c, req, &tmpl, &ifname);
	if (!n || queues_arg(c, req, &queues) < 0)
		return;
	tmpl.kind = PORT_OPEN;
	if (make_tap(c, req, n, &tmpl, ifname, false, queues, fds) < 0)
		return;
	if (!port_add(d, &tmpl)) {
		for (uint32_t i = 0; i < queues; i++)
			close(fds[i]);
		client_error(c, req->id, E_FAILED, "out of memory");
		return;
	}
	o = port_reply(d, &tmpl);
	json_object_object_add(o, "queues", json_object_new_int64(queues));
	/* netd keeps no copy: the port lives as long as the caller's fds. */
	client_send(c, proto_reply_ok(req->id, o), fds, queues);
}

/* "owner": a user name or a uid; only root may name someone else. */
static int owner_arg(struct client *c, const struct proto_request *req, uid_t *ret)
{
	const char *s = NULL;
	char msg[MSG_LEN];
	uint32_t uid;
	int r;

	*ret = c->uid;
	r = proto_arg_string(req->args, "owner", &s, msg, sizeof(msg));
	if (r == -EINVAL) {
		r = proto_arg_uint(req->args, "owner", UINT32_MAX - 1, &uid, msg, sizeof(msg));
		if (r < 0) {
			client_error(c, req->id, E_INVALID, "%s: argument \"owner\" must be a user name or uid",
				     req->op);
			return -EINVAL;
		}
		*ret = uid;
	} else if (r == 0) {
		struct passwd *pw = getpwnam(s);

		if (!pw) {
			client_error(c, req->id, E_NOT_FOUND, "%s: no user named %.64s", req->op, s);
			return -ENOENT;
		}
		*ret = pw->pw_uid;
	}
	if (*ret != c->uid && c->uid != 0) {
		client_error(c, req->id, E_DENIED, "%s: only root may create ports for another user",
			     req->op);
		return -EPERM;
	}
	return 0;
}

static void op_port_create(struct client *c, const struct proto_request *req)
{
	struct netd *d = c->netd;
	int fds[PROTO_MAX_FDS];
	const char *ifname = NULL;
	uint32_t queues = 1;
	struct network *n;
	struct port tmpl;
	uid_t owner;

	n = port_prologue(c, req, &tmpl, &ifname);
	if (!n || owner_arg(c, req, &owner) < 0 || queues_arg(c, req, &queues) < 0)
		return;
	tmpl.owner = owner;
	tmpl.kind = PORT_PERSISTENT;
	if (make_tap(c, req, n, &tmpl, ifname, true, queues, fds) < 0)
		return;
	for (uint32_t i = 0; i < queues; i++)
		close(fds[i]);
	if (!port_add(d, &tmpl)) {
		(void)rtnl_link_delete(d->rt, tmpl.ifindex);
		client_error(c, req->id, E_FAILED, "out of memory");
		return;
	}
	reply_ok(c, req, port_reply(d, &tmpl));
}

/* The uid owning a TAP, from sysfs; -1 if not a TAP or no owner. */
static long tap_owner(const char *ifname)
{
	char path[128], buf[32];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path), "/sys/class/net/%s/owner", ifname);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static void op_port_attach(struct client *c, const struct proto_request *req)
{
	struct netd *d = c->netd;
	const char *ifname = NULL;
	struct rtnl_link link;
	struct network *n;
	struct port tmpl;
	char alias[128];
	int r;

	n = port_prologue(c, req, &tmpl, &ifname);
	if (!n)
		return;
	if (!ifname) {
		client_error(c, req->id, E_INVALID, "%s: argument \"ifname\" is required", req->op);
		return;
	}
	r = rtnl_link_get(d->rt, ifname, &link);
	if (r < 0) {
		client_error(c, req->id, E_NOT_FOUND, "%s: no interface named %s", req->op, ifname);
		return;
	}
	if (port_find(d, link.ifindex)) {
		client_error(c, req->id, E_EXISTS, "%s: %s is already a port", req->op, ifname);
		return;
	}
	if (strcmp(link.kind, "bridge") == 0 || link.ifindex == n->ifindex ||
	    (link.master && link.master != n->ifindex)) {
		client_error(c, req->id, E_STATE, "%s: %s is a bridge or already enslaved elsewhere",
			     req->op, ifname);
		return;
	}
	if (c->uid != 0 && (strcmp(link.kind, "tun") != 0 || tap_owner(ifname) != (long)c->uid)) {
		client_error(c, req->id, E_DENIED, "%s: only root may attach %s: it is not a TAP owned by "
			     "uid %u", req->op, ifname, (unsigned)c->uid);
		return;
	}
	tmpl.kind = PORT_ATTACHED;
	tmpl.ifindex = link.ifindex;
	snprintf(tmpl.ifname, sizeof(tmpl.ifname), "%s", link.name);
	port_alias_format(alias, sizeof(alias), &tmpl);
	r = rtnl_port_setup(d->rt, link.ifindex, &(struct rtnl_port_opts){
				    .master = n->ifindex, .mtu = n->mtu, .alias = alias, .up = true });
	if (r < 0) {
		client_error(c, req->id, E_FAILED, "%s: cannot enslave %s to %s: %s%s%s", req->op, ifname,
			     n->cfg->bridge, strerror(-r), *rtnl_errmsg(d->rt) ? ": " : "",
			     rtnl_errmsg(d->rt));
		return;
	}
	tmpl.up = true;
	if (!port_add(d, &tmpl)) {
		client_error(c, req->id, E_FAILED, "out of memory");
		return;
	}
	reply_ok(c, req, port_reply(d, &tmpl));
}

static void op_port_detach(struct client *c, const struct proto_request *req)
{
	struct netd *d = c->netd;
	const char *ifname = NULL;
	char msg[MSG_LEN];
	struct port *p;
	json_object *o;
	uid_t owner = 0;
	int ifindex, r;

	r = proto_arg_string(req->args, "ifname", &ifname, msg, sizeof(msg));
	if (r < 0) {
		client_error(c, req->id, E_INVALID, "%s: %s", req->op,
			     r == -ENOENT ? "argument \"ifname\" is required" : msg);
		return;
	}
	/*
	 * By the link the name designates now: the kernel reuses a deleted
	 * TAP's name at once, possibly before its deletion event reached us,
	 * so the table may briefly hold a stale port of the same name.
	 * SIOCGIFINDEX, unlike RTM_GETLINK, does not wait for the rtnl lock,
	 * which the reaper holds while the kernel deletes a chunk.
	 */
	ifindex = config_ifname_valid(ifname) ? (int)if_nametoindex(ifname) : 0;
	p = ifindex > 0 ? port_find(d, ifindex) : NULL;
	r = -ENOENT;
	/* A detach of it is under way: this one waits for the same end. */
	if (ifindex > 0 && !p && (r = port_detach_join(d, ifindex, c, req->id, &owner)) == 0)
		return;
	if (p) {
		owner = p->owner;
		r = c->uid != 0 && owner != c->uid ? -EPERM : 0;
	}
	if (r == -EPERM) {
		client_error(c, req->id, E_DENIED, "%s: port %s belongs to uid %u", req->op, ifname,
			     (unsigned)owner);
		return;
	}
	if (!p) {
		client_error(c, req->id, r == -ENOENT ? E_NOT_FOUND : E_FAILED, "%s: %.32s %s", req->op,
			     ifname, r == -ENOENT ? "is not a netd port" : strerror(-r));
		return;
	}
	/* netd's TAPs go to the reaper; the reply waits for the deletion. */
	if (p->kind != PORT_ATTACHED && d->reaper) {
		r = port_detach_deferred(d, p, c, req->id);
		if (r < 0)
			client_error(c, req->id, E_FAILED, "%s: %s: %s", req->op, ifname, strerror(-r));
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "ifname", json_object_new_string(p->ifname));
	r = port_remove(d, p);
	if (r < 0) {
		json_object_put(o);
		client_error(c, req->id, E_FAILED, "%s: %s: %s", req->op, ifname, strerror(-r));
		return;
	}
	reply_ok(c, req, o);
}

/* By network, then interface name, so the list does not come in hash order. */
static int cmp_port_json(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b, *v;
	const char *xs[2], *ys[2];
	const char *keys[2] = { "network", "ifname" };

	for (int i = 0; i < 2; i++) {
		xs[i] = json_object_object_get_ex(x, keys[i], &v) ? json_object_get_string(v) : "";
		ys[i] = json_object_object_get_ex(y, keys[i], &v) ? json_object_get_string(v) : "";
	}
	return strcmp(xs[0], ys[0]) ? strcmp(xs[0], ys[0]) : strverscmp(xs[1], ys[1]);
}

static void op_port_list(struct client *c, const struct proto_request *req)
{
	struct netd *d = c->netd;
	json_object *o, *arr;
	const char *net = NULL;
	size_t it;

	if (!opt_string(c, req, "network", &net))
		return;
	if (net && !netd_find_network(d, net)) {
		client_error(c, req->id, E_NOT_FOUND, "no network named %.64s", net);
		return;
	}
	ports_learn_macs(d);
	arr = json_object_new_array();
	for (struct port *p = ports_first(d, &it); p; p = ports_next(d, p, &it)) {
		if ((net && strcmp(p->network, net) != 0) || (c->uid != 0 && p->owner != c->uid))
			continue;
		json_object_array_add(arr, port_to_json(d, p));
	}
	json_object_array_sort(arr, cmp_port_json);
	o = json_object_new_object();
	json_object_object_add(o, "ports", arr);
	reply_ok(c, req, o);
}

static void op_lease_list(struct client *c, const struct proto_request *req)
{
	struct netd *d = c->netd;
	json_object *o, *arr;
	const char *net = NULL;

	if (!opt_string(c, req, "network", &net))
		return;
	if (net && !netd_find_network(d, net)) {
		client_error(c, req->id, E_NOT_FOUND, "no network named %.64s", net);
		return;
	}
	arr = json_object_new_array();
	for (size_t i = 0; i < d->n_nets; i++) {
		struct network *n = d->nets[i];

		if (net && strcmp(n->cfg->name, net) != 0)
			continue;
		for (size_t j = 0; j < n->n_leases; j++)
			json_object_array_add(arr, lease_to_json(n, &n->leases[j]));
	}
	o = json_object_new_object();
	json_object_object_add(o, "leases", arr);
	reply_ok(c, req, o);
}

static const char *const no_args[] = { NULL };
static const char *const name_args[] = { "name", "network", NULL };
static const char *const open_args[] = { "network", "mac", "ifname", "queues", NULL };
static const char *const create_args[] = { "network", "mac", "ifname", "owner", "queues", NULL };
static const char *const attach_args[] = { "network", "mac", "ifname", NULL };
static const char *const detach_args[] = { "ifname", NULL };
static const char *const filter_args[] = { "network", NULL };

static const struct op ops[] = {
	{ "status", op_status, no_args, false },
	{ "network.list", op_network_list, no_args, false },
	{ "network.show", op_network_show, name_args, false },
	{ "network.start", op_network_start, name_args, true },
	{ "network.stop", op_network_stop, name_args, true },
	{ "port.open", op_port_open, open_args, false },
	{ "port.create", op_port_create, create_args, false },
	{ "port.attach", op_port_attach, attach_args, false },
	{ "port.detach", op_port_detach, detach_args, false },
	{ "port.list", op_port_list, filter_args, false },
	{ "lease.list", op_lease_list, filter_args, false },
	{ "reload", op_reload, no_args, true },
	{ "events.subscribe", op_subscribe, no_args, false },
};

void ops_dispatch(struct client *c, const struct proto_request *req)
{
	char msg[MSG_LEN];

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(ops[i].name, req->op) != 0)
			continue;
		if (ops[i].root_only && c->uid != 0) {
			client_error(c, req->id, E_DENIED, "%s: only root may do this", req->op);
			return;
		}
		if (proto_args_check(req->args, ops[i].args, msg, sizeof(msg)) < 0) {
			client_error(c, req->id, E_INVALID, "%s: %s", req->op, msg);
			return;
		}
		log_debug(NULL, "uid %u: %s", (unsigned)c->uid, req->op);
		ops[i].fn(c, req);
		return;
	}
	client_error(c, req->id, E_UNKNOWN_OP, "unknown operation \"%.64s\"", req->op);
}
