/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dnsmasq started by dhcp_spawn() in a private network namespace:
 *
 *     this process (in the netns) ---- DNS over UDP ----> 10.77.0.1:53
 *                                                     br-t (bridge, no ports)
 *                                                     10.77.0.1/24, fd77::1/64
 *                                                     dnsmasq bound here only
 *
 * Checks: a missing binary gives -ENOENT and leaves no zombie; dnsmasq's
 * startup error lands in the log (truncated at each spawn); the real
 * instance writes its pid file, is found by dhcp_find() and
 * dhcp_find_all(), runs in its own session with /dev/null, the log, no
 * inherited fds and no inherited signal mask, answers DNS for records
 * (also HOST.DOMAIN) on the bridge address, listens on no other address,
 * re-reads the records on SIGHUP, stops getting the host's netlink events
 * once dhcp_quiet_netlink() took its socket out of its groups, and exits on SIGTERM.
 *
 * The test body runs in a child; this process is a child subreaper that
 * kills every dnsmasq left behind, whatever way the body ended.
 */
#include "dhcp/dhcp.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIDS 16

static int failures;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		printf("ok   ");					\
	} else {							\
		printf("FAIL %s:%d: ", __FILE__, __LINE__);		\
		failures++;						\
	}								\
	printf(__VA_ARGS__);						\
	putchar('\n');							\
	fflush(stdout);							\
} while (0)

/* Shared with the supervising parent: every dnsmasq the body started. */
static struct {
	pid_t pids[MAX_PIDS];
} *shared;

static char base[] = "/tmp/test-dhcp-process.XXXXXX";
static char run_dir[128], state_dir[128];

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

/* rm -rf dir, without a shell. */
static int rm_tree(const char *dir)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void record_pid(pid_t pid)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (!__atomic_load_n(&shared->pids[i], __ATOMIC_SEQ_CST)) {
			__atomic_store_n(&shared->pids[i], pid, __ATOMIC_SEQ_CST);
			return;
		}
}

static void forget_pid(pid_t pid)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (shared->pids[i] == pid)
			__atomic_store_n(&shared->pids[i], 0, __ATOMIC_SEQ_CST);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* waitpid with a bound: 1 reaped (status in *st), 0 still running. */
