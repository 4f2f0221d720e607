/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Upstream DNS servers for every network's dnsmasq.
 *
 * dnsmasq runs with no-resolv and a servers-file= that netd writes from the
 * host's resolv.conf (see dhcp.h for why: one inotify instance per dnsmasq
 * would cap DHCP at ~120 networks).  netd watches resolv.conf once, on the
 * loop's inotify instance: the directory of the path (the file or symlink
 * is usually replaced by a rename) and, when it is a symlink, the directory
 * of its target (systemd-resolved and resolvconf rewrite the target).  When
 * the servers change, every dnsmasq serving DNS gets a SIGHUP, which makes
 * it re-read its servers-file.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "netd/log.h"
#include "netd/netd.h"

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM)

/* Watch the directory of path for events on its last component. */
static int watch_dir_of(struct netd *d, const char *path, int slot)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;
	int wd;

	if (!slash || len >= sizeof(dir))
		return -EINVAL;
	memcpy(dir, path, len);
	dir[len ? len : 1] = '\0';
	if (!len)
		dir[0] = '/';
	snprintf(d->resolv_name[slot], sizeof(d->resolv_name[slot]), "%s", slash + 1);
	wd = inotify_add_watch(d->inofd, dir, WATCH_MASK);
	if (wd < 0)
		return -errno;
	d->resolv_wd[slot] = wd;
	return 0;
}

/* Watch where resolv.conf points now, if it is a symlink (slot 1). */
static void watch_target(struct netd *d)
{
	char *target = realpath(d->resolv_conf, NULL);

	if (d->resolv_wd[1] >= 0 && d->resolv_wd[1] != d->resolv_wd[0])
		inotify_rm_watch(d->inofd, d->resolv_wd[1]);
	d->resolv_wd[1] = -1;
	if (target && strcmp(target, d->resolv_conf) != 0 && watch_dir_of(d, target, 1) < 0)
		log_debug(NULL, "cannot watch %s, the target of %s", target, d->resolv_conf);
	free(target);
}

/* Rewrite the servers file; SIGHUP every dnsmasq serving DNS if it changed. */
static void refresh(struct netd *d, bool signal_dnsmasq)
{
	bool changed = false;
	int r = dhcp_write_servers(d->run_dir, d->resolv_conf, &changed);

	if (r < 0) {
		log_warn(NULL, "upstream DNS servers: %s", dhcp_errmsg());
		return;
	}
	if (!changed || !signal_dnsmasq)
		return;
	log_info(NULL, "%s changed: telling every dnsmasq to re-read its upstream servers",
		 d->resolv_conf);
	for (size_t i = 0; i < d->n_nets; i++) {
		struct network *n = d->nets[i];

		if (n->dm_pidfd >= 0 && n->cfg->dns)
			kill(n->dm_pid, SIGHUP);
	}
}

int upstream_init(struct netd *d)
{
	int r;

	if (!d->resolv_conf)
		d->resolv_conf = "/etc/resolv.conf";
	if (d->resolv_conf[0] != '/') {
		log_error(NULL, "NETD_RESOLV_CONF must be an absolute path, not %s", d->resolv_conf);
		return -EINVAL;
	}
	d->resolv_wd[0] = d->resolv_wd[1] = -1;
	r = watch_dir_of(d, d->resolv_conf, 0);
	if (r < 0)
		log_warn(NULL, "cannot watch %s: %s; upstream DNS servers are read only at start",
			 d->resolv_conf, strerror(-r));
	watch_target(d);
	refresh(d, false);
	return 0;
}

bool upstream_event(struct netd *d, const struct inotify_event *ev)
{
	bool mine = false;

	if (ev->wd != d->resolv_wd[0] && ev->wd != d->resolv_wd[1])
		return false;
	for (int i = 0; i < 2; i++)
		mine |= ev->wd == d->resolv_wd[i] && ev->len &&
			strcmp(ev->name, d->resolv_name[i]) == 0;
	if (mine) {
		watch_target(d);	/* the symlink may point elsewhere now */
		refresh(d, true);
	}
	return true;
}
