/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netd: the daemon.  One epoll loop: a signalfd (TERM, INT, HUP), a pidfd per
 * dnsmasq, a timerfd for dnsmasq restarts and an inotify watch on
 * RUN_DIR/dnsmasq telling when a dnsmasq has written its pid file (it is
 * then serving).
 *
 * Start-up order: read the configuration and what the kernel has, make each
 * network's bridge and addresses, commit the firewall in one batch, turn on
 * forwarding, start or adopt dnsmasq, remove what an older configuration
 * left, then write RUN_DIR/netd.pid once every dnsmasq serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "firewall/fw.h"
#include "netd/control.h"
#include "netd/log.h"
#include "netd/netd.h"
#include "netd/ports.h"
#include "netlink/rtnl.h"

/* How long start-up waits for dnsmasq pid files before declaring ready. */
#define READY_TIMEOUT_MS 5000

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void crashpoint(const char *name)
{
	static const char *at;
	static bool read;

	if (!read) {
		at = getenv("NETD_CRASH_AT");
		read = true;
	}
	if (at && strcmp(at, name) == 0) {
		log_warn(NULL, "NETD_CRASH_AT=%s: killing myself", name);
		raise(SIGKILL);
	}
}

int netd_watch(struct netd *d, int fd, struct source *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void netd_unwatch(struct netd *d, int fd)
{
	(void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* Arm the timer for the earliest pending dnsmasq restart (or the ready deadline). */
void netd_arm_timer(struct netd *d)
{
	struct itimerspec its = { 0 };
	uint64_t next = d->ready ? 0 : d->ready_deadline_ms, now = now_ms();
	time_t expiry = leases_next_expiry(d);

	if (expiry) {
		/* Wall-clock expiry onto the monotonic clock. */
		time_t in = expiry - time(NULL);
		uint64_t at = now + (in > 0 ? (uint64_t)in * 1000 : 0) + 10;

		if (!next || at < next)
			next = at;
	}

	for (size_t i = 0; i < d->n_nets; i++) {
		struct network *n = d->nets[i];

		if (n->dm_state == DNSMASQ_BACKOFF && (!next || n->dm_restart_at_ms < next))
			next = n->dm_restart_at_ms;
	}
	if (next) {
		uint64_t in = next > now ? next - now : 1;

		its.it_value.tv_sec = (time_t)(in / 1000);
		its.it_value.tv_nsec = (long)(in % 1000) * 1000000;
	}
	timerfd_settime(d->timerfd, 0, &its, NULL);
}

static const enum fw_mode fw_modes[] = {
	[NET_MODE_NAT] = FW_MODE_NAT,
	[NET_MODE_ROUTED] = FW_MODE_ROUTED,
	[NET_MODE_ISOLATED] = FW_MODE_ISOLATED,
};

unsigned int netd_bridge_group(const struct net_config *c)
{
	/* a Mode=bridge network's bridge is the admin's: no group of ours */
	return c->mode == NET_MODE_BRIDGE ? 0 : fw_bridge_group(fw_modes[c->mode]);
}

/* One network as the firewall library sees it; pfx and fwd have room for it. */
static void fill_fw_network(const struct net_config *c, struct fw_network *fn,
			    struct fw_prefix *pfx, struct fw_forward *fwd)
{
	*fn = (struct fw_network){
		.name = c->name, .bridge = c->bridge, .mode = fw_modes[c->mode],
		.uplink = c->uplink, .prefixes = pfx, .n_prefixes = c->n_addrs,
		.forwards = fwd, .n_forwards = c->mode == NET_MODE_NAT ? c->n_forwards : 0,
	};
	for (size_t j = 0; j < c->n_addrs; j++, pfx++) {
		pfx->family = c->addrs[j].addr.family;
		memcpy(&pfx->host, c->addrs[j].addr.a.b, 16);
		pfx->len = c->addrs[j].len;
	}
	for (size_t j = 0; j < c->n_forwards; j++, fwd++) {
		*fwd = (struct fw_forward){
			.proto = c->forwards[j].proto,
			.host_port = c->forwards[j].host_port,
			.family = c->forwards[j].guest.family,
			.guest_port = c->forwards[j].guest_port,
		};
		memcpy(&fwd->guest, c->forwards[j].guest.a.b, 16);
	}
}

static struct fw_network *fw_networks(struct netd *d, size_t *ret_n, struct fw_prefix **ret_pfx,
				      struct fw_forward **ret_fwd)
{
	size_t n = 0, np = 0, nf = 0;
	struct fw_network *fn;
	struct fw_prefix *pfx;
	struct fw_forward *fwd;

	for (size_t i = 0; i < d->n_nets; i++) {
		np += d->nets[i]->cfg->n_addrs;
		nf += d->nets[i]->cfg->n_forwards;
	}
	fn = calloc(d->n_nets + 1, sizeof(*fn));
	pfx = calloc(np + 1, sizeof(*pfx));
	fwd = calloc(nf + 1, sizeof(*fwd));
	if (!fn || !pfx || !fwd) {
		free(fn);
		free(pfx);
		free(fwd);
		return NULL;
	}
	*ret_pfx = pfx;
	*ret_fwd = fwd;
	for (size_t i = 0; i < d->n_nets; i++) {
		struct net_config *c = d->nets[i]->cfg;

		if (!d->nets[i]->running || c->mode == NET_MODE_BRIDGE)
			continue;
		fill_fw_network(c, &fn[n++], pfx, fwd);
		pfx += c->n_addrs;
		fwd += c->n_forwards;
	}
	*ret_n = n;
	return fn;
}

/*
 * Add (or remove) one network's part of the ruleset in one batch of its
 * own, whatever the number of networks; anything unexpected (the table
 * gone, a clash) falls back to committing the whole table.
 */
static int firewall_one(struct netd *d, struct network *n, bool add)
{
	const struct net_config *c = n->cfg;
	struct fw_prefix pfx[NET_MAX_ADDRS];
	struct fw_forward *fwd;
	struct fw_network fn;
	int r;

	if (c->mode == NET_MODE_BRIDGE)
		return 0;
	fwd = calloc(c->n_forwards + 1, sizeof(*fwd));
	if (!fwd)
		return netd_firewall_sync(d);
	fill_fw_network(c, &fn, pfx, fwd);
	r = add ? fw_network_add(d->fw, &fn) : fw_network_del(d->fw, &fn);
	free(fwd);
	if (r < 0) {
		log_debug(c->name, "firewall: %s: %s; committing the whole table", strerror(-r),
			  fw_errmsg(d->fw));
		r = netd_firewall_sync(d);
	}
	return r;
}

/* Commit the ruleset for every running network in one batch. */
int netd_firewall_sync(struct netd *d)
{
	struct fw_prefix *pfx;
	struct fw_forward *fwd;
	struct fw_network *fn;
	size_t n;
	int r;

	fn = fw_networks(d, &n, &pfx, &fwd);
	if (!fn)
		return -ENOMEM;
	r = fw_sync(d->fw, fn, n);
	if (r < 0)
		log_error(NULL, "cannot commit nftables table inet %s: %s%s%s", FW_TABLE,
			  strerror(-r), *fw_errmsg(d->fw) ? ": " : "", fw_errmsg(d->fw));
	else
		log_debug(NULL, "firewall: %zu networks committed", n);
	free(fn);
	free(pfx);
	free(fwd);
	return r;
}

static void print_diags(struct diag *dg, FILE *f, bool as_log)
{
	for (size_t i = 0; i < dg->n; i++) {
		if (as_log)
			log_error(NULL, "%s", dg->lines[i]);
		else
			fprintf(f, "%s\n", dg->lines[i]);
	}
}

/*
 * Read the configuration and check it against the host.  With no network
 * files at all (none, not merely none valid), the built-in default network.
 */
static void saved_path(const struct netd *d, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/applied/%s.conf", d->state_dir, name);
}

/* Does path hold exactly len bytes of text? */
static bool file_holds(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char *buf = NULL;
	struct stat st;
	bool same = false;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size == len && (buf = malloc(len + 1)) &&
	    read(fd, buf, len + 1) == (ssize_t)len)
		same = memcmp(buf, text, len) == 0;
	free(buf);
	close(fd);
	return same;
}

/* Keep the text of each network file as last applied, for when it breaks. */
static void save_applied(struct netd *d, const struct net_config *c)
{
	char dir[4096], path[4096], tmp[4200];
	int fd;

	if (!c->text || c->from_saved)
		return;
	saved_path(d, c->name, path, sizeof(path));
	if (file_holds(path, c->text, c->text_len))
		return;		/* a restart: the same as last time */
	snprintf(dir, sizeof(dir), "%s/applied", d->state_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, c->text, c->text_len) != (ssize_t)c->text_len ||
	    rename(tmp, path) < 0) {
		log_warn(c->name, "cannot save the applied configuration to %s: %m", path);
		unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
}

static void forget_applied(struct netd *d, const char *name)
{
	char path[4096];

	saved_path(d, name, path, sizeof(path));
	unlink(path);
}

/*
 * STATE_DIR/started/NAME: an AutoStart=no network that network.start
 * brought up, so that a restarted netd adopts it as it runs instead of
 * taking it down.  network.stop removes it.
 */
static void started_path(const struct netd *d, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/started/%s", d->state_dir, name);
}

static void mark_started(struct netd *d, const struct net_config *c, bool on)
{
	char path[4096];
	int fd;

	started_path(d, c->name, path, sizeof(path));
	if (!on || c->autostart) {
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn(c->name, "cannot remove %s: %m", path);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == ENOENT) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s/started", d->state_dir);
		if (mkdir(dir, 0700) == 0 || errno == EEXIST)
			fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (fd < 0)
		log_warn(c->name, "cannot record in %s that it runs: %m; a restarted netd will "
			 "leave it stopped", path);
	else
		close(fd);
}

static bool was_started(const struct netd *d, const char *name)
{
	char path[4096];

	started_path(d, name, path, sizeof(path));
	return access(path, F_OK) == 0;
}

/*
 * A network whose file now has errors runs its last applied configuration
 * (saved in STATE_DIR/applied/) until the file is fixed, so a typo in a file
 * does not take down a running network across a restart.
 */
static void substitute_saved(struct netd *d, struct net_config **nets, size_t n,
			     const struct host_view *hv)
{
	for (size_t i = 0; i < n; i++) {
		struct net_config *c = nets[i], *saved = NULL;
		struct diag scratch = { 0 };
		char path[4096];

		if (c->valid || !c->path[0])
			continue;
		saved_path(d, c->name, path, sizeof(path));
		if (access(path, R_OK) < 0 || config_parse_file(path, &scratch, &saved) < 0 ||
		    !saved->valid) {
			net_config_free(saved);
			diag_free(&scratch);
			continue;
		}
		/* Checked against the others as they are now. */
		nets[i] = saved;
		config_validate_set(nets, n, hv, &scratch);
		diag_free(&scratch);
		if (!saved->valid) {
			nets[i] = c;
			net_config_free(saved);
			continue;
		}
		log_warn(c->name, "%s has errors: running its last applied configuration until it is fixed",
			 c->path);
		snprintf(saved->path, sizeof(saved->path), "%s", c->path);
		saved->from_saved = true;
		net_config_free(c);
	}
}

static int load_config(struct netd *d, struct rtnl *rt, struct diag *dg,
		       struct net_config ***ret, size_t *ret_n)
{
	struct host_view hv = { 0 };
	struct net_config **nets = NULL, *def;
	size_t n = 0;
	int r;

	r = config_load_dir(d->config_dir, dg, &nets, &n);
	if (r < 0)
		return r;
	if (rt) {
		r = host_view_read(rt, &hv);
		if (r < 0)
			log_warn(NULL, "cannot read links and routes: %s; not checking overlaps",
				 strerror(-r));
	}
	if (n == 0) {
		r = config_default_network(&hv, &def);
		if (r < 0) {
			diag_add(dg, "default", 0, "no free private /24 for the default network");
		} else {
			nets = malloc(sizeof(*nets));
			if (!nets) {
				net_config_free(def);
				host_view_free(&hv);
				return -ENOMEM;
			}
			nets[n++] = def;
		}
	}
	config_validate_set(nets, n, &hv, dg);
	if (d->state_dir_abs)
		substitute_saved(d, nets, n, &hv);
	host_view_free(&hv);
	*ret = nets;
	*ret_n = n;
	return 0;
}

static int do_check(struct netd *d)
{
	struct net_config **nets = NULL;
	struct rtnl *rt = NULL;
	struct diag dg = { 0 };
	size_t n = 0;
	int r;

	if (rtnl_open(&rt) < 0)
		rt = NULL;
	r = load_config(d, rt, &dg, &nets, &n);
	rtnl_close(rt);
	print_diags(&dg, stdout, false);
	for (size_t i = 0; i < n; i++)
		net_config_free(nets[i]);
	free(nets);
	r = r < 0 || dg.n ? 1 : 0;
	diag_free(&dg);
	return r;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * dnsmasq drops its privileges (to nobody) and re-reads its hosts files on
 * SIGHUP: every directory above them must be searchable by others, or
 * reservations and records silently stop working.
 */
static void check_searchable(const char *dir)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s", dir);
	for (;;) {
		char *slash;

		if (stat(path, &st) == 0 && !(st.st_mode & S_IXOTH))
			log_warn(NULL, "%s is not searchable by other users (mode %o): dnsmasq, which "
				 "runs as an unprivileged user, cannot read its files under %s",
				 path, st.st_mode & 07777, dir);
		slash = strrchr(path, '/');
		if (!slash || slash == path)
			break;
		*slash = '\0';
	}
}

/* One netd per RUN_DIR: hold an flock on RUN_DIR/netd.lock. */
static int take_lock(struct netd *d)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/netd.lock", d->run_dir);
	d->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (d->lockfd < 0)
		return -errno;
	if (flock(d->lockfd, LOCK_EX | LOCK_NB) < 0)
		return -errno;
	return 0;
}

static void write_pidfile(struct netd *d)
{
	char path[4096], tmp[4096], buf[32];
	int fd;

	snprintf(path, sizeof(path), "%s/netd.pid", d->run_dir);
	snprintf(tmp, sizeof(tmp), "%s/.netd.pid.tmp", d->run_dir);
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write(fd, buf, strlen(buf)) < 0 || rename(tmp, path) < 0)
		log_warn(NULL, "cannot write %s: %m", path);
	if (fd >= 0)
		close(fd);
}