static int wait_exit(pid_t pid, int *st, long ms)
{
	long end = now_ms() + ms;

	do {
		pid_t r = waitpid(pid, st, WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
		sleep_ms(10);
	} while (now_ms() < end);
	return 0;
}

static int run(const char *cmd)
{
	int r = system(cmd);

	CHECK(r == 0, "%s", cmd);
	return r;
}

/* --- DNS ----------------------------------------------------------------- */

static size_t put_qname(uint8_t *p, const char *name)
{
	size_t n = 0;

	while (*name) {
		size_t l = strcspn(name, ".");

		p[n++] = (uint8_t)l;
		memcpy(p + n, name, l);
		n += l;
		name += l + (name[l] == '.');
	}
	p[n++] = 0;
	return n;
}

/* Skip a possibly compressed name; new offset or 0 if malformed. */
static size_t skip_name(const uint8_t *p, size_t len, size_t off)
{
	while (off < len) {
		if ((p[off] & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		if (p[off] == 0)
			return off + 1;
		off += 1 + p[off];
	}
	return 0;
}

/* First A record of a reply; -ENOENT when there is none. */
static int parse_reply(const uint8_t *p, size_t len, uint16_t id, struct in_addr *ret)
{
	size_t off;
	unsigned int an;

	if (len < 12 || (p[0] << 8 | p[1]) != id || !(p[2] & 0x80))
		return -EBADMSG;
	if ((p[3] & 0x0f) != 0)
		return -ENOENT;		/* NXDOMAIN, REFUSED, ... */
	an = (unsigned int)(p[6] << 8 | p[7]);
	off = skip_name(p, len, 12);
	if (!off || off + 4 > len)
		return -EBADMSG;
	off += 4;
	while (an--) {
		unsigned int type, rdlen;

		off = skip_name(p, len, off);
		if (!off || off + 10 > len)
			return -EBADMSG;
		type = (unsigned int)(p[off] << 8 | p[off + 1]);
		rdlen = (unsigned int)(p[off + 8] << 8 | p[off + 9]);
		off += 10;
		if (off + rdlen > len)
			return -EBADMSG;
		if (type == 1 && rdlen == 4) {
			memcpy(ret, p + off, 4);
			return 0;
		}
		off += rdlen;
	}
	return -ENOENT;
}

/* One A query over UDP; 0, -ENOENT (no answer record), -ETIMEDOUT, -errno. */
static int dns_query(const char *server, const char *name, struct in_addr *ret, int ms)
{
	static uint16_t next_id = 0x4e00;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53) };
	uint8_t q[512], a[1500];
	uint16_t id = ++next_id;
	struct pollfd pfd;
	size_t n = 12;
	ssize_t got;
	int fd, r;

	memset(q, 0, 12);
	q[0] = id >> 8;
	q[1] = id & 0xff;
	q[2] = 0x01;		/* RD */
	q[5] = 1;		/* QDCOUNT */
	n += put_qname(q + n, name);
	q[n++] = 0, q[n++] = 1;	/* A */
	q[n++] = 0, q[n++] = 1;	/* IN */
	inet_pton(AF_INET, server, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || send(fd, q, n, 0) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	r = poll(&pfd, 1, ms);
	got = r > 0 ? recv(fd, a, sizeof(a), 0) : -1;
	r = r == 0 ? -ETIMEDOUT : got < 0 ? -errno : parse_reply(a, (size_t)got, id, ret);
	close(fd);
	return r;
}

/* Ask until the answer is want (dnsmasq may still be binding, or reloading). */
static bool dns_expect(const char *name, const char *want, long ms)
{
	long end = now_ms() + ms;
	struct in_addr got, w;
	char buf[INET_ADDRSTRLEN] = "-";
	int r;

	inet_pton(AF_INET, want, &w);
	do {
		r = dns_query("10.77.0.1", name, &got, 200);
		if (r == 0)
			inet_ntop(AF_INET, &got, buf, sizeof(buf));
		if (r == 0 && got.s_addr == w.s_addr)
			break;
		sleep_ms(20);
	} while (now_ms() < end);
	CHECK(r == 0 && got.s_addr == w.s_addr, "DNS %s @10.77.0.1 -> %s (want %s, r=%d)",
	      name, buf, want, r);
	return r == 0;
}

/* --- /proc checks -------------------------------------------------------- */

static bool write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * Every socket on port 53 in /proc/net/FILE: returns how many are bound to
 * the wanted address (hex as the kernel prints it) and counts the others.
 */
static int port53(const char *file, const char *want, int *others)
{
	char path[64], line[512], local[64];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/net/%s", file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *colon;

		if (sscanf(line, " %*s %63s", local) != 1 || !(colon = strrchr(local, ':')))
			continue;
		if (strcmp(colon + 1, "0035") != 0)
			continue;
		*colon = '\0';
		if (want && strcmp(local, want) == 0)
			found++;
		else if (strncmp(local, "000080FE", 8) != 0)	/* fe80::/64 of br-t is fine */
			(*others)++;
	}
	fclose(f);
	return found;
}

static void check_listening(void)
{
	struct in_addr a, lo;
	char want[16], fd77[40];
	int others = 0, udp, tcp, r;

	inet_pton(AF_INET, "10.77.0.1", &a);
	snprintf(want, sizeof(want), "%08X", a.s_addr);
	udp = port53("udp", want, &others);
	tcp = port53("tcp", want, &others);
	CHECK(udp == 1 && tcp == 1, "dnsmasq listens on 10.77.0.1:53 (udp %d, tcp %d)", udp, tcp);
	CHECK(others == 0, "no IPv4 socket on :53 other than 10.77.0.1 (not 0.0.0.0, "
	      "not 127.0.0.1): %d others", others);
	others = 0;
	/* fd77::1 as /proc/net/udp6 prints it: four host-order 32-bit words. */
	snprintf(fd77, sizeof(fd77), "%08X%08X%08X%08X", htonl(0xfd770000), 0u, 0u, htonl(1));
	port53("udp6", fd77, &others);
	port53("tcp6", fd77, &others);
	CHECK(others == 0, "no IPv6 socket on :53 but fd77::1 and br-t's fe80:: "
	      "(not ::, not ::1): %d others", others);

	inet_pton(AF_INET, "127.0.0.1", &lo);
	r = dns_query("127.0.0.1", "outside.test", &lo, 300);
	CHECK(r == -ECONNREFUSED || r == -ETIMEDOUT, "nothing answers DNS on 127.0.0.1 (r=%d)", r);
}

static bool fd_is(pid_t pid, int fd, const char *want)
{
	char path[64], target[4200];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, want) == 0;
}

