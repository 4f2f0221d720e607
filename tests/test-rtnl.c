/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel test of netlink/rtnl.c.  Runs in a private network namespace (and a
 * private mount namespace, for a sysfs that shows that network namespace);
 * both vanish with the process.  Exit 0 pass, 1 fail, 77 skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>

#include "netlink/rtnl.h"

static int failures;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		printf("ok   - ");					\
	} else {							\
		printf("FAIL - %s:%d: ", __FILE__, __LINE__);		\
		failures++;						\
	}								\
	printf(__VA_ARGS__);						\
	printf("\n");							\
} while (0)

static const uint8_t br_mac[6] = { 0x02, 0x6e, 0x65, 0x74, 0x64, 0x01 };

/* Wait (bounded) until no link has that name. */
static int wait_gone(struct rtnl *rt, const char *name)
{
	struct timespec ts = { 0, 1000000 };
	struct rtnl_link l;
	int r = 0;

	for (int i = 0; i < 2000; i++) {
		r = rtnl_link_get(rt, name, &l);
		if (r != 0)
			return r;
		nanosleep(&ts, NULL);
	}
	return r;
}

static int count_lo(const struct rtnl_link *l, void *data)
{
	int *n = data;

	if (strcmp(l->name, "lo") == 0 && l->ifindex == 1)
		(*n)++;
	return 0;
}

struct nested {
	struct rtnl *rt;
	int seen, matched;
};

/* A callback may issue requests of its own on the same handle. */
static int nested_cb(const struct rtnl_link *l, void *data)
{
	struct nested *n = data;
	struct rtnl_link again;

	n->seen++;
	if (rtnl_link_get_by_index(n->rt, l->ifindex, &again) == 0 &&
	    strcmp(again.name, l->name) == 0)
		n->matched++;
	return 0;
}

static int stop_cb(const struct rtnl_link *l, void *data)
{
	(*(int *)data)++;
	return -ECANCELED;
}

static void test_link_dump(struct rtnl *rt)
{
	struct nested n = { .rt = rt };
	int lo = 0, calls = 0, r;

	r = rtnl_link_dump(rt, count_lo, &lo);
	CHECK(r == 0 && lo == 1, "link dump visits lo once (r=%d, n=%d)", r, lo);
	r = rtnl_link_dump(rt, stop_cb, &calls);
	CHECK(r == -ECANCELED && calls == 1,
	      "a negative callback return stops the dump and is returned (r=%d)", r);
	r = rtnl_link_dump(rt, nested_cb, &n);
	CHECK(r == 0 && n.seen > 0 && n.seen == n.matched,
	      "requests from inside a dump callback work (%d/%d)", n.matched, n.seen);
}

static int read_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static bool sysfs_is(const char *path, const char *want)
{
	char buf[64];

	return read_file(path, buf, sizeof(buf)) == 0 && strcmp(buf, want) == 0;
}

static int test_bridge(struct rtnl *rt)
{
	struct rtnl_bridge_opts o = {
		.mtu = 1400, .mac = br_mac, .alias = "netd:test", .group = 7,
	};
	struct rtnl_link l;
	int ifindex = 0, again = 0, r;

	r = rtnl_bridge_create(rt, "netd-br0", &o, &ifindex);
	CHECK(r == 0 && ifindex > 0, "create bridge (r=%d, ifindex=%d, %s)",
	      r, ifindex, rtnl_errmsg(rt));
	memset(&l, 0xaa, sizeof(l));
	r = rtnl_link_get(rt, "netd-br0", &l);
	CHECK(r == 0 && l.ifindex == ifindex, "look the bridge up (r=%d)", r);
	CHECK(strcmp(l.kind, "bridge") == 0, "kind is bridge (\"%s\")", l.kind);
	CHECK(strcmp(l.alias, "netd:test") == 0, "alias read back (\"%s\")", l.alias);
	CHECK(l.group == 7, "group read back (%u)", l.group);
	CHECK(l.mtu == 1400, "mtu read back (%u)", l.mtu);
	CHECK(memcmp(l.mac, br_mac, 6) == 0, "mac read back");
	CHECK(l.up, "bridge is up");
	CHECK(l.master == 0, "bridge has no master (%d)", l.master);
	CHECK(sysfs_is("/sys/class/net/netd-br0/bridge/stp_state", "0"), "STP is off");
	CHECK(sysfs_is("/sys/class/net/netd-br0/bridge/forward_delay", "0"),
	      "forward delay is 0");
	r = rtnl_bridge_create(rt, "netd-br0", &o, &again);
	CHECK(r == 0 && again == ifindex,
	      "creating it again returns the same ifindex (r=%d)", r);
	r = rtnl_link_get_by_index(rt, ifindex, &l);
	CHECK(r == 0 && strcmp(l.name, "netd-br0") == 0, "lookup by index (r=%d)", r);
	r = rtnl_link_get(rt, "netd-nothere", &l);
	CHECK(r == -ENODEV, "unknown name gives -ENODEV (r=%d)", r);
	r = rtnl_link_get_by_index(rt, 99999, &l);
	CHECK(r == -ENODEV, "unknown index gives -ENODEV (r=%d)", r);
	return ifindex;
}

