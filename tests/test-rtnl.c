/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel test of netlink/rtnl.c.  Runs in a private network namespace (and a
 * private mount namespace, for a sysfs that shows that network namespace);
 * both vanish with the process.  Exit 0 pass, 1 fail, 77 skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
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

/*
 * Netlink requests sent, counted by standing in for libc's sendto(): the
 * executable's definition comes first in symbol lookup, for libmnl too.
 * test_port_setup checks that the count moves with a known request.
 */
static int netlink_sends;

ssize_t sendto(int fd, const void *buf, size_t len, int flags,
	       const struct sockaddr *addr, socklen_t alen)
{
	if (addr && addr->sa_family == AF_NETLINK)
		netlink_sends++;
	return syscall(SYS_sendto, fd, buf, len, flags, addr, alen);
}

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

struct link_addrs {
	int ifindex, n, other;
	struct find_addr v4, v6, lo;
};

static int link_addrs_cb(const struct rtnl_addr *a, void *data)
{
	struct link_addrs *l = data;

	l->n++;
	if (a->ifindex != l->ifindex)
		l->other++;
	find_addr_cb(a, &l->v4);
	find_addr_cb(a, &l->v6);
	find_addr_cb(a, &l->lo);
	return 0;
}

/* rtnl_addr_dump_link: one link's addresses, the socket as it was after. */
static void test_addr_dump_link(struct rtnl *rt, const struct rtnl_addr *v4,
				const struct rtnl_addr *v6)
{
	struct rtnl_addr lo = mkaddr(1, AF_INET, "127.0.0.1", 8);
	struct link_addrs br = { .ifindex = v4->ifindex, .v4.want = v4, .v6.want = v6,
				 .lo.want = &lo };
	struct link_addrs lb = { .ifindex = 1, .v4.want = v4, .v6.want = v6, .lo.want = &lo };
	int r;

	r = rtnl_addr_dump_link(rt, br.ifindex, link_addrs_cb, &br);
	CHECK(r == 0 && br.v4.found == 1 && br.v6.found == 1 && br.lo.found == 0 && br.other == 0,
	      "dump of the bridge's addresses: both of its own, no other link's (r=%d, %d addresses)",
	      r, br.n);
	r = rtnl_addr_dump_link(rt, 1, link_addrs_cb, &lb);
	CHECK(r == 0 && lb.v4.found == 0 && lb.v6.found == 0 && lb.other == 0,
	      "dump of lo's addresses: none of the bridge's (r=%d, %d addresses)", r, lb.n);
	r = rtnl_addr_dump_link(rt, 0, link_addrs_cb, &lb);
	CHECK(r == -EINVAL, "dump of ifindex 0 is refused (r=%d)", r);
	CHECK(addr_count(rt, AF_UNSPEC, v4) == 1 && addr_count(rt, AF_UNSPEC, v6) == 1,
	      "a whole dump afterwards still sees every link");
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
	test_addr_dump_link(rt, &v4, &v6);
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
	int fd = -1, ifindex = -5, r;

	netlink_sends = 0;
	r = rtnl_tap_create(rt, &o, &fd, name, &ifindex);
	CHECK(r == 0 && fd >= 0 && strncmp(name, "netd-t", 6) == 0,
	      "TAP from the name pattern (r=%d, name=%s)", r, name);
	if (r < 0)
		return;
	CHECK(netlink_sends == 0,
	      "without port options no netlink request is sent (%d)", netlink_sends);
	CHECK(rtnl_link_get(rt, name, &l) == 0 && l.ifindex == ifindex,
	      "its ifindex is returned (%d, lookup %d)", ifindex, l.ifindex);
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

	r = rtnl_tap_create(rt, &o, &fd, name, NULL);
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
	r = rtnl_tap_create(rt, &o, &fd2, name, NULL);
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

	r = rtnl_tap_create(rt, &o, fds, NULL, NULL);
	CHECK(r < 0 && fds[0] == -1 && fds[1] == -1,
	      "persistent TAP with a multicast MAC fails, fds reset (r=%d)", r);
	r = rtnl_link_get(rt, "netd-f0", &l);
	CHECK(r == -ENODEV, "and leaves no device behind (r=%d)", r);
	o.mac = NULL;
	o.queues = 300;
	r = rtnl_tap_create(rt, &o, fds, NULL, NULL);
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

	r = rtnl_tap_create(rt, &o, fds, name, NULL);
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

	r = rtnl_tap_create(rt, &o, &fd, name, NULL);
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

/* disable_ipv6 of a link, '0' or '1'; 0 when the kernel has no IPv6. */
static char ipv6_disabled(const char *name)
{
	char path[128], v[4] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	f = fopen(path, "r");
	if (!f)
		return access("/proc/sys/net/ipv6", F_OK) == 0 ? '?' : 0;
	if (!fgets(v, sizeof(v), f))
		v[0] = '?';
	fclose(f);
	return v[0];
}

/* no_ipv6: the bridge comes up with IPv6 already off, so it has no fe80::. */
static void test_bridge_no_ipv6(struct rtnl *rt)
{
	struct rtnl_bridge_opts o = { .alias = "netd:v4", .no_ipv6 = true };
	struct rtnl_link l;
	char v;
	int ifindex = 0, r;

	r = rtnl_bridge_create(rt, "netd-v4", &o, &ifindex);
	CHECK(r == 0 && rtnl_link_get(rt, "netd-v4", &l) == 0 && l.up &&
	      strcmp(l.alias, "netd:v4") == 0, "no_ipv6 bridge: made, up, alias set (r=%d)", r);
	v = ipv6_disabled("netd-v4");
	CHECK(v == '1' || v == 0, "no_ipv6 bridge: disable_ipv6 is 1 (%c)", v ? v : '-');
	CHECK(rtnl_link_set_ipv6("netd-v4", true) == 0 && ipv6_disabled("netd-v4") != '1',
	      "rtnl_link_set_ipv6 turns it back on");
	CHECK(rtnl_link_set_ipv6("all", false) == -EINVAL && rtnl_link_set_ipv6("a/b", false) == -EINVAL,
	      "rtnl_link_set_ipv6 refuses conf/all and names with '/'");
	if (ifindex > 0)
		(void)rtnl_link_delete(rt, ifindex);
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
	test_bridge_no_ipv6(rt);
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
	r = rtnl_addr_del(rt, &v4);
	CHECK(r == 0 && rtnl_errmsg(rt)[0] == '\0',
	      "IPv4 address del on a link that is gone is 0 (r=%d)", r);
	v4 = mkaddr(br, AF_INET6, "fd00:99::1", 64);
	r = rtnl_addr_del(rt, &v4);
	CHECK(r == 0 && rtnl_errmsg(rt)[0] == '\0',
	      "IPv6 address del on a link that is gone is 0 (r=%d)", r);
	r = rtnl_link_delete(rt, br);
	CHECK(r == 0, "deleting it again is 0 (r=%d)", r);
}

static bool link_is(struct rtnl *rt, int ifindex, struct rtnl_link *l)
{
	return rtnl_link_get_by_index(rt, ifindex, l) == 0;
}

static void test_port_setup_errors(struct rtnl *rt, int tap)
{
	char long_alias[300];
	int r;

	memset(long_alias, 'a', sizeof(long_alias) - 1);
	long_alias[256] = '\0';
	netlink_sends = 0;
	CHECK(rtnl_port_setup(rt, 0, &(struct rtnl_port_opts){ .up = true }) == -EINVAL &&
	      rtnl_port_setup(rt, tap, NULL) == -EINVAL &&
	      rtnl_port_setup(rt, tap, &(struct rtnl_port_opts){ .master = -1 }) == -EINVAL &&
	      rtnl_port_setup(rt, tap, &(struct rtnl_port_opts){ .alias = long_alias }) == -EINVAL &&
	      netlink_sends == 0,
	      "bad ifindex, no options, master < 0, 256-byte alias: -EINVAL, nothing sent");
	r = rtnl_port_setup(rt, tap, &(struct rtnl_port_opts){ .master = 99999 });
	CHECK(r == -EINVAL, "a master that does not exist fails (r=%d)", r);
}

static void test_port_setup(struct rtnl *rt, int br)
{
	struct rtnl_port_opts o = { .master = br, .mtu = 1400, .alias = "vm1:eth0",
				    .group = 5, .up = true };
	struct rtnl_tap_opts to = { .name = "netd-ps", .owner = (uid_t)-1 };
	struct rtnl_link l;
	int fd = -1, tap = 0, r;

	r = rtnl_tap_create(rt, &to, &fd, NULL, &tap);
	CHECK(r == 0 && tap > 0, "TAP netd-ps for port setup (r=%d)", r);
	if (r < 0)
		return;
	netlink_sends = 0;
	r = rtnl_link_set_up(rt, tap, false);
	CHECK(r == 0 && netlink_sends == 1,
	      "the request counter sees one request (r=%d, %d)", r, netlink_sends);
	netlink_sends = 0;
	r = rtnl_port_setup(rt, tap, &o);
	CHECK(r == 0 && netlink_sends == 1,
	      "port setup is one netlink request (r=%d, %d sent, %s)",
	      r, netlink_sends, rtnl_errmsg(rt));
	CHECK(link_is(rt, tap, &l) && l.master == br && l.mtu == 1400 && l.up &&
	      l.group == 5 && strcmp(l.alias, "vm1:eth0") == 0,
	      "master, mtu, alias, group and up all applied (master=%d mtu=%u "
	      "group=%u alias=\"%s\" up=%d)", l.master, l.mtu, l.group, l.alias, l.up);
	netlink_sends = 0;
	r = rtnl_port_setup(rt, tap, &(struct rtnl_port_opts){ .master = br, .alias = "" });
	CHECK(r == 0 && netlink_sends == 1 && link_is(rt, tap, &l) &&
	      l.alias[0] == '\0', "alias \"\" clears it (r=%d, \"%s\")", r, l.alias);
	CHECK(l.master == br && l.up && l.mtu == 1400 && l.group == 5,
	      "mtu/group/up left 0/false are left alone (master=%d up=%d)", l.master, l.up);
	netlink_sends = 0;
	r = rtnl_port_setup(rt, tap, &(struct rtnl_port_opts){ .master = 0 });
	CHECK(r == 0 && netlink_sends == 1 && link_is(rt, tap, &l) && l.master == 0,
	      "master 0 releases the port (r=%d, master=%d)", r, l.master);
	CHECK(l.up && l.mtu == 1400 && l.group == 5,
	      "and leaves the rest as it was (up=%d mtu=%u)", l.up, l.mtu);
	r = rtnl_port_setup(rt, tap, &(struct rtnl_port_opts){ .master = 0 });
	CHECK(r == 0, "master 0 on a port without one is a no-op (r=%d)", r);
	test_port_setup_errors(rt, tap);
	close(fd);
	wait_gone(rt, "netd-ps");
}

/* TAP creation with port options: open + ioctls + exactly one request. */
static void test_tap_port_opts(struct rtnl *rt, int br)
{
	struct rtnl_tap_opts o = { .name = "netd-vp", .vnet_hdr = true,
				   .owner = (uid_t)-1, .alias = "vm2:eth0",
				   .group = 9, .master = br, .mtu = 1450, .no_ipv6 = true };
	char name[IF_NAMESIZE] = "", v6[4] = "";
	struct rtnl_link l;
	int fd = -1, ifindex = 0, r;
	FILE *f;

	netlink_sends = 0;
	r = rtnl_tap_create(rt, &o, &fd, name, &ifindex);
	CHECK(r == 0 && netlink_sends == 1,
	      "TAP with master/mtu/alias/group: one netlink request (r=%d, %d sent, %s)",
	      r, netlink_sends, rtnl_errmsg(rt));
	if (r < 0)
		return;
	CHECK(rtnl_link_get(rt, "netd-vp", &l) == 0 && l.ifindex == ifindex,
	      "the returned ifindex is the TAP's (%d, lookup %d)", ifindex, l.ifindex);
	CHECK(l.master == br && l.up && l.mtu == 1450 && l.group == 9 &&
	      strcmp(l.alias, "vm2:eth0") == 0,
	      "all applied, and up (master=%d mtu=%u group=%u alias=\"%s\" up=%d)",
	      l.master, l.mtu, l.group, l.alias, l.up);
	/* Only a kernel without IPv6 has no such file. */
	f = fopen("/proc/sys/net/ipv6/conf/netd-vp/disable_ipv6", "r");
	CHECK(f || access("/proc/sys/net/ipv6", F_OK) != 0, "no_ipv6: netd-vp has IPv6 settings");
	if (f) {
		CHECK(fgets(v6, sizeof(v6), f) && v6[0] == '1', "no_ipv6: IPv6 is off on it (disable_ipv6=%.1s)", v6);
		fclose(f);
	}
	close(fd);
	CHECK(wait_gone(rt, "netd-vp") == -ENODEV, "closing its fd removes it");
}

static void test_tap_port_persist(struct rtnl *rt, int br)
{
	static const uint8_t mac[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcd };
	struct rtnl_tap_opts o = { .name = "netd-vq", .persist = true, .owner = 4242,
				   .mac = mac, .master = br };
	struct rtnl_link l;
	int fds[2] = { 7777, 7777 }, fd = -1, ifindex = 0, r;

	netlink_sends = 0;
	r = rtnl_tap_create(rt, &o, &fd, NULL, &ifindex);
	CHECK(r == 0 && netlink_sends == 1,
	      "persistent TAP with owner, MAC and master: one request (r=%d, %d)",
	      r, netlink_sends);
	if (r == 0) {
		close(fd);
		CHECK(link_is(rt, ifindex, &l) && l.master == br && l.up &&
		      memcmp(l.mac, mac, 6) == 0,
		      "it outlives its fd, enslaved, up, with its MAC (master=%d)", l.master);
		CHECK(rtnl_link_delete(rt, ifindex) == 0 &&
		      wait_gone(rt, "netd-vq") == -ENODEV, "delete it");
	}
	o.name = "netd-vf";
	o.master = 99999;
	o.queues = 2;
	r = rtnl_tap_create(rt, &o, fds, NULL, &ifindex);
	CHECK(r == -EINVAL && fds[0] == -1 && fds[1] == -1,
	      "persistent TAP with a master that does not exist fails, fds reset (r=%d)", r);
	CHECK(wait_gone(rt, "netd-vf") == -ENODEV, "and leaves no device behind");
	o.master = -3;
	r = rtnl_tap_create(rt, &o, fds, NULL, NULL);
	CHECK(r == -EINVAL && rtnl_link_get(rt, "netd-vf", &l) == -ENODEV,
	      "master < 0 is refused before anything is made (r=%d)", r);
}

/* ---- monitor ---- */

struct event {
	int ifindex, master;
	bool removed, up;
};

struct events {
	struct event ev[1024];
	int n, calls;
	int stop_at;		/* > 0: return -ECANCELED from that call */
	int err;		/* first error of rtnl_monitor_read */
};

static int record_cb(const struct rtnl_link *l, bool removed, void *data)
{
	struct events *e = data;

	e->calls++;
	if (e->n < (int)(sizeof(e->ev) / sizeof(e->ev[0])))
		e->ev[e->n++] = (struct event){ .ifindex = l->ifindex,
			.master = l->master, .removed = removed, .up = l->up };
	return e->calls == e->stop_at ? -ECANCELED : 0;
}

/* Index of the first event from `from` on that matches (master -1: any). */
static int find_event(const struct events *e, int from, int ifindex,
		      int master, bool removed)
{
	for (int i = from; i < e->n; i++)
		if (e->ev[i].ifindex == ifindex && e->ev[i].removed == removed &&
		    (master < 0 || e->ev[i].master == master))
			return i;
	return -1;
}

/* Poll and read (2 s at most) until such an event is there: its index. */
static int wait_event(struct rtnl_monitor *m, struct events *e, int from,
		      int ifindex, int master, bool removed)
{
	struct pollfd pfd = { .fd = rtnl_monitor_fd(m), .events = POLLIN };
	int i, r;

	for (int t = 0; t < 40; t++) {
		i = find_event(e, from, ifindex, master, removed);
		if (i >= 0)
			return i;
		if (poll(&pfd, 1, 50) < 0)
			return -1;
		r = rtnl_monitor_read(m, record_cb, e);
		if (r < 0 && !e->err)
			e->err = r;
	}
	return find_event(e, from, ifindex, master, removed);
}

static void monitor_check_fd(struct rtnl_monitor *m)
{
	int fd = rtnl_monitor_fd(m), size = 0;
	socklen_t len = sizeof(size);

	CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK) &&
	      (fcntl(fd, F_GETFD) & FD_CLOEXEC), "monitor fd is nonblocking, close-on-exec");
	/* the kernel doubles it; only SO_RCVBUFFORCE goes past rmem_max */
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len);
	CHECK(size == 2 * (8 << 20),
	      "monitor receive buffer is 8 MiB, forced past rmem_max (%d bytes)", size);
}