static int count_fds_to(pid_t pid, const char *want)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && fd_is(pid, atoi(de->d_name), want))
			n++;
	closedir(d);
	return n;
}

static unsigned long long status_mask(pid_t pid, const char *key)
{
	char path[64], line[256];
	unsigned long long v = ~0ULL;
	size_t kl = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtoull(line + kl + 1, NULL, 16);
	fclose(f);
	return v;
}

/*
 * The child's plumbing, against what the body set up to tempt it.  Once
 * started, dnsmasq points its own stdout and stderr at /dev/null, so the
 * log is checked only on the stand-in (with_log).
 */
static void check_child(const char *who, pid_t pid, const struct dhcp_paths *p,
			const char *leaked, bool with_log)
{
	CHECK(getsid(pid) == pid, "%s leads its own session (sid %d)", who, (int)getsid(pid));
	CHECK(fd_is(pid, 0, "/dev/null"), "%s: stdin is /dev/null", who);
	if (with_log)
		CHECK(fd_is(pid, 1, p->log) && fd_is(pid, 2, p->log),
		      "%s: stdout and stderr go to %s", who, p->log);
	CHECK(count_fds_to(pid, leaked) == 0, "%s: our non-CLOEXEC %s was not inherited",
	      who, leaked);
	CHECK(status_mask(pid, "SigBlk") == 0, "%s: no blocked signals (SigBlk %llx)",
	      who, status_mask(pid, "SigBlk"));
	CHECK(!(status_mask(pid, "SigIgn") & (1ULL << (SIGWINCH - 1))),
	      "%s: our ignored SIGWINCH is back to default", who);
}

/* A stand-in "dnsmasq" that writes to stdout and stderr, then sleeps. */
static void test_stand_in(const struct dhcp_paths *p, const char *leaked)
{
	char bin[200], *tail;
	long end = now_ms() + 5000;
	pid_t pid = 0;
	int st;

	snprintf(bin, sizeof(bin), "%s/fake-dnsmasq", base);
	CHECK(write_text(bin, "#!/bin/sh\necho fake-out\necho fake-err >&2\nexec sleep 30\n") &&
	      chmod(bin, 0755) == 0, "stand-in written: %s", bin);
	write_text(p->log, "old content\n");
	CHECK(dhcp_spawn(bin, p, &pid) == 0, "dhcp_spawn(stand-in): pid %d", (int)pid);
	if (pid <= 0)
		return;
	record_pid(pid);
	for (;;) {
		tail = dhcp_log_tail(p, 4096);
		if ((tail && strstr(tail, "fake-out") && strstr(tail, "fake-err")) ||
		    now_ms() > end)
			break;
		free(tail);
		sleep_ms(10);
	}
	CHECK(tail && (strcmp(tail, "fake-out\nfake-err") == 0 ||
		       strcmp(tail, "fake-err\nfake-out") == 0),
	      "log truncated, then holds its stdout and stderr: \"%s\"", tail);
	free(tail);
	check_child("stand-in", pid, p, leaked, true);
	kill(pid, SIGKILL);
	CHECK(wait_exit(pid, &st, 5000) == 1, "stand-in killed and reaped");
	forget_pid(pid);
}

/* --- the scenarios ------------------------------------------------------- */

