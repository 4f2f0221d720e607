/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Network configuration: CONFIG_DIR/networks/NAME.conf, parsed with inih.
 *
 * Loading is two steps.  config_parse_file() reads one file and checks what
 * can be checked inside it (syntax, keys, values, ranges, reservations).
 * config_validate_set() then checks the networks against each other and
 * against the host (overlapping subnets, bridge names taken by a link netd
 * does not own, subnets overlapping a route already on the host).  Every
 * problem is recorded as "FILE:LINE: message" in a diag list; a network with
 * any problem is marked invalid and the others stay usable.
 */
#ifndef NETD_CONFIG_H
#define NETD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <net/if.h>
#include <netinet/in.h>

#define NET_NAME_MAX 32
#define NET_MAX_ADDRS 16

enum net_mode {
	NET_MODE_NAT,
	NET_MODE_ROUTED,
	NET_MODE_ISOLATED,
	NET_MODE_BRIDGE,
};

const char *net_mode_to_string(enum net_mode m);
int net_mode_from_string(const char *s);	/* enum value or -EINVAL */

struct ipaddr {
	int family;		/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t b[16];
	} a;
};

struct ipprefix {
	struct ipaddr addr;	/* the host's address on the bridge */
	uint8_t len;
	int line;
};

struct net_reservation {
	uint8_t mac[6];
	struct ipaddr ip;
	char hostname[64];
	int line;
};

struct net_record {
	char name[254];
	struct ipaddr ip;
	int line;
};

struct net_forward {
	uint8_t proto;		/* IPPROTO_TCP / IPPROTO_UDP */
	uint16_t host_port;
	struct ipaddr guest;
	uint16_t guest_port;
	int line;
};

struct net_config {
	char name[NET_NAME_MAX + 1];
	char path[4096];	/* file it came from, "" for the built-in default */

	enum net_mode mode;
	char bridge[IF_NAMESIZE];
	int bridge_line;
	struct ipprefix addrs[NET_MAX_ADDRS];
	size_t n_addrs;
	char uplink[IF_NAMESIZE];
	int uplink_line;
	unsigned int mtu;	/* 0: kernel default */
	bool autostart;
	bool antispoofing;	/* guard ports: own MAC/IP only, no DHCP server or RA */

	bool dhcp;
	struct ipaddr range_start, range_end;	/* family 0: none given */
	int range_line;
	unsigned int lease_time;	/* seconds, 0: infinite */
	struct net_reservation *reservations;
	size_t n_reservations;

	bool dns;
	char domain[254];
	struct net_record *records;
	size_t n_records;

	struct net_forward *forwards;
	size_t n_forwards;

	char **users;
	size_t n_users;
	char **groups;
	size_t n_groups;

	bool valid;		/* false once any problem was found */
	bool from_saved;	/* the file has errors: this is its last applied copy */
	char *text;		/* the file's text, as parsed */
	size_t text_len;
};

/* A growable list of "FILE:LINE: message" lines. */
struct diag {
	char **lines;
	size_t n;
};

void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void diag_free(struct diag *d);

/* Parse one file into a new net_config (name taken from the file name).
 * Problems go to d and mark the result invalid; -errno only for I/O or
 * memory failures (the file could not be read at all). */
int config_parse_file(const char *path, struct diag *d, struct net_config **ret);

/* Parse from memory (tests, fuzzing); path is used for names and messages. */
int config_parse_buffer(const char *path, const char *text, size_t len,
			struct diag *d, struct net_config **ret);

struct net_config *net_config_free(struct net_config *c);

/* Comparisons for reload (line numbers and file paths do not count). */
bool net_config_equal(const struct net_config *a, const struct net_config *b);
bool net_config_dhcp_changed(const struct net_config *a, const struct net_config *b);
bool net_config_fw_equal(const struct net_config *a, const struct net_config *b);

/* What the host already has, for validation. */
struct host_route {
	struct ipaddr dst;
	uint8_t len;
	char ifname[IF_NAMESIZE];
};
struct host_link {
	char name[IF_NAMESIZE];
	char kind[16];
	bool ours;		/* carries netd's marker */
};
struct host_view {
	struct host_route *routes;
	size_t n_routes;
	struct host_link *links;
	size_t n_links;
};

/*
 * Check networks against each other and the host; marks offenders invalid.
 * Routes through a bridge netd owns (or will own: a configured bridge name)
 * are not conflicts.
 */
void config_validate_set(struct net_config **nets, size_t n, const struct host_view *host,
			 struct diag *d);

/* Load every CONFIG_DIR/networks/ *.conf, sorted by name. */
int config_load_dir(const char *config_dir, struct diag *d, struct net_config ***ret,
		    size_t *ret_n);

/*
 * The built-in `default` network: nat, bridge netd0, DHCP and DNS on, a /24
 * from a fixed candidate list that overlaps no route in host (routes on
 * netd0 itself are ignored, so a restart picks the same subnet).
 */
int config_default_network(const struct host_view *host, struct net_config **ret);

/* Text helpers shared with the control code. */
int ipaddr_parse(const char *s, struct ipaddr *ret);
int ipprefix_parse(const char *s, struct ipprefix *ret);
const char *ipaddr_to_string(const struct ipaddr *a, char *buf, size_t len);
int mac_parse(const char *s, uint8_t mac[6]);
bool config_ifname_valid(const char *s);
bool prefix_contains(const struct ipprefix *p, const struct ipaddr *a);
bool prefixes_overlap(const struct ipaddr *a, uint8_t alen, const struct ipaddr *b, uint8_t blen);

#endif