/* Bridge and port events, in order, with ifindex, master and removed. */
static void monitor_bridge_port(struct rtnl *rt, struct rtnl_monitor *m,
				struct events *e)
{
	struct rtnl_tap_opts o = { .name = "netd-mt", .owner = (uid_t)-1 };
	int br = 0, tap = 0, fd = -1, i, j, r;

	r = rtnl_bridge_create(rt, "netd-mb", NULL, &br);
	i = wait_event(m, e, 0, br, -1, false);
	CHECK(r == 0 && i >= 0, "RTM_NEWLINK for a new bridge (ifindex %d)", br);
	r = rtnl_tap_create(rt, &o, &fd, NULL, &tap);
	i = wait_event(m, e, 0, tap, 0, false);
	CHECK(r == 0 && i >= 0, "RTM_NEWLINK for a new TAP, no master (ifindex %d)", tap);
	r = rtnl_link_set_master(rt, tap, br);
	i = wait_event(m, e, i + 1, tap, br, false);
	CHECK(r == 0 && i >= 0 && e->ev[i].up,
	      "RTM_NEWLINK: the TAP is up with the bridge as master (i=%d)", i);
	r = rtnl_link_set_master(rt, tap, 0);
	j = wait_event(m, e, i + 1, tap, 0, false);
	CHECK(r == 0 && j >= 0, "RTM_NEWLINK: released, master 0 (i=%d)", j);
	CHECK(find_event(e, 0, tap, -1, true) < 0,
	      "leaving the bridge is not reported as a removal (AF_BRIDGE skipped)");
	rtnl_link_set_master(rt, tap, br);
	close(fd);
	i = wait_event(m, e, j + 1, tap, -1, true);
	CHECK(i >= 0, "RTM_DELLINK (removed) for the TAP when its fd closes");
	r = rtnl_link_delete(rt, br);
	i = wait_event(m, e, i + 1, br, -1, true);
	CHECK(r == 0 && i >= 0, "RTM_DELLINK (removed) for the bridge");
	CHECK(e->err == 0, "no read error on the way (%d)", e->err);
}