static struct dhcp_subnet subnets[2];
static struct dhcp_reservation resv[1];
static struct dhcp_record records[3];

static struct dhcp_network test_network(void)
{
	struct dhcp_network net = {
		.name = "t", .bridge = "br-t", .subnets = subnets, .n_subnets = 2,
		.dhcp = true, .range_prefixlen = 24, .lease_time = 3600,
		.reservations = resv, .n_reservations = 1,
		.dns = true, .domain = "t.test", .records = records, .n_records = 3,
	};

	subnets[0].host.family = AF_INET;
	inet_pton(AF_INET, "10.77.0.1", &subnets[0].host.a.v4);
	subnets[0].prefixlen = 24;
	subnets[1].host.family = AF_INET6;
	inet_pton(AF_INET6, "fd77::1", &subnets[1].host.a.v6);
	subnets[1].prefixlen = 64;
	net.range_start.family = net.range_end.family = AF_INET;
	inet_pton(AF_INET, "10.77.0.100", &net.range_start.a.v4);
	inet_pton(AF_INET, "10.77.0.200", &net.range_end.a.v4);
	resv[0] = (struct dhcp_reservation){ { 0x52, 0x54, 0, 0x77, 0, 0x10 },
		{ .family = AF_INET }, "guest1" };
	inet_pton(AF_INET, "10.77.0.10", &resv[0].ip.a.v4);
	records[0] = (struct dhcp_record){ "outside.test", { .family = AF_INET } };
	inet_pton(AF_INET, "203.0.113.7", &records[0].ip.a.v4);
	records[1] = (struct dhcp_record){ "gw", { .family = AF_INET } };
	inet_pton(AF_INET, "10.77.0.254", &records[1].ip.a.v4);
	records[2] = (struct dhcp_record){ "ns6", { .family = AF_INET6 } };
	inet_pton(AF_INET6, "fd77::53", &records[2].ip.a.v6);
	return net;
}

static void test_missing_binary(const struct dhcp_paths *p)
{
	pid_t pid = -1;
	int r, st;

	r = dhcp_spawn("/nonexistent/netd-test/dnsmasq", p, &pid);
	CHECK(r == -ENOENT, "spawn of a nonexistent path: -ENOENT (got %d: %s)", r, dhcp_errmsg());
	r = waitpid(-1, &st, WNOHANG);
	CHECK(r == -1 && errno == ECHILD, "the failed child was reaped: no child, no zombie");
	r = dhcp_spawn("netd-test-no-such-dnsmasq", p, &pid);
	CHECK(r == -ENOENT, "spawn of a name not in PATH: -ENOENT (got %d)", r);
	r = waitpid(-1, &st, WNOHANG);
	CHECK(r == -1 && errno == ECHILD, "again no child left");
}

static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; hay && (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

/* A conf dnsmasq refuses: it exits at once and says why on stderr. */
static void test_bad_conf(void)
{
	struct dhcp_paths p;
	pid_t pid;
	int st;
	char *tail;

	dhcp_paths(run_dir, state_dir, "bad", &p);
	CHECK(write_text(p.conf, "interface=br-t\nnetd-no-such-option\n"), "wrote a bad %s", p.conf);
	for (int round = 1; round <= 2; round++) {
		CHECK(dhcp_spawn(NULL, &p, &pid) == 0, "round %d: spawn dnsmasq on a bad conf", round);
		record_pid(pid);
		CHECK(wait_exit(pid, &st, 5000) == 1 && WIFEXITED(st) && WEXITSTATUS(st) != 0,
		      "round %d: dnsmasq exits with an error", round);
		forget_pid(pid);
		tail = dhcp_log_tail(&p, 4096);
		CHECK(tail && count_str(tail, "dnsmasq: bad option at line 2 of") == 1,
		      "round %d: the log says why, once (truncated at spawn): \"%s\"", round, tail);
		free(tail);
	}
	dhcp_remove_files(&p);
}

static pid_t wait_found(const struct dhcp_paths *p, pid_t pid)
{
	long end = now_ms() + 5000;
	pid_t found = 0;
	int st;

	while (now_ms() < end && dhcp_find(p, &found) != 0) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			char *tail = dhcp_log_tail(p, 2048);

			forget_pid(pid);
			printf("dnsmasq exited early: %s\n", tail ? tail : "(empty log)");
			free(tail);
			return 0;
		}
		sleep_ms(20);
	}
	return found;
}