static void check_ready(struct netd *d, bool deadline)
{
	if (d->ready)
		return;
	for (size_t i = 0; i < d->n_nets && !deadline; i++)
		if (d->nets[i]->dm_state == DNSMASQ_STARTING)
			return;
	for (size_t i = 0; deadline && i < d->n_nets; i++)
		if (d->nets[i]->dm_state == DNSMASQ_STARTING)
			log_warn(d->nets[i]->cfg->name, "dnsmasq has not written its pid file yet");
	d->ready = true;
	/* Start-up read whole link dumps (11,000 links: megabytes, freed
	 * since): give the heap's free pages back. */
	malloc_trim(0);
	write_pidfile(d);
	log_info(NULL, "ready: %zu networks", d->n_nets);
	netd_arm_timer(d);
}

static int setup_loop(struct netd *d)
{
	char path[4096];
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->inofd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (d->epfd < 0 || d->sigfd < 0 || d->timerfd < 0 || d->inofd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/dnsmasq", d->run_dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (inotify_add_watch(d->inofd, path, IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
		return -errno;
	d->sig_source = (struct source){ .kind = SOURCE_SIGNAL };
	d->timer_source = (struct source){ .kind = SOURCE_TIMER };
	d->ino_source = (struct source){ .kind = SOURCE_INOTIFY };
	if (netd_watch(d, d->sigfd, &d->sig_source) < 0 ||
	    netd_watch(d, d->timerfd, &d->timer_source) < 0 ||
	    netd_watch(d, d->inofd, &d->ino_source) < 0)
		return -errno;
	return 0;
}

/*
 * Networks by name and by bridge: two open-addressing hash tables over
 * d->nets, rebuilt whenever the list changes (netd_index_networks).  Every
 * port event names its network, so a linear search cost 1,000 string
 * compares per port with 1,000 networks.  Without the tables (out of
 * memory) the lookups walk the list.
 */
static size_t name_hash(const char *s)
{
	return netd_hash(s, strlen(s));
}

static const char *net_key(const struct network *n, bool bridge)
{
	return bridge ? n->cfg->bridge : n->cfg->name;
}

void netd_index_networks(struct netd *d)
{
	size_t cap = 16;

	free(d->net_by_name);
	free(d->net_by_bridge);
	d->net_by_name = d->net_by_bridge = NULL;
	d->net_index_cap = 0;
	while (cap < 2 * d->n_nets)
		cap <<= 1;
	d->net_by_name = calloc(cap, sizeof(*d->net_by_name));
	d->net_by_bridge = calloc(cap, sizeof(*d->net_by_bridge));
	if (!d->net_by_name || !d->net_by_bridge) {
		free(d->net_by_name);
		free(d->net_by_bridge);
		d->net_by_name = d->net_by_bridge = NULL;
		return;
	}
	d->net_index_cap = cap;
	for (size_t i = 0; i < d->n_nets; i++) {
		struct network *n = d->nets[i];

		if (!n)
			continue;
		for (int b = 0; b < 2; b++) {
			struct network **t = b ? d->net_by_bridge : d->net_by_name;
			size_t k = name_hash(net_key(n, b)) & (cap - 1);

			/* the first network of a name or bridge wins, as in the list */
			while (t[k] && strcmp(net_key(t[k], b), net_key(n, b)) != 0)
				k = (k + 1) & (cap - 1);
			if (!t[k])
				t[k] = n;
		}
	}
}

static struct network *find_net(struct netd *d, const char *key, bool bridge)
{
	struct network **t = bridge ? d->net_by_bridge : d->net_by_name;

	if (!d->net_index_cap) {
		for (size_t i = 0; i < d->n_nets; i++)
			if (d->nets[i] && strcmp(net_key(d->nets[i], bridge), key) == 0)
				return d->nets[i];
		return NULL;
	}
	for (size_t k = name_hash(key) & (d->net_index_cap - 1); t[k];
	     k = (k + 1) & (d->net_index_cap - 1))
		if (strcmp(net_key(t[k], bridge), key) == 0)
			return t[k];
	return NULL;
}

struct network *netd_find_network_by_bridge(struct netd *d, const char *bridge)
{
	return find_net(d, bridge, true);
}

struct network *netd_find_network(struct netd *d, const char *name)
{
	return find_net(d, name, false);
}

struct network *netd_find_network_or_bridge(struct netd *d, const char *name)
{
	struct network *n = find_net(d, name, false);

	return n ? n : find_net(d, name, true);
}

static json_object *network_event(struct network *n)
{
	json_object *o = json_object_new_object();

	if (o) {
		json_object_object_add(o, "network", json_object_new_string(n->cfg->name));
		json_object_object_add(o, "bridge", json_object_new_string(n->cfg->bridge));
	}
	return o;
}

/* The forwarding sysctls, on when a running nat or routed network needs them. */
static void enable_forwarding(struct netd *d)
{
	bool v4 = false, v6 = false;
	int r;

	for (size_t i = 0; i < d->n_nets; i++) {
		struct net_config *c = d->nets[i]->cfg;

		if (!d->nets[i]->running || (c->mode != NET_MODE_NAT && c->mode != NET_MODE_ROUTED))
			continue;
		for (size_t j = 0; j < c->n_addrs; j++) {
			v4 |= c->addrs[j].addr.family == AF_INET;
			v6 |= c->addrs[j].addr.family == AF_INET6;
		}
	}
	if (!v4 && !v6)
		return;
	r = sysctl_forwarding_enable(d->state_dir, v6);
	if (r < 0)
		log_error(NULL, "cannot enable IP forwarding: %s", strerror(-r));
}

/* network.start: links, one firewall batch, forwarding, dnsmasq. */
int network_start(struct network *n)
{
	struct netd *d = n->netd;
	int r;

	r = network_setup_links(n);
	if (r < 0)
		return r;
	n->running = true;
	r = firewall_one(d, n, true);
	if (r < 0) {
		n->running = false;
		return r;
	}
	enable_forwarding(d);
	r = network_start_dnsmasq(n);
	network_read_leases(n, false);
	mark_started(d, n->cfg, true);
	log_info(n->cfg->name, "started: %s, bridge %s", net_mode_to_string(n->cfg->mode), n->cfg->bridge);
	control_broadcast(d, "network.started", network_event(n));
	return r;
}

/* network.stop: ports, dnsmasq, bridge, then the firewall without it. */
int network_stop(struct network *n)
{
	struct netd *d = n->netd;
	int r;

	n->taps_reaping = ports_remove_network(d, n->cfg->name) > 0;
	r = network_teardown(n);
	(void)firewall_one(d, n, false);
	mark_started(d, n->cfg, false);
	log_info(n->cfg->name, "stopped");
	control_broadcast(d, "network.stopped", network_event(n));
	return r;
}

/*
 * Bring up the networks marked dirty (new or changed): links first, then one
 * firewall batch for all running networks, forwarding, then dnsmasq.
 */
static void start_networks(struct netd *d)
{
	struct addr_snapshot snap;

	/* One address dump for all networks, not one each. */
	if (addr_snapshot_take(d->rt, &snap) == 0)
		d->addr_snap = &snap;
	for (size_t i = 0; i < d->n_nets; i++) {
		struct network *n = d->nets[i];

		/*
		 * A changed network that runs is updated even if AutoStart=no;
		 * at start-up, one that network.start brought up is adopted.
		 */
		if (n->dirty && (n->cfg->autostart || n->running ||
				 (d->adopting && was_started(d, n->cfg->name)))) {
			n->running = network_setup_links(n) == 0;
			if (!n->running)
				n->dirty = false;
		}
	}
	d->addr_snap = NULL;
	addr_snapshot_free(&snap);
	crashpoint("links");
	netd_firewall_sync(d);
	crashpoint("firewall");
	enable_forwarding(d);
	for (size_t i = 0; i < d->n_nets; i++) {
		struct network *n = d->nets[i];

		if (!n->dirty)
			continue;
		n->dirty = false;
		if (!n->running)
			continue;
		network_start_dnsmasq(n);
		network_read_leases(n, false);
		save_applied(d, n->cfg);
		log_info(n->cfg->name, "up: %s, bridge %s", net_mode_to_string(n->cfg->mode),
			 n->cfg->bridge);
		control_broadcast(d, "network.started", network_event(n));
	}
}

/*
 * Make d->nets follow the configuration just read (start-up and reload).
 * Unchanged networks are not touched; a changed one is updated in place
 * unless its mode or bridge changed (then it is rebuilt); one whose file
 * is now invalid keeps running as it was; one whose file is gone is torn
 * down.  Takes ownership of every cfgs[i].
 */
static void outcome_add(json_object *out, const struct net_config *c, const char *what,
			const struct diag *dg)
{
	json_object *o, *errs;
	size_t plen = strlen(c->path);

	if (!out || !(o = json_object_new_object()))
		return;
	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "outcome", json_object_new_string(what));
	if (dg && c->path[0]) {
		errs = json_object_new_array();
		for (size_t i = 0; i < dg->n; i++)
			if (strncmp(dg->lines[i], c->path, plen) == 0 && dg->lines[i][plen] == ':')
				json_object_array_add(errs, json_object_new_string(dg->lines[i]));
		json_object_object_add(o, "errors", errs);
	}
	json_object_array_add(out, o);
}