/* A negative callback return stops the read; the rest stays queued. */
static void monitor_stop(struct rtnl *rt, struct rtnl_monitor *m)
{
	struct events e = { .stop_at = 1 };
	int r, r2;

	rtnl_link_set_mtu(rt, 1, 60000);
	rtnl_link_set_mtu(rt, 1, 65536);
	r = rtnl_monitor_read(m, record_cb, &e);
	CHECK(r == -ECANCELED && e.calls == 1,
	      "a negative callback return stops the read and is returned (r=%d)", r);
	e.stop_at = 0;
	r = rtnl_monitor_read(m, record_cb, &e);
	r2 = find_event(&e, 1, 1, -1, false);
	CHECK(r == 0 && e.calls >= 2 && r2 >= 1,
	      "the next read gets the events left behind (r=%d, calls=%d)", r, e.calls);
}

static void test_monitor(struct rtnl *rt)
{
	struct rtnl_monitor *m = NULL;
	struct events *e = calloc(1, sizeof(*e));
	int r;

	r = rtnl_monitor_open(&m);
	CHECK(r == 0 && m, "rtnl_monitor_open (r=%d)", r);
	if (r < 0 || !e) {
		free(e);
		return;
	}
	monitor_check_fd(m);
	r = rtnl_monitor_read(m, record_cb, e);
	CHECK(r == 0 && e->calls == 0, "empty queue: read returns 0, no callback (r=%d)", r);
	monitor_bridge_port(rt, m, e);
	e->calls = 0;
	r = rtnl_monitor_read(m, record_cb, e);
	CHECK(r == 0 && e->calls == 0, "drained: the next read returns 0 (r=%d)", r);
	monitor_stop(rt, m);
	CHECK(rtnl_monitor_read(m, NULL, NULL) == -EINVAL, "no callback: -EINVAL");
	m = rtnl_monitor_close(m);
	CHECK(m == NULL && rtnl_monitor_close(NULL) == NULL, "rtnl_monitor_close is NULL-safe");
	free(e);
}

