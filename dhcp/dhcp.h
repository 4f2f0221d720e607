/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dhcp: one dnsmasq per network, for DHCP and DNS on that network's bridge.
 *
 * - dhcp_render() turns a network description into dnsmasq's configuration
 *   text (pure; unit-tested byte for byte).
 * - dhcp_write_files() writes it atomically under RUN_DIR, together with the
 *   hosts files that dnsmasq re-reads on SIGHUP (reservations, records).
 * - dhcp_spawn() starts dnsmasq in the foreground (--keep-in-foreground) in a
 *   session of its own, so it outlives netd and a terminal's ^C;
 *   dhcp_find() finds a dnsmasq that is already serving a network (from its
 *   pid file, checked against /proc) so a restarted netd adopts it.
 * - dhcp_leases_parse() reads dnsmasq's lease file.
 *
 * Paths, for network NAME:
 *   RUN_DIR/dnsmasq/NAME.conf    configuration
 *   RUN_DIR/dnsmasq/NAME.hosts   dhcp-hostsfile (reservations)
 *   RUN_DIR/dnsmasq/NAME.addn    addn-hosts (static DNS records)
 *   RUN_DIR/dnsmasq/NAME.pid     pid file (written by dnsmasq)
 *   RUN_DIR/dnsmasq/NAME.log     dnsmasq's stderr
 *   RUN_DIR/dnsmasq/servers      upstream DNS servers, shared by every
 *                                network (servers-file=, re-read on SIGHUP)
 *   STATE_DIR/NAME.leases        lease file
 *
 * Functions return 0 or a negative errno and never log.
 */
#ifndef NETD_DHCP_H
#define NETD_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

struct dhcp_ip {
	int family;		/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} a;
};

struct dhcp_reservation {
	uint8_t mac[6];
	struct dhcp_ip ip;
	const char *hostname;	/* NULL or "" for none */
};

struct dhcp_record {
	const char *name;
	struct dhcp_ip ip;
};

struct dhcp_subnet {
	struct dhcp_ip host;	/* the bridge's address */
	uint8_t prefixlen;
};

struct dhcp_network {
	const char *name;
	const char *bridge;
	const struct dhcp_subnet *subnets;	/* the bridge's addresses */
	size_t n_subnets;

	bool dhcp;		/* serve DHCPv4 (and RA/DHCPv6 on IPv6 subnets) */
	struct dhcp_ip range_start, range_end;	/* IPv4 range */
	uint8_t range_prefixlen;
	unsigned int lease_time;	/* seconds; 0: infinite */
	const struct dhcp_reservation *reservations;
	size_t n_reservations;

	bool dns;		/* serve DNS on the bridge */
	const char *domain;	/* NULL or "": none */
	const struct dhcp_record *records;
	size_t n_records;
};

/* Longest path dhcp_paths() makes, NUL included (-ENAMETOOLONG beyond):
 * netd keeps a dhcp_paths per network, so not PATH_MAX each. */
#define DHCP_PATH_MAX 512

struct dhcp_paths {
	char conf[DHCP_PATH_MAX], hosts[DHCP_PATH_MAX], addn[DHCP_PATH_MAX];
	char pid[DHCP_PATH_MAX], log[DHCP_PATH_MAX], leases[DHCP_PATH_MAX];
	char servers[DHCP_PATH_MAX];
};

/*
 * Why the last call failed, in words ("" when there is nothing to say): which
 * name or path was refused, which file could not be written.  Per thread.
 */
const char *dhcp_errmsg(void);

/*
 * Names dnsmasq will take as they are: a DNS name (labels of letters,
 * digits, '-', '_'), and a reservation's host name (one label, and not
 * something dnsmasq reads as a lease time or keyword: "123", "10m",
 * "infinite", "ignore").
 */
bool dhcp_dns_name_valid(const char *s);
bool dhcp_hostname_valid(const char *s);

/*
 * Fill the paths for network name (see above). -ENAMETOOLONG if too long,
 * -EINVAL if a directory is not absolute or name is not [A-Za-z0-9_.-]+.
 */
int dhcp_paths(const char *run_dir, const char *state_dir, const char *name,
	       struct dhcp_paths *ret);

/*
 * Render the three files' contents.  Each *ret is a malloc'd NUL-terminated
 * string the caller frees.  The main configuration refers to the other two
 * files and the lease file by their paths in `paths`.
 */
int dhcp_render(const struct dhcp_network *net, const struct dhcp_paths *paths,
		char **ret_conf, char **ret_hosts, char **ret_addn);

