/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * --cleanup, and the host settings netd changes (IP forwarding).
 *
 * Cleanup needs no state file: links are recognised by their netd alias,
 * dnsmasq processes by a --conf-file under RUN_DIR/dnsmasq, and the firewall
 * is our own table.  What the host had before (the forwarding sysctls) is
 * remembered in STATE_DIR when netd first changes it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "firewall/fw.h"
#include "netd/log.h"
#include "netd/netd.h"
#include "netd/ports.h"
#include "netlink/rtnl.h"

/* SIGTERM, wait up to timeout_ms for the exit, then SIGKILL. */
int kill_and_wait(pid_t pid, int timeout_ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p;

	if (fd < 0)
		return errno == ESRCH ? 0 : -errno;
	if (kill(pid, SIGTERM) < 0 && errno == ESRCH) {
		close(fd);
		return 0;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) == 0) {
		kill(pid, SIGKILL);
		p.revents = 0;
		poll(&p, 1, 1000);
	}
	close(fd);
	/* Reap it if it was our child; harmless otherwise. */
	waitpid(pid, NULL, WNOHANG);
	return 0;
}

static const struct {
	const char *path, *saved;
} forwarding[] = {
	{ "/proc/sys/net/ipv4/ip_forward", "ip_forward.orig" },
	{ "/proc/sys/net/ipv6/conf/all/forwarding", "ipv6_forwarding.orig" },
};

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int write_small(const char *path, const char *value, int flags)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | flags, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* Turn forwarding on, saving the old value the first time (only). */
int sysctl_forwarding_enable(const char *state_dir, bool v6)
{
	for (size_t i = 0; i < (v6 ? 2u : 1u); i++) {
		char cur[16], saved[4096];
		int r;

		r = read_small(forwarding[i].path, cur, sizeof(cur));
		if (r < 0)
			return r;
		if (strcmp(cur, "1") == 0)
			continue;
		snprintf(saved, sizeof(saved), "%s/%s", state_dir, forwarding[i].saved);
		r = write_small(saved, cur, O_CREAT | O_EXCL);
		if (r < 0 && r != -EEXIST)
			return r;
		r = write_small(forwarding[i].path, "1", 0);
		if (r < 0)
			return r;
		log_info(NULL, "enabled %s (was %s)", forwarding[i].path, cur);
	}
	return 0;
}

int sysctl_forwarding_restore(const char *state_dir)
{
	for (size_t i = 0; i < 2; i++) {
		char val[16], saved[4096];

		snprintf(saved, sizeof(saved), "%s/%s", state_dir, forwarding[i].saved);
		if (read_small(saved, val, sizeof(val)) < 0)
			continue;
		if (write_small(forwarding[i].path, val, 0) < 0)
			log_warn(NULL, "cannot restore %s to %s", forwarding[i].path, val);
		unlink(saved);
	}
	return 0;
}

static int kill_dnsmasq(pid_t pid, const char *conf, void *data)
{
	int *count = data;

	log_info(NULL, "stopping dnsmasq (pid %d, %s)", pid, conf);
	kill_and_wait(pid, 2000);
	(*count)++;
	return 0;
}

struct link_list {
	struct rtnl_link *links;
	size_t n;
	int failed;
};