#define OVERFLOW_TAPS 300

/* How many of the taps have a RTM_NEWLINK in e. */
static int taps_seen(const struct events *e, const int *taps, int n)
{
	int seen = 0;

	for (int i = 0; i < n; i++)
		if (find_event(e, 0, taps[i], -1, false) >= 0)
			seen++;
	return seen;
}

static void overflow_check(struct rtnl *rt, struct rtnl_monitor *big,
			   struct rtnl_monitor *small, int *fds, int *taps)
{
	struct events *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return;
	r = rtnl_monitor_read(big, record_cb, e);
	CHECK(r == 0 && taps_seen(e, taps, OVERFLOW_TAPS) == OVERFLOW_TAPS,
	      "the big buffer held the events of %d new TAPs (r=%d, seen %d)",
	      OVERFLOW_TAPS, r, taps_seen(e, taps, OVERFLOW_TAPS));
	memset(e, 0, sizeof(*e));
	/*
	 * The kernel reports the overflow before the events still queued;
	 * those are stale once the caller resyncs, so they are dropped.
	 */
	r = rtnl_monitor_read(small, record_cb, e);
	CHECK(r == -ENOBUFS && e->calls == 0,
	      "the small buffer overflowed: -ENOBUFS, queued events dropped (r=%d, %d events)",
	      r, e->calls);
	memset(e, 0, sizeof(*e));
	r = rtnl_monitor_read(small, record_cb, e);
	CHECK(r == 0 && e->calls == 0,
	      "after -ENOBUFS the stale queue is dropped: next read is 0 (r=%d, %d)",
	      r, e->calls);
	close(fds[0]);
	fds[0] = -1;
	r = wait_event(small, e, 0, taps[0], -1, true);
	CHECK(r >= 0 && e->err == 0, "and later events arrive again (err=%d)", e->err);
	(void)rt;
	free(e);
}

