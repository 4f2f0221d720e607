/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: one network file (config_parse_buffer) and the checks
 * across networks and against the host (config_validate_set).
 *
 * The input is the text of /etc/netd/networks/fuzz.conf.  The result is then
 * validated twice together with a fixed, valid nat network, once after it and
 * once before it, against a small fake host: routes that overlap or not,
 * a route through a bridge netd owns, links that are or are not bridges and
 * are or are not netd's.  Besides what the sanitizers catch, the target
 * aborts when the contract of config.h is broken: a network is invalid
 * exactly when a problem was reported, every problem names the file, and a
 * valid network has a usable name, bridge and DHCP range.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netd/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PATH "/etc/netd/networks/fuzz.conf"

static const char fixed_text[] =
	"[Network]\n"
	"Mode=nat\n"
	"Bridge=netd-fixed\n"
	"Address=10.77.0.1/24\n"
	"Address=fd00:77::1/64\n"
	"[DHCP]\n"
	"Range=10.77.0.100-10.77.0.199\n"
	"Reservation=52:54:00:77:00:10,10.77.0.10,fixed\n"
	"[DNS]\n"
	"Domain=fixed.internal\n"
	"[Forward]\n"
	"Port=tcp/8080=10.77.0.10:80\n"
	"Port=udp/5353=10.77.0.10:53\n"
	"[Access]\n"
	"User=nobody\n";

static struct net_config *fixed;

static struct host_route routes[] = {
	{ .dst = { 0 }, .len = 0, .ifname = "eth0" },	/* default route */
	{ .len = 24, .ifname = "eth0" },	/* 192.168.1.0/24 */
	{ .len = 16, .ifname = "wg0" },		/* 10.200.0.0/16 */
	{ .len = 24, .ifname = "netd-fixed" },	/* 10.77.0.0/24: the fixed network's own */
	{ .len = 24, .ifname = "netd-fuzz" },	/* 10.88.0.0/24: via the default bridge name */
	{ .len = 48, .ifname = "eth1" },	/* fd00:dead:beef::/48 */
	{ .len = 64, .ifname = "netd-old" },	/* fd00:1::/64 */
};

static const char *const route_dst[] = {
	"0.0.0.0", "192.168.1.0", "10.200.0.0", "10.77.0.0", "10.88.0.0", "fd00:dead:beef::",
	"fd00:1::",
};

static struct host_link links[] = {
	{ "lo", "", false },
	{ "eth0", "", false },
	{ "br0", "bridge", false },
	{ "docker0", "bridge", false },
	{ "netd-old", "bridge", true },
	{ "netd-fixed", "bridge", true },
	{ "tap0", "tun", false },
	{ "vxlan0", "vxlan", false },
};

static const struct host_view host = {
	.routes = routes, .n_routes = sizeof(routes) / sizeof(routes[0]),
	.links = links, .n_links = sizeof(links) / sizeof(links[0]),
};

static void die(const char *what, const struct diag *d)
{
	fprintf(stderr, "fuzz-config: broken contract: %s\n", what);
	for (size_t i = 0; d && i < d->n; i++)
		fprintf(stderr, "  diag: %s\n", d->lines[i]);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct diag d = { 0 };

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (ipaddr_parse(route_dst[i], &routes[i].dst) < 0)
			die("route table", NULL);
	if (config_parse_buffer("/etc/netd/networks/fixed.conf", fixed_text, strlen(fixed_text), &d,
				&fixed) < 0 || !fixed->valid || d.n)
		die("the fixed network does not parse", &d);
	diag_free(&d);
	return 0;
}

/* Checks that hold for every result, valid or not. */
static void check_result(const struct net_config *c, const struct diag *d, const uint8_t *data,
			 size_t size)
{
	static const char prefix[] = FUZZ_PATH ":";

	if (c->valid != (d->n == 0))
		die("valid must mean \"no problem reported\"", d);
	for (size_t i = 0; i < d->n; i++)
		if (strncmp(d->lines[i], prefix, strlen(prefix)) != 0)
			die("a problem does not name the file", d);
	if (c->n_addrs > NET_MAX_ADDRS || strcmp(c->name, "fuzz") != 0)
		die("addresses or name out of bounds", d);
	if (!c->text || c->text_len != size || (size && memcmp(c->text, data, size) != 0) ||
	    c->text[size] != '\0')
		die("the file's text is not kept as parsed", d);
}

static bool in_prefix(const struct net_config *c, const struct ipaddr *a)
{
	for (size_t i = 0; i < c->n_addrs; i++)
		if (prefix_contains(&c->addrs[i], a))
			return true;
	return false;
}

/* What a network that passed its own checks must look like. */
static void check_valid(const struct net_config *c, const struct diag *d)
{
	if (!c->bridge[0] || !config_ifname_valid(c->bridge))
		die("valid network without a usable bridge name", d);
	if (c->mode == NET_MODE_BRIDGE) {
		if (c->n_addrs || c->dhcp || c->dns || c->n_forwards)
			die("valid bridge-mode network with addresses, DHCP, DNS or forwards", d);
		return;
	}
	if (!c->n_addrs)
		die("valid network without an address", d);
	if (c->dhcp) {
		if (c->range_start.family != AF_INET || c->range_end.family != AF_INET ||
		    ntohl(c->range_start.a.v4.s_addr) > ntohl(c->range_end.a.v4.s_addr))
			die("valid DHCP network without an ordered IPv4 range", d);
		if (!in_prefix(c, &c->range_start) || !in_prefix(c, &c->range_end))
			die("valid DHCP range outside the subnets", d);
	}
	for (size_t i = 0; i < c->n_forwards; i++)
		if (c->mode != NET_MODE_NAT || !in_prefix(c, &c->forwards[i].guest))
			die("valid forward to a guest outside the subnets, or not nat", d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag d = { 0 };
	struct net_config *c = NULL, *set[2];
	bool was_valid;

	if (config_parse_buffer(FUZZ_PATH, (const char *)data, size, &d, &c) < 0) {
		diag_free(&d);
		return 0;
	}
	check_result(c, &d, data, size);
	if (c->valid)
		check_valid(c, &d);

	/* After the fixed network: the fuzzed one is the one found in conflict. */
	was_valid = c->valid;
	set[0] = fixed;
	set[1] = c;
	config_validate_set(set, 2, &host, &d);
	if (!fixed->valid)
		die("the first network of a set was marked invalid by a later one", &d);
	if (c->valid != (d.n == 0))
		die("valid must mean \"no problem reported\" after config_validate_set", &d);

	/* Before it: now the fixed network takes the blame. */
	c->valid = was_valid;
	set[0] = c;
	set[1] = fixed;
	config_validate_set(set, 2, &host, &d);
	fixed->valid = true;

	(void)net_config_equal(c, fixed);
	(void)net_config_dhcp_changed(c, fixed);
	(void)net_config_fw_equal(fixed, c);
	if (!net_config_equal(c, c))
		die("a network differs from itself", &d);

	net_config_free(c);
	diag_free(&d);
	return 0;
}