static int on_link(const struct rtnl_link *l, void *data)
{
	struct link_list *ll = data;
	struct rtnl_link *tmp;

	if (strncmp(l->alias, NETD_ALIAS_PREFIX, strlen(NETD_ALIAS_PREFIX)) != 0 &&
	    strncmp(l->alias, NETD_ATTACH_PREFIX, strlen(NETD_ATTACH_PREFIX)) != 0)
		return 0;
	tmp = realloc(ll->links, (ll->n + 1) * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	ll->links = tmp;
	ll->links[ll->n++] = *l;
	return 0;
}

/* A TAP netd made (its alias describes a port netd owns), not a bridge. */
static bool is_our_tap(const struct rtnl_link *l)
{
	struct port p;

	return port_alias_parse(l->alias, &p) == 0 && p.kind != PORT_ATTACHED;
}

static void on_tap_failed(int ifindex, int err, void *data)
{
	struct link_list *ll = data;
	const char *name = "?";

	for (size_t i = 0; i < ll->n; i++)
		if (ll->links[i].ifindex == ifindex)
			name = ll->links[i].name;
	log_error(NULL, "cannot delete %s: %s", name, strerror(-err));
	ll->failed++;
}

/*
 * Our TAPs, a chunk per group delete: the kernel waits for an RCU grace
 * period per delete request, ~15 ms, which one by one adds up to 15 s for
 * 1,000 ports.  Returns how many were handed over.
 */
static size_t delete_taps(struct rtnl *rt, struct link_list *ll)
{
	int *taps = calloc(ll->n + 1, sizeof(int));
	size_t n = 0;

	if (!taps)
		return 0;	/* the caller deletes them one by one */
	for (size_t i = 0; i < ll->n; i++)
		if (is_our_tap(&ll->links[i]))
			taps[n++] = ll->links[i].ifindex;
	reaper_delete_now(rt, taps, n, on_tap_failed, ll);
	free(taps);
	return n;
}

/* Release the links netd attached, delete its TAPs and bridges. */
static void cleanup_links(struct rtnl *rt, struct link_list *ll)
{
	size_t taps = delete_taps(rt, ll);
	int r;

	if (taps)
		log_info(NULL, "deleted %zu TAPs (%d failed)", taps, ll->failed);
	for (size_t i = 0; i < ll->n; i++) {
		const struct rtnl_link *l = &ll->links[i];
		bool attached = strncmp(l->alias, NETD_ATTACH_PREFIX, strlen(NETD_ATTACH_PREFIX)) == 0;

		if (taps && is_our_tap(l))
			continue;
		/* Links netd only attached are someone else's: release, don't delete. */
		if (attached)
			r = rtnl_port_setup(rt, l->ifindex, &(struct rtnl_port_opts){ .master = 0, .alias = "" });
		else
			r = rtnl_link_delete(rt, l->ifindex);
		if (r < 0) {
			log_error(NULL, "cannot %s %s: %s", attached ? "release" : "delete", l->name,
				  strerror(-r));
			ll->failed++;
		} else {
			log_info(NULL, "%s %s", attached ? "released" : "deleted", l->name);
		}
	}
}

static void remove_run_files(const char *run_dir)
{
	static const char *const top[] = { "netd.pid", "netd.sock", "netd.lock" };
	char path[4096];
	struct dirent *de;
	DIR *dp;

	snprintf(path, sizeof(path), "%s/dnsmasq", run_dir);
	dp = opendir(path);
	if (dp) {
		while ((de = readdir(dp))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/dnsmasq/%s", run_dir, de->d_name);
			if (unlink(path) < 0)
				log_warn(NULL, "cannot remove %s: %m", path);
		}
		closedir(dp);
		snprintf(path, sizeof(path), "%s/dnsmasq", run_dir);
		rmdir(path);
	}
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", run_dir, top[i]);
		unlink(path);
	}
}

/* STATE_DIR/SUB and the files in it: applied/ (the last applied copy of
 * each network file), started/ (AutoStart=no networks started by request). */
static void remove_state_subdir(const char *state_dir, const char *sub)
{
	char path[4096];
	struct dirent *de;
	DIR *dp;

	snprintf(path, sizeof(path), "%s/%s", state_dir, sub);
	dp = opendir(path);
	if (!dp)
		return;
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", state_dir, sub, de->d_name);
		unlink(path);
	}
	closedir(dp);
	snprintf(path, sizeof(path), "%s/%s", state_dir, sub);
	rmdir(path);
}

/* Remove every kernel object, process and run file netd made here. */
int netd_cleanup(const char *run_dir, const char *state_dir)
{
	struct link_list ll = { 0 };
	struct rtnl *rt = NULL;
	struct fw *fw = NULL;
	int r, failed = 0, killed = 0;

	dhcp_find_all(run_dir, kill_dnsmasq, &killed);

	r = rtnl_open(&rt);
	if (r < 0) {
		log_error(NULL, "cannot open rtnetlink: %s", strerror(-r));
		return r;
	}
	r = rtnl_link_dump(rt, on_link, &ll);
	if (r < 0)
		log_error(NULL, "cannot list links: %s", strerror(-r));
	cleanup_links(rt, &ll);
	failed += ll.failed;
	free(ll.links);
	rtnl_close(rt);

	r = fw_open(&fw);
	if (r >= 0)
		r = fw_remove(fw);
	if (r < 0) {
		log_error(NULL, "cannot delete table inet %s: %s %s", FW_TABLE, strerror(-r),
			  fw ? fw_errmsg(fw) : "");
		failed++;
	}
	fw_close(fw);

	sysctl_forwarding_restore(state_dir);
	remove_run_files(run_dir);
	remove_state_subdir(state_dir, "applied");
	remove_state_subdir(state_dir, "started");
	log_info(NULL, "cleanup done: %zu links, %d dnsmasq", ll.n, killed);
	return failed ? -EIO : 0;
}