static int find_all_cb(pid_t pid, const char *conf, void *data)
{
	pid_t *want = data;

	printf("     find_all: %d %s\n", (int)pid, conf);
	if (pid == want[0])
		want[1]++;
	else
		want[2]++;
	return 0;
}

static void test_find_misc(const struct dhcp_paths *p, pid_t pid)
{
	pid_t found = 0, seen[3] = { pid, 0, 0 };
	char other[160], buf[32];

	CHECK(dhcp_find_all(run_dir, find_all_cb, seen) == 0 && seen[1] == 1 && seen[2] == 0,
	      "dhcp_find_all(run dir) finds it, and only it");
	seen[1] = seen[2] = 0;
	snprintf(other, sizeof(other), "%s/elsewhere", base);
	CHECK(dhcp_find_all(other, find_all_cb, seen) == 0 && seen[1] == 0 && seen[2] == 0,
	      "dhcp_find_all(another dir) finds nothing");

	/* A pid file naming a process that is not this dnsmasq. */
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	write_text(p->pid, buf);
	CHECK(dhcp_find(p, &found) == -ESRCH, "pid file naming a non-dnsmasq: -ESRCH");
	write_text(p->pid, "12ab\n");
	CHECK(dhcp_find(p, &found) == -ESRCH, "garbage pid file: -ESRCH");
	snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	write_text(p->pid, buf);
	CHECK(dhcp_find(p, &found) == 0 && found == pid, "pid file restored: found again");
}

static void test_reload(const struct dhcp_network *net, const struct dhcp_paths *p, pid_t pid)
{
	unsigned int changed = 0;

	inet_pton(AF_INET, "203.0.113.8", &records[0].ip.a.v4);
	CHECK(dhcp_write_files(net, p, &changed) == 0 && changed == DHCP_CHANGED_HOSTS,
	      "record changed: only DHCP_CHANGED_HOSTS (%u)", changed);
	CHECK(kill(pid, SIGHUP) == 0, "SIGHUP to dnsmasq");
	dns_expect("outside.test", "203.0.113.8", 3000);
}

/*
 * pid's rtnetlink sockets in /proc/net/netlink: the bytes queued on them
 * (Rmem) and the multicast groups 1-32 they are in; -1 if none.
 */
static long nl_socks(pid_t pid, unsigned long *groups)
{
	char dir[64], link[384], target[64], line[256];
	struct dirent *de;
	long total = -1;
	DIR *dp;

	*groups = 0;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	dp = opendir(dir);
	while (dp && (de = readdir(dp))) {
		unsigned long ino, sk_ino, g;
		unsigned int eth;
		long rmem;
		ssize_t n;
		FILE *f;

		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (sscanf(target, "socket:[%lu]", &ino) != 1 || !(f = fopen("/proc/net/netlink", "re")))
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%*s %u %*s %lx %ld %*s %*s %*s %*s %lu", &eth, &g, &rmem,
				   &sk_ino) == 4 &&
			    eth == 0 && sk_ino == ino) {
				total = (total < 0 ? 0 : total) + rmem;
				*groups |= g;
			}
		fclose(f);
	}
	if (dp)
		closedir(dp);
	return total;
}

static long nl_queued(pid_t pid)
{
	unsigned long groups;

	return nl_socks(pid, &groups);
}

/* Stopped, dnsmasq gets the events of an address added elsewhere queued. */
static long queued_while_stopped(pid_t pid, const char *addr)
{
	char cmd[128];
	long q;

	kill(pid, SIGSTOP);
	snprintf(cmd, sizeof(cmd), "ip addr add %s dev br-q", addr);
	CHECK(run(cmd) == 0, "%s", cmd);
	q = nl_queued(pid);
	kill(pid, SIGCONT);
	for (long end = now_ms() + 3000; nl_queued(pid) > 0 && now_ms() < end;)
		sleep_ms(5);
	return q;
}