/* Take a network out of the list: its ports, dnsmasq and bridge go. */
static void drop_network(struct netd *d, struct network *n)
{
	forget_applied(d, n->cfg->name);
	mark_started(d, n->cfg, false);
	n->taps_reaping = ports_remove_network(d, n->cfg->name) > 0;
	network_teardown(n);
	control_broadcast(d, "network.stopped", network_event(n));
	for (size_t j = 0; j < d->n_nets; j++)
		if (d->nets[j] == n)
			d->nets[j] = NULL;
	netd_index_networks(d);
	network_free(n);
}

/*
 * Make d->nets follow the configuration just read (start-up and reload).
 * Unchanged networks are not touched; a changed one is updated in place
 * unless its mode or bridge changed (then it is rebuilt); one whose file
 * is now invalid keeps running as it was; one whose file is gone is torn
 * down.  Takes ownership of every cfgs[i].  Each network's outcome is
 * appended to `out` (may be NULL).
 */
static int apply_config(struct netd *d, struct net_config **cfgs, size_t n_cfgs,
			const struct diag *dg, json_object *out)
{
	struct network **next = calloc(n_cfgs + d->n_nets + 1, sizeof(*next));
	size_t n_next = 0;

	if (!next)
		return -ENOMEM;
	for (size_t i = 0; i < n_cfgs; i++) {
		struct net_config *c = cfgs[i];
		struct network *old = netd_find_network(d, c->name);
		const char *what = old ? "changed" : "added";

		if (!c->valid || (c->from_saved && old)) {
			if (old) {
				log_error(c->name, "keeps running as it was: its file has errors");
				next[n_next++] = old;
				old->keep = true;
			} else {
				log_error(c->name, "not started: its file has errors");
			}
			outcome_add(out, c, "error", dg);
			net_config_free(c);
			continue;
		}
		if (c->from_saved)
			what = "error";
		if (old && net_config_equal(old->cfg, c)) {
			outcome_add(out, c, "unchanged", NULL);
			net_config_free(c);
			old->keep = true;
			next[n_next++] = old;
			continue;
		}
		if (old && (old->cfg->mode != c->mode || strcmp(old->cfg->bridge, c->bridge) != 0)) {
			log_info(c->name, "mode or bridge changed: rebuilding the network");
			drop_network(d, old);
			old = NULL;
			what = "rebuilt";
		}
		if (old) {
			log_info(c->name, "configuration changed: updating in place");
			net_config_free(old->cfg);
			old->cfg = c;
		} else {
			old = network_new(d, c);
			if (!old) {
				log_error(c->name, "cannot set up: %s", *dhcp_errmsg() ? dhcp_errmsg() : "out of memory");
				outcome_add(out, c, "error", NULL);
				net_config_free(c);
				continue;
			}
		}
		outcome_add(out, c, what, c->from_saved ? dg : NULL);
		old->keep = true;
		old->dirty = true;
		next[n_next++] = old;
	}
	for (size_t i = 0; i < d->n_nets; i++) {
		struct network *n = d->nets[i];

		if (!n || n->keep)
			continue;
		log_info(n->cfg->name, "no longer configured: tearing down");
		if (out) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "name", json_object_new_string(n->cfg->name));
			json_object_object_add(o, "outcome", json_object_new_string("removed"));
			json_object_array_add(out, o);
		}
		drop_network(d, n);
	}
	for (size_t j = 0; j < n_next; j++)
		next[j]->keep = false;
	free(d->nets);
	d->nets = next;
	d->n_nets = n_next;
	netd_index_networks(d);
	start_networks(d);
	return 0;
}