static void test_monitor_overflow(struct rtnl *rt)
{
	struct rtnl_tap_opts o = { .owner = (uid_t)-1 };
	struct rtnl_monitor *big = NULL, *small = NULL;
	int fds[OVERFLOW_TAPS], taps[OVERFLOW_TAPS], one = 1, made = 0, r;

	if (rtnl_monitor_open(&big) < 0 || rtnl_monitor_open(&small) < 0) {
		CHECK(0, "open two monitors");
		goto out;
	}
	r = setsockopt(rtnl_monitor_fd(small), SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	CHECK(r == 0, "shrink the second monitor's buffer to the minimum");
	for (; made < OVERFLOW_TAPS; made++)
		if (rtnl_tap_create(rt, &o, &fds[made], NULL, &taps[made]) < 0)
			break;
	CHECK(made == OVERFLOW_TAPS, "%d TAPs made without reading", made);
	if (made == OVERFLOW_TAPS)
		overflow_check(rt, big, small, fds, taps);
	for (int i = 0; i < made; i++)
		if (fds[i] >= 0)
			close(fds[i]);
out:
	rtnl_monitor_close(big);
	rtnl_monitor_close(small);
}

/* Drop CAP_NET_ADMIN from the effective set of this process. */
static int drop_net_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	d[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* In a child: 0 when the fallback worked, else what failed. */
static int monitor_no_cap_child(void)
{
	struct rtnl_monitor *m = NULL;
	int size = 0, force = 1 << 20, fd;
	socklen_t len = sizeof(size);
	char buf[32];

	if (drop_net_admin() < 0)
		return 10;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &force,
				 sizeof(force)) == 0 || errno != EPERM)
		return 11;	/* the capability did not go */
	close(fd);
	if (rtnl_monitor_open(&m) < 0)
		return 2;
	getsockopt(rtnl_monitor_fd(m), SOL_SOCKET, SO_RCVBUF, &size, &len);
	rtnl_monitor_close(m);
	if (read_file("/proc/sys/net/core/rmem_max", buf, sizeof(buf)) < 0)
		return 12;
	/* SO_RCVBUF: the request capped at rmem_max, doubled by the kernel */
	if (size != 2 * (atoi(buf) < (8 << 20) ? atoi(buf) : (8 << 20)))
		return 3;
	return 0;
}