static struct rtnl_addr mkaddr(int ifindex, int family, const char *s, int plen)
{
	struct rtnl_addr a = { .ifindex = ifindex, .family = family,
			       .prefixlen = (uint8_t)plen };

	if (inet_pton(family, s, &a.addr) != 1)
		abort();
	return a;
}

struct find_addr {
	const struct rtnl_addr *want;
	int found;
};

static int find_addr_cb(const struct rtnl_addr *a, void *data)
{
	struct find_addr *f = data;
	size_t len = a->family == AF_INET ? 4 : 16;

	if (a->ifindex == f->want->ifindex && a->family == f->want->family &&
	    a->prefixlen == f->want->prefixlen &&
	    memcmp(&a->addr, &f->want->addr, len) == 0)
		f->found++;
	return 0;
}

static int addr_count(struct rtnl *rt, int family, const struct rtnl_addr *a)
{
	struct find_addr f = { .want = a };
	int r;

	r = rtnl_addr_dump(rt, family, find_addr_cb, &f);
	return r < 0 ? r : f.found;
}

/* With IFA_F_NODAD the address is not tentative: bind() works at once. */
static int bind_v6(const struct rtnl_addr *a)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = a->addr.v6 };
	int fd, r;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static void test_addrs(struct rtnl *rt, int br)
{
	struct rtnl_addr v4 = mkaddr(br, AF_INET, "10.99.0.1", 24);
	struct rtnl_addr v6 = mkaddr(br, AF_INET6, "fd00:99::1", 64);
	struct rtnl_addr bad = mkaddr(br, AF_INET, "10.99.0.1", 33);
	int r;

	r = rtnl_addr_add(rt, &v4);
	CHECK(r == 0, "add 10.99.0.1/24 (r=%d, %s)", r, rtnl_errmsg(rt));
	r = rtnl_addr_add(rt, &v4);
	CHECK(r == 0, "add it again: idempotent (r=%d)", r);
	r = rtnl_addr_add(rt, &v6);
	CHECK(r == 0, "add fd00:99::1/64 (r=%d, %s)", r, rtnl_errmsg(rt));
	r = rtnl_addr_add(rt, &v6);
	CHECK(r == 0, "add it again: idempotent (r=%d)", r);
	r = rtnl_addr_add(rt, &bad);
	CHECK(r == -EINVAL, "prefix 33 is refused (r=%d)", r);
	CHECK(addr_count(rt, AF_INET, &v4) == 1, "IPv4 dump finds 10.99.0.1/24 once");
	CHECK(addr_count(rt, AF_INET6, &v6) == 1, "IPv6 dump finds fd00:99::1/64 once");
	CHECK(addr_count(rt, AF_UNSPEC, &v4) == 1 && addr_count(rt, AF_UNSPEC, &v6) == 1,
	      "AF_UNSPEC dump finds both");
	CHECK(addr_count(rt, AF_INET6, &v4) == 0, "IPv6 dump has no IPv4 address");
	r = bind_v6(&v6);
	CHECK(r == 0, "IPv6 address usable at once (no DAD) (bind r=%d)", r);
}

struct find_route {
	int family, oif, found_oif;
	uint8_t dst_len;
	union { struct in_addr v4; struct in6_addr v6; } dst;
	bool other_table;
};

static int find_route_cb(const struct rtnl_route *rte, void *data)
{
	struct find_route *f = data;
	size_t len = rte->family == AF_INET ? 4 : 16;

	if (rte->table != RT_TABLE_MAIN || rte->type != RTN_UNICAST)
		f->other_table = true;
	if (rte->family == f->family && rte->dst_len == f->dst_len &&
	    memcmp(&rte->dst, &f->dst, len) == 0)
		f->found_oif = rte->oif;
	return 0;
}