struct stale_ctx {
	struct netd *d;
	char **names;
	size_t n;
};

/* A bridge carrying our alias for a network no file describes any more. */
static bool name_listed(const struct stale_ctx *s, const char *net)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], net) == 0)
			return true;
	return false;
}

/*
 * An AutoStart=no network that was not started again at start-up: what a
 * netd left of it (killed while the reaper was deleting its bridge) goes.
 * A network that should run but failed to start keeps its links.
 */
static bool meant_stopped(const struct network *n)
{
	return !n->running && !n->cfg->autostart;
}

/*
 * A link carrying our alias for a network no file describes any more: its
 * bridge and the TAPs netd made for it go; links netd only attached are
 * released.  A network whose file is there but broken keeps everything.
 */
static int on_stale_link(const struct rtnl_link *l, void *data)
{
	struct stale_ctx *s = data;
	struct port p;
	struct network *n;
	const char *net;

	if (strcmp(l->kind, "bridge") == 0 &&
	    strncmp(l->alias, NETD_ALIAS_PREFIX, strlen(NETD_ALIAS_PREFIX)) == 0) {
		net = l->alias + strlen(NETD_ALIAS_PREFIX);
		n = netd_find_network(s->d, net);
		if ((n && strcmp(n->cfg->bridge, l->name) == 0 && !meant_stopped(n)) ||
		    (!n && name_listed(s, net)))
			return 0;
		log_info(net, "removing bridge %s: %s", l->name,
			 n && meant_stopped(n) ? "the network is stopped" : "no longer configured");
		(void)rtnl_link_delete(s->d->rt, l->ifindex);
		return 0;
	}
	if (port_alias_parse(l->alias, &p) < 0)
		return 0;
	n = netd_find_network(s->d, p.network);
	if ((n && !meant_stopped(n)) || (!n && name_listed(s, p.network)))
		return 0;
	log_info(p.network, "removing port %s: its network is %s", l->name,
		 n ? "stopped" : "no longer configured");
	if (p.kind == PORT_ATTACHED)
		(void)rtnl_port_setup(s->d->rt, l->ifindex, &(struct rtnl_port_opts){ .alias = "" });
	else
		(void)rtnl_link_delete(s->d->rt, l->ifindex);
	return 0;
}