/*
 * Write conf, hosts and addn files (atomically: temp file + rename, mode
 * 0644), creating RUN_DIR/dnsmasq and STATE_DIR if needed.  *ret_changed
 * (may be NULL) is a bitmask of which files' contents changed:
 * DHCP_CHANGED_CONF, DHCP_CHANGED_HOSTS (hosts or addn: a SIGHUP is enough).
 */
#define DHCP_CHANGED_CONF  1u
#define DHCP_CHANGED_HOSTS 2u
int dhcp_write_files(const struct dhcp_network *net, const struct dhcp_paths *paths,
		     unsigned int *ret_changed);

/*
 * Upstream DNS servers.  dnsmasq runs with no-resolv and reads its
 * upstreams from RUN_DIR/dnsmasq/servers instead of watching resolv.conf
 * itself: watching costs every dnsmasq an inotify instance, and the
 * default fs.inotify.max_user_instances (128) would cap DHCP at about 120
 * networks.  netd watches the host's resolv.conf once and rewrites the
 * file; a SIGHUP makes each dnsmasq re-read it.
 *
 * dhcp_servers_render() turns resolv.conf text into the file's content:
 * one server= line per valid "nameserver" line, in order (pure).
 * dhcp_write_servers() renders resolv_path (a missing file: no servers)
 * and writes the shared file atomically if its content changed;
 * *ret_changed (may be NULL) tells whether it did.
 */
int dhcp_servers_render(const char *resolv_text, char **ret);
int dhcp_write_servers(const char *run_dir, const char *resolv_path, bool *ret_changed);

/* Remove the conf, hosts, addn, pid and log files (not the leases). */
int dhcp_remove_files(const struct dhcp_paths *paths);

/*
 * Start `dnsmasq_bin` (NULL: "dnsmasq" from PATH) with --conf-file=paths->conf
 * --keep-in-foreground, stdin /dev/null, stdout/stderr to paths->log, in a new
 * session, with every other fd closed.  Returns the child's pid in *ret_pid.
 */
int dhcp_spawn(const char *dnsmasq_bin, const struct dhcp_paths *paths, pid_t *ret_pid);

/*
 * dnsmasq joins rtnetlink's address and route groups, whatever its options:
 * every address or route change on the host wakes every dnsmasq, and with
 * 1,000 networks a network start woke 999 of them (30 ms of CPU on 2
 * cores).  A dnsmasq bound to the fixed IPv4 addresses of its bridge
 * (bind-interfaces, no DHCPv6 or RA) has no use for those events.  This
 * takes the rtnetlink socket of dnsmasq `pid` (reached through its pidfd
 * with pidfd_getfd(), which needs CAP_SYS_PTRACE over it) out of every
 * multicast group: the kernel no longer looks at it when it announces a
 * change, and dnsmasq still gets the answers to its own requests.  Call it
 * once dnsmasq runs (its pid file is written).  -ENOENT when it has no
 * rtnetlink socket.
 */
int dhcp_quiet_netlink(pid_t pid, int pidfd);

/*
 * Find the running dnsmasq for these paths: read the pid file and check that
 * /proc/PID/cmdline is a dnsmasq started with --conf-file=paths->conf.
 * 0 and *ret_pid on success, -ESRCH when there is none.
 */
int dhcp_find(const struct dhcp_paths *paths, pid_t *ret_pid);

/*
 * Scan /proc for every dnsmasq whose --conf-file lies in run_dir/dnsmasq/
 * (for --cleanup, even without pid files).  Calls cb for each pid; a
 * negative return from cb stops the scan and is returned.
 */
int dhcp_find_all(const char *run_dir, int (*cb)(pid_t pid, const char *conf, void *data),
		  void *data);

/* Last lines of paths->log, for reporting why dnsmasq exited (malloc'd). */
char *dhcp_log_tail(const struct dhcp_paths *paths, size_t max_bytes);

struct dhcp_lease {
	int64_t expires;	/* epoch seconds; 0: never */
	uint8_t mac[6];		/* zero for DHCPv6 leases */
	bool has_mac;
	struct dhcp_ip ip;
	char hostname[64];	/* "" when unknown */
	char client_id[256];	/* "" when unknown; the DUID/IAID for v6 */
};

/*
 * Parse a dnsmasq lease file's content.  Malformed lines are skipped and
 * counted in *ret_bad (may be NULL).  *ret is malloc'd (NULL when n is 0).
 */
int dhcp_leases_parse(const char *text, size_t len, struct dhcp_lease **ret,
		      size_t *ret_n, size_t *ret_bad);
/* Read and parse a lease file; a missing file is 0 leases. */
int dhcp_leases_read(const char *path, struct dhcp_lease **ret, size_t *ret_n);

#endif