static void test_routes(struct rtnl *rt, int br)
{
	struct find_route f = { .family = AF_INET, .dst_len = 24, .found_oif = -1 };
	struct find_route f6 = { .family = AF_INET6, .dst_len = 64, .found_oif = -1 };
	struct find_route lo = { .family = AF_INET, .dst_len = 8, .found_oif = -1 };
	int r;

	inet_pton(AF_INET, "10.99.0.0", &f.dst);
	r = rtnl_route_dump(rt, AF_INET, find_route_cb, &f);
	CHECK(r == 0 && f.found_oif == br,
	      "route dump: 10.99.0.0/24 via the bridge (r=%d, oif=%d)", r, f.found_oif);
	CHECK(!f.other_table, "route dump: only main-table unicast routes");
	inet_pton(AF_INET6, "fd00:99::", &f6.dst);
	r = rtnl_route_dump(rt, AF_INET6, find_route_cb, &f6);
	CHECK(r == 0 && f6.found_oif == br,
	      "route dump: fd00:99::/64 via the bridge (r=%d, oif=%d)", r, f6.found_oif);
	/* 127.0.0.0/8 lives in the local table, as RTN_LOCAL: not reported */
	inet_pton(AF_INET, "127.0.0.0", &lo.dst);
	r = rtnl_route_dump(rt, AF_UNSPEC, find_route_cb, &lo);
	CHECK(r == 0 && lo.found_oif == -1 && !lo.other_table,
	      "route dump: local-table routes are left out (r=%d)", r);
}

static void test_tap_port(struct rtnl *rt, int br)
{
	struct rtnl_tap_opts o = { .vnet_hdr = true, .owner = (uid_t)-1 };
	char name[IF_NAMESIZE] = "";
	struct rtnl_link l;
	struct ifreq ifr = { 0 };
	int fd = -1, r;

	r = rtnl_tap_create(rt, &o, &fd, name);
	CHECK(r == 0 && fd >= 0 && strncmp(name, "netd-t", 6) == 0,
	      "TAP from the name pattern (r=%d, name=%s)", r, name);
	if (r < 0)
		return;
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "TAP fd is close-on-exec");
	r = ioctl(fd, TUNGETIFF, &ifr);
	CHECK(r == 0 && (ifr.ifr_flags & IFF_VNET_HDR) && (ifr.ifr_flags & IFF_NO_PI) &&
	      (ifr.ifr_flags & IFF_TAP) && !(ifr.ifr_flags & IFF_PERSIST),
	      "TAP flags: tap, no_pi, vnet_hdr, not persistent (0x%x)", ifr.ifr_flags);
	r = rtnl_link_set_master(rt, 0, br);
	CHECK(r == -EINVAL, "set_master on ifindex 0 is refused (r=%d)", r);
	r = rtnl_link_get(rt, name, &l);
	CHECK(r == 0 && strcmp(l.kind, "tun") == 0 && !l.up,
	      "TAP is kind tun and down (r=%d, kind=%s)", r, l.kind);
	r = rtnl_link_set_master(rt, l.ifindex, br);
	CHECK(r == 0, "enslave TAP to bridge (r=%d, %s)", r, rtnl_errmsg(rt));
	r = rtnl_link_get(rt, name, &l);
	CHECK(r == 0 && l.master == br && l.up,
	      "TAP master is the bridge and it is up (master=%d)", l.master);
	r = rtnl_link_get_by_index(rt, br, &l);
	CHECK(r == 0 && l.mtu == 1400,
	      "bridge keeps its MTU when a 1500 port joins (%u)", l.mtu);
	r = rtnl_link_get(rt, name, &l);
	r = rtnl_link_set_master(rt, l.ifindex, 0);
	CHECK(r == 0 && rtnl_link_get(rt, name, &l) == 0 && l.master == 0,
	      "release TAP from the bridge (r=%d, master=%d)", r, l.master);
	r = rtnl_link_set_up(rt, l.ifindex, false);
	CHECK(r == 0 && rtnl_link_get(rt, name, &l) == 0 && !l.up, "set TAP down");
	close(fd);
	r = wait_gone(rt, name);
	CHECK(r == -ENODEV, "closing the fd removes the TAP (r=%d)", r);
}