static int on_stale_dnsmasq(pid_t pid, const char *conf, void *data)
{
	struct stale_ctx *s = data;
	const char *base = strrchr(conf, '/');
	size_t len;

	for (size_t i = 0; i < s->d->n_nets; i++)
		if (strcmp(s->d->nets[i]->paths.conf, conf) == 0 && s->d->nets[i]->running)
			return 0;
	/* RUN_DIR/dnsmasq/NAME.conf of a network whose file has errors: keep it. */
	base = base ? base + 1 : conf;
	len = strlen(base);
	for (size_t i = 0; len > 5 && i < s->n; i++) {
		if (strlen(s->names[i]) == len - 5 && strncmp(s->names[i], base, len - 5) == 0 &&
		    !netd_find_network(s->d, s->names[i])) {
			log_warn(s->names[i], "keeping dnsmasq (pid %d): its file is there but has errors", pid);
			return 0;
		}
	}
	log_info(NULL, "stopping dnsmasq (pid %d) of a network no longer configured (%s)", pid, conf);
	kill_and_wait(pid, 2000);
	return 0;
}

/*
 * What an earlier run made for networks that are gone from the
 * configuration.  Networks whose file is still there but now invalid keep
 * what they have (they are not in d->nets, but their name is in `keep`).
 */