static void test_monitor_no_cap(void)
{
	int status = 0;
	pid_t pid;

	pid = fork();
	if (pid == 0)
		_exit(monitor_no_cap_child());
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		CHECK(0, "fork/wait for the no-CAP_NET_ADMIN child");
		return;
	}
	if (WEXITSTATUS(status) >= 10) {
		printf("skip - cannot drop CAP_NET_ADMIN here (%d)\n", WEXITSTATUS(status));
		return;
	}
	CHECK(WEXITSTATUS(status) == 0,
	      "without CAP_NET_ADMIN the monitor opens with SO_RCVBUF up to rmem_max (%d)",
	      WEXITSTATUS(status));
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
		test_port_setup(rt, br);
		test_tap_port_opts(rt, br);
		test_tap_port_persist(rt, br);
		test_errors(rt, br);
	}
	test_bridge_variants(rt);
	test_tap_persist(rt);
	test_tap_multiqueue(rt);
	test_tap_failure(rt);
	test_not_a_bridge(rt);
	test_monitor(rt);
	test_monitor_overflow(rt);
	test_monitor_no_cap();
	if (br > 0)
		test_delete(rt, br);
	rt = rtnl_close(rt);
	CHECK(rt == NULL && rtnl_close(NULL) == NULL, "rtnl_close is NULL-safe");
	r = count_fds();
	CHECK(r == fds, "no fd leaked (%d open, %d at start)", r, fds);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