static void test_tap_persist(struct rtnl *rt)
{
	static const uint8_t mac[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc };
	struct rtnl_tap_opts o = { .name = "netd-p0", .persist = true,
				   .owner = 4242, .mac = mac };
	char name[IF_NAMESIZE] = "", path[64], owner[32] = "";
	struct rtnl_link l;
	int fd = -1, fd2 = -1, r;

	r = rtnl_tap_create(rt, &o, &fd, name);
	CHECK(r == 0 && strcmp(name, "netd-p0") == 0, "persistent TAP netd-p0 (r=%d)", r);
	if (r < 0)
		return;
	close(fd);
	r = rtnl_link_get(rt, "netd-p0", &l);
	CHECK(r == 0, "it survives closing its fd (r=%d)", r);
	CHECK(r == 0 && memcmp(l.mac, mac, 6) == 0, "it has the requested MAC");
	snprintf(path, sizeof(path), "/sys/class/net/%s/owner", name);
	r = read_file(path, owner, sizeof(owner));
	CHECK(r == 0 && strcmp(owner, "4242") == 0, "owner is 4242 (r=%d, \"%s\")", r, owner);
	o.persist = false;
	r = rtnl_tap_create(rt, &o, &fd2, name);
	CHECK(r == -EEXIST && fd2 == -1,
	      "a TAP over the existing name fails with -EEXIST, no fd (r=%d)", r);
	r = rtnl_link_delete(rt, l.ifindex);
	CHECK(r == 0 && wait_gone(rt, "netd-p0") == -ENODEV, "delete it (r=%d)", r);
}

/* A failure after the device exists leaves neither fd nor device. */
static void test_tap_failure(struct rtnl *rt)
{
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	struct rtnl_tap_opts o = { .name = "netd-f0", .persist = true, .owner = 4242,
				   .mac = mcast, .queues = 2 };
	int fds[2] = { 7777, 7777 }, r;
	struct rtnl_link l;

	r = rtnl_tap_create(rt, &o, fds, NULL);
	CHECK(r < 0 && fds[0] == -1 && fds[1] == -1,
	      "persistent TAP with a multicast MAC fails, fds reset (r=%d)", r);
	r = rtnl_link_get(rt, "netd-f0", &l);
	CHECK(r == -ENODEV, "and leaves no device behind (r=%d)", r);
	o.mac = NULL;
	o.queues = 300;
	r = rtnl_tap_create(rt, &o, fds, NULL);
	CHECK(r == -EINVAL, "300 queues are refused (r=%d)", r);
}