static void remove_stale(struct netd *d, char **keep, size_t n_keep)
{
	struct stale_ctx s = { .d = d, .names = keep, .n = n_keep };

	rtnl_link_dump(d->rt, on_stale_link, &s);
	dhcp_find_all(d->run_dir, on_stale_dnsmasq, &s);
}

static void handle_signal(struct netd *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info(NULL, "%s: exiting, networks stay up", strsignal((int)si.ssi_signo));
			d->quit = true;
			break;
		case SIGHUP:
			d->reload = true;
			break;
		default:
			break;
		}
	}
}

static void handle_timer(struct netd *d)
{
	uint64_t exp, now = now_ms();

	(void)read(d->timerfd, &exp, sizeof(exp));
	for (size_t i = 0; i < d->n_nets; i++) {
		struct network *n = d->nets[i];

		if (n->dm_state == DNSMASQ_BACKOFF && n->dm_restart_at_ms <= now) {
			n->dm_state = DNSMASQ_NONE;
			if (network_start_dnsmasq(n) < 0) {
				/* Could not even spawn: keep backing off. */
				n->dm_state = DNSMASQ_BACKOFF;
				n->dm_restart_at_ms = now + 30000;
			}
		}
	}
	if (!d->ready && now >= d->ready_deadline_ms)
		check_ready(d, true);
	for (size_t i = 0; i < d->n_nets; i++)
		network_expire_leases(d->nets[i]);
	netd_arm_timer(d);
}