static void test_quiet(pid_t pid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), r;
	unsigned long groups;
	long q;

	CHECK(pidfd >= 0, "pidfd_open(%d)", (int)pid);
	CHECK(run("ip link add br-q type bridge") == 0 && run("ip link set br-q up") == 0,
	      "another bridge, br-q");
	q = queued_while_stopped(pid, "10.78.0.1/24");
	CHECK(q > 0, "before: an address on br-q queues events for dnsmasq (%ld bytes)", q);
	CHECK(nl_socks(pid, &groups) >= 0 && groups != 0,
	      "before: dnsmasq's rtnetlink socket is in groups %#lx", groups);
	r = dhcp_quiet_netlink(pid, pidfd);
	CHECK(r == 0, "dhcp_quiet_netlink (r=%d %s)", r, dhcp_errmsg());
	CHECK(nl_socks(pid, &groups) >= 0 && groups == 0,
	      "after: dnsmasq's rtnetlink socket is in no group (%#lx)", groups);
	q = queued_while_stopped(pid, "10.79.0.1/24");
	CHECK(q == 0, "after: an address on br-q queues nothing for dnsmasq (%ld bytes)", q);
	dns_expect("outside.test", "203.0.113.8", 3000);
	r = dhcp_quiet_netlink(pid, -1);
	CHECK(r == -EBADF && *dhcp_errmsg(), "without a pidfd: -EBADF (r=%d, \"%s\")", r,
	      dhcp_errmsg());
	close(pidfd);
}

static void test_running(const struct dhcp_network *net, const struct dhcp_paths *p,
			 pid_t pid, const char *leaked)
{
	struct dhcp_lease *leases = NULL;
	size_t n = 99;
	int st;

	check_child("dnsmasq", pid, p, leaked, false);
	dns_expect("outside.test", "203.0.113.7", 3000);
	dns_expect("gw.t.test", "10.77.0.254", 1000);
	dns_expect("gw", "10.77.0.254", 1000);
	check_listening();
	CHECK(dhcp_leases_read(p->leases, &leases, &n) == 0 && n == 0,
	      "lease file exists and has no leases yet (n=%zu)", n);
	free(leases);
	test_find_misc(p, pid);
	test_reload(net, p, pid);
	test_quiet(pid);

	CHECK(kill(pid, SIGTERM) == 0, "SIGTERM to dnsmasq");
	CHECK(wait_exit(pid, &st, 5000) == 1, "dnsmasq exited within 5 s and was reaped");
	forget_pid(pid);
}

/* Make the body look like netd: blocked signals, an ignored one, a leaky fd. */
static void tempt_child(char *leaked, size_t size)
{
	sigset_t set;
	struct stat st;
	int pfd[2];

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGWINCH, SIG_IGN);
	if (pipe(pfd) == 0 && dup2(pfd[0], 40) == 40 && fstat(40, &st) == 0)
		snprintf(leaked, size, "pipe:[%lu]", (unsigned long)st.st_ino);
}

static void test_real(const char *bin_dir)
{
	struct dhcp_network net = test_network();
	struct dhcp_paths p;
	char leaked[64] = "none", path[8192];
	unsigned int changed = 0;
	pid_t pid = 0, found = 0;
	int r;

	CHECK(dhcp_paths(run_dir, state_dir, "t", &p) == 0, "paths under %s", base);
	r = dhcp_write_files(&net, &p, &changed);
	CHECK(r == 0 && changed == (DHCP_CHANGED_CONF | DHCP_CHANGED_HOSTS), "files written");
	CHECK(dhcp_find(&p, &found) == -ESRCH, "before the start: dhcp_find -ESRCH");
	test_missing_binary(&p);

	/* dhcp_spawn(NULL) looks dnsmasq up in PATH. */
	snprintf(path, sizeof(path), "%s:%s", bin_dir, getenv("PATH") ? getenv("PATH") : "/bin");
	setenv("PATH", path, 1);
	test_bad_conf();

	tempt_child(leaked, sizeof(leaked));
	test_stand_in(&p, leaked);
	r = dhcp_spawn(NULL, &p, &pid);
	CHECK(r == 0 && pid > 0, "dhcp_spawn: pid %d (r=%d %s)", (int)pid, r, dhcp_errmsg());
	if (r)
		return;
	record_pid(pid);
	found = wait_found(&p, pid);
	CHECK(found == pid, "pid file written, dhcp_find finds pid %d (got %d)", (int)pid, (int)found);
	if (found != pid)
		return;
	test_running(&net, &p, pid, leaked);
	CHECK(dhcp_find(&p, &found) == -ESRCH, "after the exit: dhcp_find -ESRCH");
}