static int count_fds(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

static void test_tap_multiqueue(struct rtnl *rt)
{
	struct rtnl_tap_opts o = { .queues = 3, .owner = (uid_t)-1 };
	char name[IF_NAMESIZE] = "";
	int fds[3] = { -1, -1, -1 }, ok = 0, r;

	r = rtnl_tap_create(rt, &o, fds, name);
	CHECK(r == 0, "multi-queue TAP with 3 queues (r=%d, name=%s)", r, name);
	if (r < 0)
		return;
	for (int i = 0; i < 3; i++) {
		struct ifreq ifr = { 0 };

		if (ioctl(fds[i], TUNGETIFF, &ifr) == 0 &&
		    strcmp(ifr.ifr_name, name) == 0 &&
		    (ifr.ifr_flags & IFF_MULTI_QUEUE))
			ok++;
		close(fds[i]);
	}
	CHECK(ok == 3, "all 3 fds are queues of %s (%d)", name, ok);
	CHECK(wait_gone(rt, name) == -ENODEV, "gone once all queues are closed");
}

static void test_not_a_bridge(struct rtnl *rt)
{
	struct rtnl_tap_opts o = { .name = "netd-nb", .owner = (uid_t)-1 };
	char name[IF_NAMESIZE];
	int fd = -1, ifindex = -5, r;

	r = rtnl_tap_create(rt, &o, &fd, name);
	CHECK(r == 0, "TAP netd-nb (r=%d)", r);
	if (r < 0)
		return;
	r = rtnl_bridge_create(rt, "netd-nb", NULL, &ifindex);
	CHECK(r == -EEXIST && ifindex == -5,
	      "bridge over an existing TAP name gives -EEXIST (r=%d)", r);
	close(fd);
	wait_gone(rt, "netd-nb");
}

static void test_errors(struct rtnl *rt, int br)
{
	struct rtnl_link l;
	int r;

	r = rtnl_link_set_mtu(rt, br, 100000);
	CHECK(r < 0 && rtnl_errmsg(rt)[0] != '\0',
	      "MTU 100000 fails with a kernel message (r=%d, \"%s\")", r, rtnl_errmsg(rt));
	r = rtnl_link_get(rt, "netd-br0", &l);
	CHECK(r == 0 && rtnl_errmsg(rt)[0] == '\0' && l.mtu == 1400,
	      "the next call clears the message, MTU unchanged (%u)", l.mtu);
	r = rtnl_link_set_master(rt, br, br);
	CHECK(r < 0, "enslaving the bridge to itself fails (r=%d, \"%s\")", r, rtnl_errmsg(rt));
	r = rtnl_link_set_mtu(rt, br, 1300);
	CHECK(r == 0 && rtnl_link_get(rt, "netd-br0", &l) == 0 && l.mtu == 1300,
	      "set MTU 1300 (r=%d, mtu=%u)", r, l.mtu);
	r = rtnl_bridge_create(rt, "netd-name-much-too-long", NULL, NULL);
	CHECK(r == -EINVAL, "over-long bridge name is refused (r=%d)", r);
}

static void test_bridge_variants(struct rtnl *rt)
{
	struct rtnl_bridge_opts bad = { .mtu = 100000, .alias = "netd:bad" };
	struct rtnl_link l;
	int r;

	r = rtnl_bridge_create(rt, "netd-bad", &bad, NULL);
	CHECK(r < 0 && rtnl_errmsg(rt)[0] != '\0',
	      "bridge with MTU 100000 fails with a message (r=%d, \"%s\")", r, rtnl_errmsg(rt));
	r = rtnl_link_get(rt, "netd-bad", &l);
	CHECK(r == -ENODEV, "and leaves no bridge behind (r=%d)", r);
	r = rtnl_bridge_create(rt, "netd-br1", NULL, NULL);
	CHECK(r == 0, "bridge without options or ifindex pointer (r=%d)", r);
	r = rtnl_link_get(rt, "netd-br1", &l);
	CHECK(r == 0 && l.up && l.mtu == 1500 && l.alias[0] == '\0' && l.group == 0,
	      "it is up with the defaults (mtu=%u, group=%u)", l.mtu, l.group);
	r = rtnl_link_delete(rt, l.ifindex);
	CHECK(r == 0 && rtnl_link_get(rt, "netd-br1", &l) == -ENODEV, "delete it (r=%d)", r);
}

static void test_delete(struct rtnl *rt, int br)
{
	struct rtnl_addr v4 = mkaddr(br, AF_INET, "10.99.0.1", 24);
	struct rtnl_link l;
	int r;

	r = rtnl_addr_del(rt, &v4);
	CHECK(r == 0 && addr_count(rt, AF_INET, &v4) == 0, "delete the IPv4 address (r=%d)", r);
	r = rtnl_addr_del(rt, &v4);
	CHECK(r == 0, "deleting it again is 0 (r=%d)", r);
	r = rtnl_link_delete(rt, br);
	CHECK(r == 0, "delete the bridge (r=%d)", r);
	r = rtnl_link_get(rt, "netd-br0", &l);
	CHECK(r == -ENODEV, "lookup after delete gives -ENODEV (r=%d)", r);
	r = rtnl_link_delete(rt, br);
	CHECK(r == 0, "deleting it again is 0 (r=%d)", r);
}

/* A network namespace of our own, and a sysfs that shows it. */
static int enter_namespaces(void)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL) < 0)
		return -errno;
	return 0;
}

int main(void)
{
	struct rtnl *rt = NULL;
	int br, fds, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	r = enter_namespaces();
	if (r < 0) {
		printf("SKIP: cannot enter namespaces: %s\n", strerror(-r));
		return 77;
	}
	fds = count_fds();
	r = rtnl_open(&rt);
	CHECK(r == 0, "rtnl_open (r=%d)", r);
	if (r < 0)
		return 1;
	CHECK(rtnl_errmsg(rt)[0] == '\0', "no message before any call");
	test_link_dump(rt);
	br = test_bridge(rt);
	if (br > 0) {
		test_addrs(rt, br);
		test_routes(rt, br);
		test_tap_port(rt, br);
		test_errors(rt, br);
	}
	test_bridge_variants(rt);
	test_tap_persist(rt);
	test_tap_multiqueue(rt);
	test_tap_failure(rt);
	test_not_a_bridge(rt);
	if (br > 0)
		test_delete(rt, br);
	rt = rtnl_close(rt);
	CHECK(rt == NULL && rtnl_close(NULL) == NULL, "rtnl_close is NULL-safe");
	r = count_fds();
	CHECK(r == fds, "no fd leaked (%d open, %d at start)", r, fds);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