static void handle_inotify(struct netd *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;

	while ((len = read(d->inofd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			size_t nl = ev->len ? strlen(ev->name) : 0;

			p += sizeof(*ev) + ev->len;
			if (upstream_event(d, ev))
				continue;
			if (nl < 5 || strcmp(ev->name + nl - 4, ".pid") != 0)
				continue;
			ev->name[nl - 4] = '\0';
			struct network *n = netd_find_network(d, ev->name);
			if (n)
				network_dnsmasq_pidfile(n);
		}
	}
	check_ready(d, false);
}

/* Names of every network file, valid or not: what remove_stale() must keep. */
static char **config_names(struct net_config **cfgs, size_t n)
{
	char **names = calloc(n + 1, sizeof(*names));

	for (size_t i = 0; names && i < n; i++) {
		names[i] = strdup(cfgs[i]->name);
		if (!names[i]) {
			for (size_t j = 0; j < i; j++)
				free(names[j]);
			free(names);
			return NULL;
		}
	}
	return names;
}

static int load_and_apply(struct netd *d, bool startup, json_object *out)
{
	struct net_config **cfgs = NULL;
	struct diag dg = { 0 };
	size_t n_cfgs = 0;
	char **names;
	int r;

	r = load_config(d, d->rt, &dg, &cfgs, &n_cfgs);
	print_diags(&dg, stderr, true);
	if (r < 0) {
		diag_free(&dg);
		log_error(NULL, "cannot read the configuration in %s: %s", d->config_dir, strerror(-r));
		return r;
	}
	names = config_names(cfgs, n_cfgs);
	r = names ? apply_config(d, cfgs, n_cfgs, &dg, out) : -ENOMEM;
	diag_free(&dg);
	free(cfgs);
	if (r == 0 && startup)
		remove_stale(d, names, n_cfgs);
	for (size_t i = 0; names && i < n_cfgs; i++)
		free(names[i]);
	free(names);
	return r;
}

/*
 * Someone else changed our tables (nft flush ruleset, a delete, an edit):
 * put the whole ruleset back in one batch.  Conntrack entries survive a
 * flush, so established flows keep going once the table is back.
 */
static void handle_fwmon(struct netd *d)
{
	int r = fw_monitor_read(d->fwmon);

	if (r < 0) {
		log_warn(NULL, "nftables monitor: %s", strerror(-r));
		return;
	}
	if (r == 0)
		return;
	if (r == 2) {
		/*
		 * The event socket overflowed, which netd's own large commits
		 * can cause: repair only if a table is actually gone, or a
		 * repair's own events would overflow it again, for ever.
		 */
		bool inet = fw_table_exists(d->fw) != 0;
		bool bridge = !d->n_guarded || fw_guard_table_exists(d->fw) != 0;

		if (inet && bridge)
			return;
		log_warn(NULL, "nftables events were lost and table %s %s is gone",
			 inet ? "bridge" : "inet", FW_TABLE);
	} else {
		log_warn(NULL, "table inet %s was changed by another process: restoring it", FW_TABLE);
	}
	d->fw_repairs++;
	netd_firewall_sync(d);
	guard_sync_all(d);
}

static int fwmon_init(struct netd *d)
{
	int r = fw_monitor_open(&d->fwmon);

	if (r < 0)
		return r;
	d->fwmon_source = (struct source){ .kind = SOURCE_FWMON };
	return netd_watch(d, fw_monitor_fd(d->fwmon), &d->fwmon_source);
}

int netd_reload(struct netd *d, json_object *outcome)
{
	int r;

	log_info(NULL, "reloading the configuration");
	/* Reservations, AntiSpoofing= and IPv6 prefixes may have changed:
	 * one guard_sync_all() afterwards, not a batch per port meanwhile. */
	d->guard_deferred = d->mon != NULL;
	r = load_and_apply(d, false, outcome);
	d->guard_deferred = false;
	if (d->mon)
		guard_sync_all(d);
	return r;
}

static int run_loop(struct netd *d)
{
	struct epoll_event evs[32];

	while (!d->quit) {
		/* Clients with buffered requests: poll, don't sleep. */
		int n = epoll_wait(d->epfd, evs, 32, d->pending_clients ? 0 : -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error(NULL, "epoll_wait: %m");
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct source *src = evs[i].data.ptr;

			switch (src->kind) {
			case SOURCE_SIGNAL:
				handle_signal(d);
				break;
			case SOURCE_DNSMASQ:
				network_dnsmasq_exited(src->ptr);
				break;
			case SOURCE_TIMER:
				handle_timer(d);
				break;
			case SOURCE_INOTIFY:
				handle_inotify(d);
				break;
			case SOURCE_CONTROL:
				control_accept(d);
				break;
			case SOURCE_CLIENT:
				client_event(src->ptr, evs[i].events);
				break;
			case SOURCE_MONITOR:
				ports_monitor_event(d);
				break;
			case SOURCE_LEASES:
				leases_event(d);
				break;
			case SOURCE_FWMON:
				handle_fwmon(d);
				break;
			case SOURCE_REAPER:
				ports_reaper_event(d);
				break;
			}
		}
		/* After dispatch: a reload may free networks the events point to. */
		if (d->reload && !d->quit) {
			d->reload = false;
			netd_reload(d, NULL);
		}
		control_run_pending(d);
		control_reap(d);
	}
	return 0;
}

static int daemon_main(struct netd *d)
{
	char path[4096];
	int r;

	if ((r = mkdir_p(d->run_dir, 0755)) < 0 || (r = mkdir_p(d->state_dir, 0755)) < 0) {
		log_error(NULL, "cannot create %s or %s: %s", d->run_dir, d->state_dir, strerror(-r));
		return 1;
	}
	/* dnsmasq is given absolute paths: it may run from another directory. */
	d->run_dir = d->run_dir_abs = realpath(d->run_dir, NULL);
	d->state_dir = d->state_dir_abs = realpath(d->state_dir, NULL);
	if (!d->run_dir || !d->state_dir) {
		log_error(NULL, "cannot resolve the run or state directory: %m");
		return 1;
	}
	check_searchable(d->run_dir);
	r = take_lock(d);
	if (r < 0) {
		log_error(NULL, "%s: another netd is running with this run directory (%s)",
			  d->run_dir, strerror(-r));
		return 1;
	}
	if ((r = rtnl_open(&d->rt)) < 0 || (r = fw_open(&d->fw)) < 0) {
		log_error(NULL, "cannot open netlink: %s (netd needs CAP_NET_ADMIN)", strerror(-r));
		return 1;
	}
	r = setup_loop(d);
	if (r < 0) {
		log_error(NULL, "cannot set up the event loop: %s", strerror(-r));
		return 1;
	}
	d->started = time(NULL);
	r = reaper_start(&d->reaper);
	if (r < 0) {
		log_error(NULL, "cannot start the link reaper: %s", strerror(-r));
		return 1;
	}
	if (upstream_init(d) < 0)
		return 1;
	d->adopting = true;
	r = load_and_apply(d, true, NULL);
	d->adopting = false;
	if (r < 0)
		return 1;
	/* Ports and leases first, then table bridge netd in one batch. */
	d->guard_deferred = true;
	if ((r = ports_init(d)) < 0 || (r = leases_init(d)) < 0) {
		log_error(NULL, "cannot follow links and leases: %s", strerror(-r));
		return 1;
	}
	d->guard_deferred = false;
	/*
	 * Before netd follows nftables events: with a listener, the kernel
	 * builds a notification per element of the batch (10,000 ports: a
	 * third of the start-up).
	 */
	guard_sync_all(d);
	if ((r = fwmon_init(d)) < 0) {
		log_error(NULL, "cannot follow nftables events: %s", strerror(-r));
		return 1;
	}
	r = control_open(d);
	if (r < 0) {
		log_error(NULL, "cannot open the control socket in %s: %s", d->run_dir, strerror(-r));
		return 1;
	}

	d->ready_deadline_ms = now_ms() + READY_TIMEOUT_MS;
	check_ready(d, false);
	netd_arm_timer(d);
	r = run_loop(d);

	snprintf(path, sizeof(path), "%s/netd.pid", d->run_dir);
	unlink(path);
	return r < 0 ? 1 : 0;
}

static void netd_free(struct netd *d)
{
	control_close(d);
	d->reaper = reaper_stop(d->reaper);
	ports_free(d);
	d->fwmon = fw_monitor_close(d->fwmon);
	for (size_t i = 0; i < d->n_nets; i++)
		network_free(d->nets[i]);
	free(d->nets);
	free(d->net_by_name);
	free(d->net_by_bridge);
	rtnl_close(d->rt);
	fw_close(d->fw);
	free(d->run_dir_abs);
	free(d->state_dir_abs);
	for (int *fd = &d->epfd; fd <= &d->lockfd; fd++)
		if (*fd >= 0)
			close(*fd);
	if (d->leasefd >= 0)
		close(d->leasefd);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: netd [OPTIONS]\n"
		"Virtual networks for virtual machines: bridges, nftables, dnsmasq.\n\n"
		"  --config-dir DIR   configuration (default /etc/netd; networks in DIR/networks/*.conf)\n"
		"  --state-dir DIR    leases and saved state (default /var/lib/netd)\n"
		"  --run-dir DIR      runtime files and the control socket (default /run/netd)\n"
		"  --log-level LEVEL  error, warn, info (default) or debug\n"
		"  --check            validate the configuration, print FILE:LINE: problems, exit 0/1\n"
		"  --cleanup          remove every link, rule and dnsmasq netd made here, then exit\n"
		"  --version          print the version and exit\n"
		"  -h, --help         this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "check", no_argument, NULL, 'C' },
		{ "cleanup", no_argument, NULL, 'X' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct netd d = {
		.config_dir = "/etc/netd", .state_dir = "/var/lib/netd", .run_dir = "/run/netd",
		.epfd = -1, .sigfd = -1, .timerfd = -1, .inofd = -1, .lockfd = -1, .resolv_wd = { -1, -1 },
		.ctlfd = -1, .leasefd = -1,
	};
	bool check = false, cleanup = false;
	int c, r;

	setvbuf(stderr, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': d.config_dir = optarg; break;
		case 's': d.state_dir = optarg; break;
		case 'r': d.run_dir = optarg; break;
		case 'l':
			r = log_level_from_string(optarg);
			if (r < 0) {
				fprintf(stderr, "netd: --log-level: '%s' is not error, warn, info or debug\n",
					optarg);
				return 2;
			}
			log_max_level = (enum log_level)r;
			break;
		case 'C': check = true; break;
		case 'X': cleanup = true; break;
		case 'V': printf("netd %s\n", NETD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "netd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	d.dnsmasq_bin = getenv("NETD_DNSMASQ");
	d.resolv_conf = getenv("NETD_RESOLV_CONF");
	if (check)
		return do_check(&d);
	if (cleanup) {
		char lock[4096];
		int fd;

		snprintf(lock, sizeof(lock), "%s/netd.lock", d.run_dir);
		fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
			fprintf(stderr, "netd: --cleanup: netd is running with run directory %s; stop it first\n",
				d.run_dir);
			close(fd);
			return 1;
		}
		if (fd >= 0)
			close(fd);
		d.run_dir = d.run_dir_abs = realpath(d.run_dir, NULL) ?: strdup(d.run_dir);
		d.state_dir = d.state_dir_abs = realpath(d.state_dir, NULL) ?: strdup(d.state_dir);
		r = netd_cleanup(d.run_dir, d.state_dir) < 0 ? 1 : 0;
		netd_free(&d);
		return r;
	}
	r = daemon_main(&d);
	netd_free(&d);
	return r;
}