static const char *find_dnsmasq_dir(void)
{
	static const char *dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin",
				      "/usr/local/sbin", "/usr/local/bin" };
	static char buf[64];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(buf, sizeof(buf), "%s/dnsmasq", dirs[i]);
		if (access(buf, X_OK) == 0)
			return dirs[i];
	}
	return NULL;
}

static int body(const char *bin_dir)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (run("ip link set lo up") || run("ip link add br-t type bridge") ||
	    run("ip addr add 10.77.0.1/24 dev br-t") ||
	    run("ip -6 addr add fd77::1/64 dev br-t nodad") || run("ip link set br-t up"))
		return 1;
	test_real(bin_dir);
	printf("%s (%d failure%s)\n", failures ? "FAIL" : "PASS", failures,
	       failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}

/* --- the supervisor ------------------------------------------------------ */

static int kill_cb(pid_t pid, const char *conf, void *data)
{
	printf("cleanup: killing leftover dnsmasq %d (%s)\n", (int)pid, conf);
	kill(pid, SIGKILL);
	return 0;
}

/* Kill what the body started and reap every orphan we inherited. */
static void cleanup(void)
{
	long end;

	for (int i = 0; i < MAX_PIDS; i++)
		if (shared->pids[i] > 0) {
			printf("cleanup: killing dnsmasq %d\n", (int)shared->pids[i]);
			kill(shared->pids[i], SIGKILL);
		}
	dhcp_find_all(run_dir, kill_cb, NULL);
	end = now_ms() + 5000;
	while (now_ms() < end) {
		pid_t r = waitpid(-1, NULL, WNOHANG);

		if (r < 0 && errno == ECHILD)
			break;
		if (r <= 0)
			sleep_ms(10);
	}
	if (rm_tree(base) != 0)
		printf("warning: could not remove %s\n", base);
}

/* Wait for the body; a SIGTERM/SIGINT/SIGHUP to us ends it early. */
static int supervise(pid_t child)
{
	sigset_t set;
	int st = 0, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (waitpid(child, &st, WNOHANG) == child)
			break;
		sig = sigwaitinfo(&set, NULL);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			printf("supervisor: signal %d, stopping the test\n", sig);
			kill(child, SIGKILL);
			waitpid(child, &st, 0);
			st = -1;
			break;
		}
	}
	cleanup();
	if (st == -1 || !WIFEXITED(st)) {
		printf("FAIL: test body did not exit normally (status %d)\n", st);
		return 1;
	}
	return WEXITSTATUS(st);
}

int main(void)
{
	const char *bin_dir = find_dnsmasq_dir();
	sigset_t set;
	pid_t child;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("skip: needs root\n");
		return 77;
	}
	if (!bin_dir) {
		printf("skip: no dnsmasq binary\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		printf("skip: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 77;
	}
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	/* dnsmasq runs as nobody: it must be able to reach its files (0755). */
	if (shared == MAP_FAILED || !mkdtemp(base) || chmod(base, 0755) < 0 ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("setup");
		return 1;
	}
	snprintf(run_dir, sizeof(run_dir), "%s/run", base);
	snprintf(state_dir, sizeof(state_dir), "%s/state", base);

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0)
		exit(body(bin_dir));	/* exit, not _exit: LeakSanitizer checks the body */
	return supervise(child);
}
