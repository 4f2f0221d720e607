/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Network files: parsing with inih, validation, the built-in default network.
 *
 * inih does the INI syntax; we feed it through our own line reader so we know
 * the line number of every assignment (the library is built without
 * INI_HANDLER_LINENO) and can report lines inih rejected or would split.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "dhcp/dhcp.h"
#include "netd/config.h"

/* inih's fixed line buffer (INI_MAX_LINE in Debian's build). */
#define INI_LINE_MAX 200
#define MAX_REPEAT 4096

static const char *const mode_names[] = {
	[NET_MODE_NAT] = "nat",
	[NET_MODE_ROUTED] = "routed",
	[NET_MODE_ISOLATED] = "isolated",
	[NET_MODE_BRIDGE] = "bridge",
};

const char *net_mode_to_string(enum net_mode m)
{
	if ((size_t)m >= sizeof(mode_names) / sizeof(mode_names[0]))
		return NULL;
	return mode_names[m];
}

int net_mode_from_string(const char *s)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(s, mode_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	char msg[512], *s, **n;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		r = asprintf(&s, "%s:%d: %s", file, line, msg);
	else
		r = asprintf(&s, "%s: %s", file, msg);
	if (r < 0)
		return;
	n = realloc(d->lines, (d->n + 1) * sizeof(*n));
	if (!n) {
		free(s);
		return;
	}
	d->lines = n;
	d->lines[d->n++] = s;
}

void diag_free(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
	d->lines = NULL;
	d->n = 0;
}

/* Addresses */

int ipaddr_parse(const char *s, struct ipaddr *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET, s, &ret->a.v4) == 1) {
		ret->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &ret->a.v6) == 1) {
		ret->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

int ipprefix_parse(const char *s, struct ipprefix *ret)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EDESTADDRREQ;	/* no prefix length */
	*slash = '\0';
	if (ipaddr_parse(buf, &ret->addr) < 0)
		return -EINVAL;
	if (!isdigit((unsigned char)slash[1]))
		return -ERANGE;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno || *end || len > (ret->addr.family == AF_INET ? 32u : 128u))
		return -ERANGE;
	ret->len = (uint8_t)len;
	return 0;
}

const char *ipaddr_to_string(const struct ipaddr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family, &a->a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

int mac_parse(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return -EINVAL;
	}
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1)
		return -EADDRNOTAVAIL;	/* multicast */
	return 0;
}

static size_t addr_bytes(int family)
{
	return family == AF_INET ? 4 : 16;
}

static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned int bits)
{
	unsigned int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool prefixes_overlap(const struct ipaddr *a, uint8_t alen, const struct ipaddr *b, uint8_t blen)
{
	if (a->family != b->family)
		return false;
	return bits_equal(a->a.b, b->a.b, alen < blen ? alen : blen);
}

bool prefix_contains(const struct ipprefix *p, const struct ipaddr *a)
{
	if (p->addr.family != a->family)
		return false;
	return bits_equal(p->addr.a.b, a->a.b, p->len);
}

/* Host part all zeros (network) or, for IPv4 below /31, all ones (broadcast). */
static bool is_net_or_bcast(const struct ipprefix *p, const struct ipaddr *a)
{
	uint32_t host, mask;

	if (a->family != AF_INET || p->len >= 31)
		return false;
	mask = p->len ? ~0u << (32 - p->len) : 0;
	host = ntohl(a->a.v4.s_addr) & ~mask;
	return host == 0 || host == ~mask;
}

static int addr_cmp(const struct ipaddr *a, const struct ipaddr *b)
{
	return memcmp(a->a.b, b->a.b, addr_bytes(a->family));
}

/* Parser state */

enum section {
	SEC_NONE,
	SEC_NETWORK,
	SEC_DHCP,
	SEC_DNS,
	SEC_FORWARD,
	SEC_ACCESS,
	SEC_UNKNOWN,
};

struct parse_ctx {
	struct net_config *c;
	struct diag *d;
	const char *path;
	/* the reader */
	const char *text;
	size_t len, pos;
	int line;		/* line number of the line inih holds now */
	bool handled;		/* the handler ran for that line */
	int dhcp_enable;	/* -1: not given */
	int dns_enable;
	bool ipv4_dhcp_default;
	int network_line;	/* of the first [Network] header */
	/* line numbers of keys given once, to report repeats */
	int seen_line[32];
};

#define BAD(ctx, ...) do {						\
		diag_add((ctx)->d, (ctx)->path, (ctx)->line, __VA_ARGS__); \
		(ctx)->c->valid = false;				\
	} while (0)

static bool line_is_blank_or_comment(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	return *s == '\0' || *s == '\n' || *s == '#' || *s == ';';
}

static bool line_is_section(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '[' && strchr(s, ']');
}

static const char *const section_names[] = {
	[SEC_NETWORK] = "Network",
	[SEC_DHCP] = "DHCP",
	[SEC_DNS] = "DNS",
	[SEC_FORWARD] = "Forward",
	[SEC_ACCESS] = "Access",
};

static enum section section_lookup(const char *s)
{
	for (size_t i = SEC_NETWORK; i <= SEC_ACCESS; i++)
		if (strcmp(s, section_names[i]) == 0)
			return (enum section)i;
	return SEC_UNKNOWN;
}

static void check_section_line(struct parse_ctx *ctx, const char *line)
{
	const char *open = strchr(line, '['), *close = strchr(line, ']');
	char name[64];

	ctx->handled = true;
	snprintf(name, sizeof(name), "%.*s", (int)(close - open - 1), open + 1);
	if (section_lookup(name) == SEC_NETWORK && !ctx->network_line)
		ctx->network_line = ctx->line;
	if (section_lookup(name) == SEC_UNKNOWN)
		BAD(ctx, "unknown section [%s] (known: Network, DHCP, DNS, Forward, Access)", name);
}

/*
 * inih's reader: hand out one line at a time (like fgets) and keep count.
 * Lines too long for inih's buffer are reported here and replaced by an
 * empty line, so inih never splits them into two bogus lines.  A line inih
 * dropped without calling us back (no '=' in it) is reported when the next
 * one is requested.
 */
static char *ctx_reader(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	const char *start, *nl;
	size_t n;

	if (ctx->line > 0 && !ctx->handled)
		BAD(ctx, "syntax error: expected [Section], Key=Value or a # comment");
	if (ctx->pos >= ctx->len)
		return NULL;
	start = ctx->text + ctx->pos;
	nl = memchr(start, '\n', ctx->len - ctx->pos);
	n = nl ? (size_t)(nl - start) + 1 : ctx->len - ctx->pos;
	ctx->pos += n;
	ctx->line++;
	/*
	 * Drop leading blanks: inih would take an indented line for the
	 * continuation of the previous value (INI_ALLOW_MULTILINE).
	 */
	if (ctx->line == 1 && n >= 3 && memcmp(start, "\xef\xbb\xbf", 3) == 0) {
		/* A UTF-8 byte order mark, as some editors write. */
		start += 3;
		n -= 3;
	}
	while (n > 0 && (*start == ' ' || *start == '\t')) {
		start++;
		n--;
	}
	ctx->handled = false;
	if (memchr(start, '\0', n)) {
		BAD(ctx, "line contains a NUL byte");
		str[0] = '\n';
		str[1] = '\0';
		ctx->handled = true;
		return str;
	}
	if (n >= (size_t)num) {
		BAD(ctx, "line too long (at most %d characters)", num - 2);
		str[0] = '\n';
		str[1] = '\0';
		ctx->handled = true;
		return str;
	}
	memcpy(str, start, n);
	str[n] = '\0';
	if (line_is_blank_or_comment(str))
		ctx->handled = true;	/* nothing for the handler to do */
	else if (line_is_section(str))
		check_section_line(ctx, str);
	return str;
}

/* Values */

static char *strip_comment(char *v)
{
	/* inih only strips ';' comments: also allow "value   # comment". */
	for (char *p = v; *p; p++) {
		if (*p == '#' && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	for (size_t n = strlen(v); n && (v[n - 1] == ' ' || v[n - 1] == '\t'); n--)
		v[n - 1] = '\0';
	return v;
}

static int parse_bool(const char *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}

/* "1h", "30m", "3600", "2d", "infinite" → seconds (0: infinite). */
static int parse_duration(const char *v, unsigned int *ret)
{
	unsigned long long n, mult = 1;
	char *end;

	if (strcasecmp(v, "infinite") == 0) {
		*ret = 0;
		return 0;
	}
	if (!isdigit((unsigned char)*v))
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end && end[1])
		return -EINVAL;
	switch (*end) {
	case '\0': case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	case 'w': mult = 7 * 86400; break;
	default: return -EINVAL;
	}
	if (n == 0 || n > UINT32_MAX / mult)
		return -ERANGE;
	*ret = (unsigned int)(n * mult);
	return 0;
}

static int parse_uint(const char *v, unsigned long max, unsigned long *ret)
{
	char *end;

	if (!isdigit((unsigned char)*v))
		return -EINVAL;
	errno = 0;
	*ret = strtoul(v, &end, 10);
	if (errno || *end || *ret > max)
		return -ERANGE;
	return 0;
}

bool config_ifname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IF_NAMESIZE || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) || !isprint((unsigned char)*p))
			return false;
	return true;
}

static bool bridge_name_valid(const char *s)
{
	if (!config_ifname_valid(s))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
			return false;
	return true;
}

/* Split "a,b,c" in place into at most max fields; returns the count. */
static size_t split(char *s, char sep, char **fields, size_t max)
{
	size_t n = 0;

	while (n < max) {
		char *next = strchr(s, sep);

		while (*s == ' ' || *s == '\t')
			s++;
		fields[n++] = s;
		if (!next)
			break;
		*next = '\0';
		s = next + 1;
	}
	for (size_t i = 0; i < n; i++)
		strip_comment(fields[i]);
	return n;
}

static bool once(struct parse_ctx *ctx, int key_id, const char *key)
{
	if (ctx->seen_line[key_id]) {
		BAD(ctx, "%s= given twice (first on line %d)", key, ctx->seen_line[key_id]);
		return false;
	}
	ctx->seen_line[key_id] = ctx->line;
	return true;
}

static void *grow(struct parse_ctx *ctx, void *arr, size_t n, size_t size, const char *key)
{
	void *p;

	if (n >= MAX_REPEAT) {
		BAD(ctx, "too many %s= entries (at most %d)", key, MAX_REPEAT);
		return NULL;
	}
	p = realloc(arr, (n + 1) * size);
	if (!p)
		BAD(ctx, "out of memory");
	return p;
}

/* [Network] */

static void key_mode(struct parse_ctx *ctx, char *v)
{
	int m = net_mode_from_string(v);

	if (m < 0)
		BAD(ctx, "Mode=%s: not one of nat, routed, isolated, bridge", v);
	else
		ctx->c->mode = (enum net_mode)m;
}

static void key_bridge(struct parse_ctx *ctx, char *v)
{
	if (strlen(v) >= IF_NAMESIZE)
		BAD(ctx, "Bridge=%s: longer than %d characters", v, IF_NAMESIZE - 1);
	else if (!bridge_name_valid(v))
		BAD(ctx, "Bridge=%s: use letters, digits, '-', '_' and '.'", v);
	else {
		strcpy(ctx->c->bridge, v);
		ctx->c->bridge_line = ctx->line;
	}
}

static void key_address(struct parse_ctx *ctx, char *v)
{
	struct net_config *c = ctx->c;
	struct ipprefix p;
	int r;

	r = ipprefix_parse(v, &p);
	if (r == -EDESTADDRREQ) {
		BAD(ctx, "Address=%s: needs a prefix length (e.g. %s/24)", v, v);
		return;
	}
	if (r < 0) {
		BAD(ctx, "Address=%s: not an IPv4 or IPv6 address with a prefix length", v);
		return;
	}
	if ((p.addr.family == AF_INET && (p.len < 8 || p.len > 30)) ||
	    (p.addr.family == AF_INET6 && (p.len < 8 || p.len > 126))) {
		BAD(ctx, "Address=%s: prefix length must be 8-30 (IPv4) or 8-126 (IPv6)", v);
		return;
	}
	if (is_net_or_bcast(&p, &p.addr)) {
		BAD(ctx, "Address=%s: that is the subnet's network or broadcast address", v);
		return;
	}
	if (c->n_addrs >= NET_MAX_ADDRS) {
		BAD(ctx, "too many Address= entries (at most %d)", NET_MAX_ADDRS);
		return;
	}
	for (size_t i = 0; i < c->n_addrs; i++) {
		if (prefixes_overlap(&c->addrs[i].addr, c->addrs[i].len, &p.addr, p.len)) {
			BAD(ctx, "Address=%s overlaps the Address= on line %d", v, c->addrs[i].line);
			return;
		}
	}
	p.line = ctx->line;
	c->addrs[c->n_addrs++] = p;
}

static void key_uplink(struct parse_ctx *ctx, char *v)
{
	if (!config_ifname_valid(v))
		BAD(ctx, "Uplink=%s: not a valid interface name", v);
	else {
		strcpy(ctx->c->uplink, v);
		ctx->c->uplink_line = ctx->line;
	}
}

static void key_mtu(struct parse_ctx *ctx, char *v)
{
	unsigned long n;

	if (parse_uint(v, 65535, &n) < 0 || n < 576)
		BAD(ctx, "MTU=%s: must be a number from 576 to 65535", v);
	else
		ctx->c->mtu = (unsigned int)n;
}

static void key_antispoofing(struct parse_ctx *ctx, char *v)
{
	int b = parse_bool(v);

	if (b < 0)
		BAD(ctx, "AntiSpoofing=%s: must be yes or no", v);
	else
		ctx->c->antispoofing = b;
}

static void key_autostart(struct parse_ctx *ctx, char *v)
{
	int b = parse_bool(v);

	if (b < 0)
		BAD(ctx, "AutoStart=%s: must be yes or no", v);
	else
		ctx->c->autostart = b;
}

/* [DHCP] */

static void key_dhcp_enable(struct parse_ctx *ctx, char *v)
{
	int b = parse_bool(v);

	if (b < 0)
		BAD(ctx, "Enable=%s: must be yes or no", v);
	else
		ctx->dhcp_enable = b;
}

static void key_range(struct parse_ctx *ctx, char *v)
{
	struct net_config *c = ctx->c;
	char *dash = strchr(v, '-');

	if (!dash) {
		BAD(ctx, "Range=%s: expected FIRST-LAST", v);
		return;
	}
	*dash = '\0';
	strip_comment(v);
	if (ipaddr_parse(v, &c->range_start) < 0 || c->range_start.family != AF_INET ||
	    ipaddr_parse(dash + 1, &c->range_end) < 0 || c->range_end.family != AF_INET) {
		*dash = '-';
		BAD(ctx, "Range=%s: expected two IPv4 addresses FIRST-LAST", v);
		memset(&c->range_start, 0, sizeof(c->range_start));
		memset(&c->range_end, 0, sizeof(c->range_end));
		return;
	}
	if (addr_cmp(&c->range_start, &c->range_end) > 0) {
		*dash = '-';
		BAD(ctx, "Range=%s: first address is after the last", v);
		memset(&c->range_start, 0, sizeof(c->range_start));
		return;
	}
	c->range_line = ctx->line;
}

static void key_lease_time(struct parse_ctx *ctx, char *v)
{
	int r = parse_duration(v, &ctx->c->lease_time);

	if (r < 0)
		BAD(ctx, "LeaseTime=%s: expected a duration such as 3600, 30m, 12h, 2d or infinite", v);
	else if (ctx->c->lease_time && ctx->c->lease_time < 120)
		BAD(ctx, "LeaseTime=%s: at least 2 minutes", v);
}

static void key_reservation(struct parse_ctx *ctx, char *v)
{
	struct net_config *c = ctx->c;
	struct net_reservation r = { .line = ctx->line }, *arr;
	char *f[4];
	size_t n = split(v, ',', f, 4);

	if (n < 2 || n > 3) {
		BAD(ctx, "Reservation=: expected MAC,IP[,HOSTNAME]");
		return;
	}
	if (mac_parse(f[0], r.mac) < 0) {
		BAD(ctx, "Reservation=: '%s' is not a unicast MAC address (xx:xx:xx:xx:xx:xx)", f[0]);
		return;
	}
	if (ipaddr_parse(f[1], &r.ip) < 0 || r.ip.family != AF_INET) {
		BAD(ctx, "Reservation=: '%s' is not an IPv4 address", f[1]);
		return;
	}
	if (n == 3 && f[2][0]) {
		if (strlen(f[2]) >= sizeof(r.hostname) || !dhcp_hostname_valid(f[2])) {
			BAD(ctx, "Reservation=: '%s' is not a valid host name (one DNS label, "
			    "not all digits)", f[2]);
			return;
		}
		strcpy(r.hostname, f[2]);
	}
	arr = grow(ctx, c->reservations, c->n_reservations, sizeof(r), "Reservation");
	if (!arr)
		return;
	c->reservations = arr;
	c->reservations[c->n_reservations++] = r;
}

/* [DNS] */

static void key_dns_enable(struct parse_ctx *ctx, char *v)
{
	int b = parse_bool(v);

	if (b < 0)
		BAD(ctx, "Enable=%s: must be yes or no", v);
	else
		ctx->dns_enable = b;
}

static void key_domain(struct parse_ctx *ctx, char *v)
{
	if (strlen(v) >= sizeof(ctx->c->domain) || !dhcp_dns_name_valid(v))
		BAD(ctx, "Domain=%s: not a valid domain name", v);
	else
		strcpy(ctx->c->domain, v);
}

static void key_record(struct parse_ctx *ctx, char *v)
{
	struct net_config *c = ctx->c;
	struct net_record rec = { .line = ctx->line }, *arr;
	char *f[3];
	size_t n = split(v, ',', f, 3);

	if (n != 2) {
		BAD(ctx, "Record=: expected NAME,ADDRESS");
		return;
	}
	if (strlen(f[0]) >= sizeof(rec.name) || !dhcp_dns_name_valid(f[0])) {
		BAD(ctx, "Record=: '%s' is not a valid DNS name", f[0]);
		return;
	}
	if (ipaddr_parse(f[1], &rec.ip) < 0) {
		BAD(ctx, "Record=: '%s' is not an IPv4 or IPv6 address", f[1]);
		return;
	}
	strcpy(rec.name, f[0]);
	arr = grow(ctx, c->records, c->n_records, sizeof(rec), "Record");
	if (!arr)
		return;
	c->records = arr;
	c->records[c->n_records++] = rec;
}

/* [Forward] Port=tcp/8080=10.10.0.10:80 (inih splits at the first '='). */

static int parse_guest_endpoint(char *s, struct ipaddr *ip, uint16_t *port)
{
	char *colon;
	unsigned long p;

	if (s[0] == '[') {	/* [v6]:port */
		char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		*close = '\0';
		colon = close + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		*colon = '\0';
	}
	if (ipaddr_parse(s, ip) < 0 || parse_uint(colon + 1, 65535, &p) < 0 || p == 0)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

static void key_port(struct parse_ctx *ctx, char *v)
{
	struct net_config *c = ctx->c;
	struct net_forward fw = { .line = ctx->line }, *arr;
	char orig[256], *slash, *eq;
	unsigned long hp;

	snprintf(orig, sizeof(orig), "%s", v);
	slash = strchr(v, '/');
	eq = slash ? strchr(slash, '=') : NULL;
	if (!slash || !eq) {
		BAD(ctx, "Port=%s: expected PROTO/HOSTPORT=GUESTIP:GUESTPORT", orig);
		return;
	}
	*slash = '\0';
	*eq = '\0';
	if (strcasecmp(v, "tcp") == 0)
		fw.proto = IPPROTO_TCP;
	else if (strcasecmp(v, "udp") == 0)
		fw.proto = IPPROTO_UDP;
	else {
		BAD(ctx, "Port=%s: protocol must be tcp or udp", orig);
		return;
	}
	if (parse_uint(slash + 1, 65535, &hp) < 0 || hp == 0) {
		BAD(ctx, "Port=%s: host port must be 1-65535", orig);
		return;
	}
	fw.host_port = (uint16_t)hp;
	if (parse_guest_endpoint(eq + 1, &fw.guest, &fw.guest_port) < 0) {
		BAD(ctx, "Port=%s: expected GUESTIP:GUESTPORT after '='", orig);
		return;
	}
	for (size_t i = 0; i < c->n_forwards; i++) {
		if (c->forwards[i].proto == fw.proto && c->forwards[i].host_port == fw.host_port) {
			BAD(ctx, "Port=%s: host port already forwarded on line %d", orig,
			    c->forwards[i].line);
			return;
		}
	}
	arr = grow(ctx, c->forwards, c->n_forwards, sizeof(fw), "Port");
	if (!arr)
		return;
	c->forwards = arr;
	c->forwards[c->n_forwards++] = fw;
}

/* [Access] */

static bool account_name_valid(const char *s)
{
	if (!*s || strlen(s) > 32)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-$", *p))
			return false;
	return true;
}

static void add_name(struct parse_ctx *ctx, char ***list, size_t *n, const char *v, const char *key)
{
	char **arr, *dup;

	if (!account_name_valid(v)) {
		BAD(ctx, "%s=%s: not a valid name", key, v);
		return;
	}
	arr = grow(ctx, *list, *n, sizeof(char *), key);
	if (!arr)
		return;
	*list = arr;
	dup = strdup(v);
	if (!dup) {
		BAD(ctx, "out of memory");
		return;
	}
	(*list)[(*n)++] = dup;
}

static void key_user(struct parse_ctx *ctx, char *v)
{
	add_name(ctx, &ctx->c->users, &ctx->c->n_users, v, "User");
}

static void key_group(struct parse_ctx *ctx, char *v)
{
	add_name(ctx, &ctx->c->groups, &ctx->c->n_groups, v, "Group");
}

struct key_def {
	enum section section;
	const char *name;
	void (*fn)(struct parse_ctx *ctx, char *value);
	bool repeatable;
};

static const struct key_def keys[] = {
	{ SEC_NETWORK, "Mode", key_mode, false },
	{ SEC_NETWORK, "Bridge", key_bridge, false },
	{ SEC_NETWORK, "Address", key_address, true },
	{ SEC_NETWORK, "Uplink", key_uplink, false },
	{ SEC_NETWORK, "MTU", key_mtu, false },
	{ SEC_NETWORK, "AutoStart", key_autostart, false },
	{ SEC_NETWORK, "AntiSpoofing", key_antispoofing, false },
	{ SEC_DHCP, "Enable", key_dhcp_enable, false },
	{ SEC_DHCP, "Range", key_range, false },
	{ SEC_DHCP, "LeaseTime", key_lease_time, false },
	{ SEC_DHCP, "Reservation", key_reservation, true },
	{ SEC_DNS, "Enable", key_dns_enable, false },
	{ SEC_DNS, "Domain", key_domain, false },
	{ SEC_DNS, "Record", key_record, true },
	{ SEC_FORWARD, "Port", key_port, true },
	{ SEC_ACCESS, "User", key_user, true },
	{ SEC_ACCESS, "Group", key_group, true },
};

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	enum section sec = section[0] ? section_lookup(section) : SEC_NONE;
	char v[INI_LINE_MAX + 1];

	ctx->handled = true;
	if (sec == SEC_NONE) {
		BAD(ctx, "%s= is outside any section (put it under [Network])", name);
		return 1;
	}
	if (sec == SEC_UNKNOWN)
		return 1;	/* reported at the section's line */
	snprintf(v, sizeof(v), "%s", value);
	strip_comment(v);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].section != sec || strcmp(keys[i].name, name) != 0)
			continue;
		if (!keys[i].repeatable && !once(ctx, (int)i, name))
			return 1;
		if (!v[0] && !keys[i].repeatable) {
			BAD(ctx, "%s= has no value", name);
			return 1;
		}
		keys[i].fn(ctx, v);
		return 1;
	}
	BAD(ctx, "unknown key %s= in [%s]", name, section);
	return 1;
}

/* Checks within one file, once everything is read. */

static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NET_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
	return true;
}

static const struct ipprefix *v4_prefix(const struct net_config *c)
{
	for (size_t i = 0; i < c->n_addrs; i++)
		if (c->addrs[i].addr.family == AF_INET)
			return &c->addrs[i];
	return NULL;
}

static const struct ipprefix *find_subnet(const struct net_config *c, const struct ipaddr *a)
{
	for (size_t i = 0; i < c->n_addrs; i++)
		if (prefix_contains(&c->addrs[i], a))
			return &c->addrs[i];
	return NULL;
}

static void default_bridge_name(struct net_config *c)
{
	/* "netd-" + name, cut to 15 characters. */
	snprintf(c->bridge, sizeof(c->bridge), "netd-%.10s", c->name);
}

static void check_range(struct parse_ctx *ctx, const struct ipprefix *v4)
{
	struct net_config *c = ctx->c;

	ctx->line = c->range_line;
	if (!prefix_contains(v4, &c->range_start) || !prefix_contains(v4, &c->range_end)) {
		BAD(ctx, "Range= is not inside the subnet of Address= (line %d)", v4->line);
		return;
	}
	if (is_net_or_bcast(v4, &c->range_start) || is_net_or_bcast(v4, &c->range_end)) {
		BAD(ctx, "Range= contains the subnet's network or broadcast address");
		return;
	}
	if (addr_cmp(&c->range_start, &v4->addr) <= 0 && addr_cmp(&v4->addr, &c->range_end) <= 0)
		BAD(ctx, "Range= contains the host address of Address= (line %d)", v4->line);
}

/* A range when none was given: the upper half of the subnet, minus the host. */
static void default_range(struct net_config *c, const struct ipprefix *v4)
{
	uint32_t mask = ~0u << (32 - v4->len);
	uint32_t net = ntohl(v4->addr.a.v4.s_addr) & mask, size = ~mask + 1;
	uint32_t host = ntohl(v4->addr.a.v4.s_addr);
	uint32_t first = net + size / 2, last = net + size - 2;

	if (host >= first && host <= last) {
		/* Host address in the upper half: use the lower half. */
		first = net + 1;
		last = net + size / 2 - 1;
	}
	if (host >= first && host <= last)
		first = host + 1;
	c->range_start.family = c->range_end.family = AF_INET;
	c->range_start.a.v4.s_addr = htonl(first);
	c->range_end.a.v4.s_addr = htonl(last);
}

static void check_reservations(struct parse_ctx *ctx)
{
	struct net_config *c = ctx->c;
	const struct ipprefix *v4 = v4_prefix(c);

	for (size_t i = 0; i < c->n_reservations; i++) {
		struct net_reservation *r = &c->reservations[i];

		ctx->line = r->line;
		if (!v4 || !prefix_contains(v4, &r->ip) || is_net_or_bcast(v4, &r->ip)) {
			BAD(ctx, "Reservation=: %s is not a usable address of the network's IPv4 subnet",
			    ipaddr_to_string(&r->ip, (char[64]){ 0 }, 64));
			continue;
		}
		if (addr_cmp(&r->ip, &v4->addr) == 0)
			BAD(ctx, "Reservation=: %s is the host's own address", 
			    ipaddr_to_string(&r->ip, (char[64]){ 0 }, 64));
		for (size_t j = 0; j < i; j++) {
			struct net_reservation *o = &c->reservations[j];

			if (memcmp(o->mac, r->mac, 6) == 0)
				BAD(ctx, "Reservation=: MAC already reserved on line %d", o->line);
			else if (addr_cmp(&o->ip, &r->ip) == 0)
				BAD(ctx, "Reservation=: address already reserved on line %d", o->line);
			else if (r->hostname[0] && strcasecmp(o->hostname, r->hostname) == 0)
				BAD(ctx, "Reservation=: host name already used on line %d", o->line);
		}
	}
}

static void check_forwards(struct parse_ctx *ctx)
{
	struct net_config *c = ctx->c;

	for (size_t i = 0; i < c->n_forwards; i++) {
		ctx->line = c->forwards[i].line;
		if (c->mode != NET_MODE_NAT) {
			BAD(ctx, "[Forward] is only for Mode=nat networks");
			return;
		}
		if (!find_subnet(c, &c->forwards[i].guest))
			BAD(ctx, "Port=: guest address is not inside the network's subnets");
	}
}

static void finish_file(struct parse_ctx *ctx)
{
	struct net_config *c = ctx->c;
	const struct ipprefix *v4 = v4_prefix(c);

	ctx->line = ctx->network_line ? ctx->network_line : 1;
	if (!name_valid(c->name))
		BAD(ctx, "network name '%s' (from the file name) must be 1-%d letters, digits, '-' or '_'",
		    c->name, NET_NAME_MAX);
	if (!c->bridge[0]) {
		if (c->mode == NET_MODE_BRIDGE)
			BAD(ctx, "Mode=bridge needs Bridge= naming an existing bridge");
		else
			default_bridge_name(c);
	}
	if (c->mode == NET_MODE_BRIDGE) {
		ctx->line = ctx->seen_line[0];
		if (c->n_addrs || c->uplink[0] || c->n_reservations || c->range_start.family ||
		    c->n_records || c->domain[0] || c->n_forwards)
			BAD(ctx, "Mode=bridge takes only Bridge=, MTU=, AutoStart= and [Access]: "
			    "the LAN serves the guests");
		c->dhcp = c->dns = false;
		return;
	}
	if (c->mode == NET_MODE_ISOLATED && c->uplink[0]) {
		ctx->line = ctx->seen_line[3];
		BAD(ctx, "Uplink= makes no sense for Mode=isolated");
	}
	if (c->n_addrs == 0) {
		ctx->line = ctx->network_line ? ctx->network_line : 1;
		BAD(ctx, "no Address= in [Network]: a %s network needs the host's address on the bridge",
		    net_mode_to_string(c->mode));
	}
	c->dhcp = ctx->dhcp_enable < 0 ? v4 != NULL : ctx->dhcp_enable;
	c->dns = ctx->dns_enable < 0 ? true : ctx->dns_enable;
	if (c->dhcp && !v4) {
		ctx->line = ctx->seen_line[6];
		BAD(ctx, "[DHCP] Enable=yes needs an IPv4 Address=");
	}
	if (c->range_start.family && v4)
		check_range(ctx, v4);
	else if (v4 && c->dhcp)
		default_range(c, v4);
	check_reservations(ctx);
	check_forwards(ctx);
}

static void name_from_path(const char *path, char *name, size_t len)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".conf") == 0)
		n -= 5;
	if (n >= len)
		n = len - 1;	/* name_valid() reports it */
	memcpy(name, base, n);
	name[n] = '\0';
}

int config_parse_buffer(const char *path, const char *text, size_t len, struct diag *d,
			struct net_config **ret)
{
	struct parse_ctx ctx = { .path = path, .text = text, .len = len, .d = d,
				 .dhcp_enable = -1, .dns_enable = -1 };
	struct net_config *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->valid = true;
	c->autostart = true;
	c->antispoofing = true;
	c->lease_time = 3600;
	c->mode = NET_MODE_NAT;
	snprintf(c->path, sizeof(c->path), "%s", path);
	name_from_path(path, c->name, sizeof(c->name));
	c->text = malloc(len + 1);
	if (!c->text) {
		free(c);
		return -ENOMEM;
	}
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	c->text_len = len;
	ctx.c = c;

	r = ini_parse_stream(ctx_reader, &ctx, on_key, &ctx);
	if (r == -2) {
		net_config_free(c);
		return -ENOMEM;
	}
	finish_file(&ctx);
	*ret = c;
	return 0;
}

int config_parse_file(const char *path, struct diag *d, struct net_config **ret)
{
	char buf[65536 + 1];
	ssize_t n;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int r = -errno;

		diag_add(d, path, 0, "cannot open: %s", strerror(errno));
		return r;
	}
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0) {
		diag_add(d, path, 0, "cannot read: %s", strerror(errno));
		return -EIO;
	}
	if (len == sizeof(buf) - 1) {
		diag_add(d, path, 0, "file too large (at most 64 KiB)");
		return -EFBIG;
	}
	buf[len] = '\0';
	return config_parse_buffer(path, buf, len, d, ret);
}

struct net_config *net_config_free(struct net_config *c)
{
	if (!c)
		return NULL;
	free(c->text);
	free(c->reservations);
	free(c->records);
	free(c->forwards);
	for (size_t i = 0; i < c->n_users; i++)
		free(c->users[i]);
	free(c->users);
	for (size_t i = 0; i < c->n_groups; i++)
		free(c->groups[i]);
	free(c->groups);
	free(c);
	return NULL;
}

/* Checks across networks and against the host. */

static void invalid(struct net_config *c, struct diag *d, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void invalid(struct net_config *c, struct diag *d, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_add(d, c->path[0] ? c->path : c->name, line, "%s", msg);
	c->valid = false;
}

static const char *display(const struct net_config *c)
{
	return c->path[0] ? c->path : c->name;
}

/*
 * The host as config_validate_set() looks at it, indexed once: its links
 * by name, the configured bridge names (of netd's own modes), and the
 * routes that are not through one of those.  Checking each network against
 * every link and route, and each route against every network, made a
 * start-up with 1,000 networks and 10,000 ports take seconds.
 */
struct host_index {
	const struct host_link **links;		/* sorted by name */
	size_t n_links;
	const char **bridges;			/* sorted */
	size_t n_bridges;
	const struct host_route **routes;	/* not through a configured bridge */
	size_t n_routes;
	bool oom;
};

static int cmp_link_name(const void *a, const void *b)
{
	return strcmp((*(const struct host_link *const *)a)->name,
		      (*(const struct host_link *const *)b)->name);
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_configured_bridge(const struct host_index *x, const char *ifname)
{
	return bsearch(&ifname, x->bridges, x->n_bridges, sizeof(*x->bridges), cmp_str_ptr) != NULL;
}

static const struct host_link *host_link_find(const struct host_index *x, const char *name)
{
	struct host_link key;
	const struct host_link *kp = &key, **found;

	snprintf(key.name, sizeof(key.name), "%s", name);
	found = bsearch(&kp, x->links, x->n_links, sizeof(*x->links), cmp_link_name);
	return found ? *found : NULL;
}

static void host_index_build(struct host_index *x, struct net_config **nets, size_t n,
			     const struct host_view *host)
{
	memset(x, 0, sizeof(*x));
	x->links = calloc(host->n_links + 1, sizeof(*x->links));
	x->bridges = calloc(n + 1, sizeof(*x->bridges));
	x->routes = calloc(host->n_routes + 1, sizeof(*x->routes));
	if (!x->links || !x->bridges || !x->routes) {
		x->oom = true;
		return;
	}
	for (size_t i = 0; i < host->n_links; i++)
		x->links[x->n_links++] = &host->links[i];
	if (x->n_links > 1)
		qsort(x->links, x->n_links, sizeof(*x->links), cmp_link_name);
	for (size_t i = 0; i < n; i++)
		if (nets[i]->mode != NET_MODE_BRIDGE)
			x->bridges[x->n_bridges++] = nets[i]->bridge;
	if (x->n_bridges > 1)
		qsort(x->bridges, x->n_bridges, sizeof(*x->bridges), cmp_str_ptr);
	for (size_t i = 0; i < host->n_routes; i++)
		if (host->routes[i].len != 0 && !is_configured_bridge(x, host->routes[i].ifname))
			x->routes[x->n_routes++] = &host->routes[i];
}

static void host_index_free(struct host_index *x)
{
	free(x->links);
	free(x->bridges);
	free(x->routes);
}

static void check_pair(struct net_config *a, struct net_config *b, struct diag *d)
{
	if (strcmp(a->bridge, b->bridge) == 0 &&
	    (a->mode != NET_MODE_BRIDGE || b->mode != NET_MODE_BRIDGE)) {
		invalid(b, d, b->bridge_line, "bridge %s is already used by network %s (%s)",
			b->bridge, a->name, display(a));
		return;
	}
	for (size_t i = 0; i < a->n_addrs; i++) {
		for (size_t j = 0; j < b->n_addrs; j++) {
			const struct ipprefix *pa = &a->addrs[i], *pb = &b->addrs[j];
			char s[64];

			if (!prefixes_overlap(&pa->addr, pa->len, &pb->addr, pb->len))
				continue;
			invalid(b, d, pb->line, "subnet of Address=%s/%u overlaps network %s (%s:%d)",
				ipaddr_to_string(&pb->addr, s, sizeof(s)), pb->len, a->name,
				display(a), pa->line);
			return;
		}
	}
	for (size_t i = 0; i < a->n_forwards; i++) {
		for (size_t j = 0; j < b->n_forwards; j++) {
			const struct net_forward *fa = &a->forwards[i], *fb = &b->forwards[j];

			if (fa->proto != fb->proto || fa->host_port != fb->host_port)
				continue;
			invalid(b, d, fb->line, "host port %s/%u is already forwarded by network %s (%s:%d)",
				fb->proto == IPPROTO_TCP ? "tcp" : "udp", fb->host_port, a->name,
				display(a), fa->line);
			return;
		}
	}
}

static void check_host(const struct host_index *x, struct net_config *c, struct diag *d)
{
	const struct host_link *l = host_link_find(x, c->bridge);
	if (c->mode == NET_MODE_BRIDGE) {
		if (l && strcmp(l->kind, "bridge") != 0)
			invalid(c, d, c->bridge_line, "%s is a %s device, not a bridge", c->bridge,
				l->kind[0] ? l->kind : "non-bridge");
		else if (l && l->ours)
			invalid(c, d, c->bridge_line, "%s is a bridge netd created for another network",
				c->bridge);
		/* A missing bridge is a run-time error (it may come later). */
		return;
	}
	if (l && !l->ours)
		invalid(c, d, c->bridge_line, "bridge name %s is already used by a %s link netd does not own",
			c->bridge, l->kind[0] ? l->kind : "network");
	if (c->uplink[0] && is_configured_bridge(x, c->uplink))
		invalid(c, d, c->uplink_line, "Uplink=%s is another netd network's bridge", c->uplink);
	for (size_t i = 0; i < x->n_routes; i++) {
		const struct host_route *rt = x->routes[i];

		for (size_t j = 0; j < c->n_addrs; j++) {
			char s1[64], s2[64];

			if (!prefixes_overlap(&c->addrs[j].addr, c->addrs[j].len, &rt->dst, rt->len))
				continue;
			invalid(c, d, c->addrs[j].line,
				"subnet of Address=%s/%u overlaps the host's route %s/%u dev %s",
				ipaddr_to_string(&c->addrs[j].addr, s1, sizeof(s1)), c->addrs[j].len,
				ipaddr_to_string(&rt->dst, s2, sizeof(s2)), rt->len, rt->ifname);
			return;
		}
	}
}

void config_validate_set(struct net_config **nets, size_t n, const struct host_view *host,
			 struct diag *d)
{
	struct host_index x;

	if (host)
		host_index_build(&x, nets, n, host);
	for (size_t i = 0; i < n; i++) {
		if (!nets[i]->valid)
			continue;
		for (size_t j = 0; j < i; j++)
			if (nets[j]->valid)
				check_pair(nets[j], nets[i], d);
		if (!nets[i]->valid || !host)
			continue;
		if (x.oom)
			invalid(nets[i], d, 0, "out of memory while checking it against the host");
		else
			check_host(&x, nets[i], d);
	}
	if (host)
		host_index_free(&x);
}

static int cmp_net(const void *a, const void *b)
{
	return strcmp((*(struct net_config *const *)a)->name, (*(struct net_config *const *)b)->name);
}

int config_load_dir(const char *config_dir, struct diag *d, struct net_config ***ret, size_t *ret_n)
{
	struct net_config **nets = NULL, *c, **tmp;
	char dir[4096], path[8192];
	struct dirent *de;
	size_t n = 0;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/networks", config_dir);
	dp = opendir(dir);
	if (!dp) {
		if (errno == ENOENT) {
			*ret = NULL;
			*ret_n = 0;
			return 0;
		}
		diag_add(d, dir, 0, "cannot open directory: %s", strerror(errno));
		return -errno;
	}
	while ((de = readdir(dp))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (config_parse_file(path, d, &c) < 0)
			continue;
		tmp = realloc(nets, (n + 1) * sizeof(*nets));
		if (!tmp) {
			net_config_free(c);
			break;
		}
		nets = tmp;
		nets[n++] = c;
	}
	closedir(dp);
	if (n > 1)
		qsort(nets, n, sizeof(*nets), cmp_net);
	*ret = nets;
	*ret_n = n;
	return 0;
}

/* Candidates for the default network, tried in order. */
static const char *const default_subnets[] = {
	"10.212.0.1/24", "10.212.1.1/24", "10.212.2.1/24", "10.213.0.1/24",
	"172.31.212.1/24", "172.31.213.1/24", "192.168.212.1/24", "192.168.213.1/24",
};

int config_default_network(const struct host_view *host, struct net_config **ret)
{
	struct net_config *c;
	struct ipprefix p;
	size_t i;

	for (i = 0; i < sizeof(default_subnets) / sizeof(default_subnets[0]); i++) {
		bool clash = false;

		ipprefix_parse(default_subnets[i], &p);
		for (size_t j = 0; host && j < host->n_routes && !clash; j++) {
			const struct host_route *rt = &host->routes[j];

			clash = rt->len && strcmp(rt->ifname, "netd0") != 0 &&
				prefixes_overlap(&p.addr, p.len, &rt->dst, rt->len);
		}
		if (!clash)
			break;
	}
	if (i == sizeof(default_subnets) / sizeof(default_subnets[0]))
		return -EADDRINUSE;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	strcpy(c->name, "default");
	strcpy(c->bridge, "netd0");
	c->mode = NET_MODE_NAT;
	c->addrs[0] = p;
	c->n_addrs = 1;
	c->autostart = c->dhcp = c->dns = c->valid = c->antispoofing = true;
	c->lease_time = 3600;
	default_range(c, &p);
	*ret = c;
	return 0;
}

static bool addr_eq(const struct ipaddr *a, const struct ipaddr *b)
{
	return a->family == b->family && (!a->family || addr_cmp(a, b) == 0);
}

static bool names_eq(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

/* Same network, ignoring where in the file things were written. */
bool net_config_equal(const struct net_config *a, const struct net_config *b)
{
	if (strcmp(a->name, b->name) || a->mode != b->mode || strcmp(a->bridge, b->bridge) ||
	    strcmp(a->uplink, b->uplink) || a->mtu != b->mtu || a->autostart != b->autostart ||
	    a->antispoofing != b->antispoofing ||
	    a->n_addrs != b->n_addrs)
		return false;
	for (size_t i = 0; i < a->n_addrs; i++)
		if (!addr_eq(&a->addrs[i].addr, &b->addrs[i].addr) || a->addrs[i].len != b->addrs[i].len)
			return false;
	return !net_config_dhcp_changed(a, b) && net_config_fw_equal(a, b) &&
	       names_eq(a->users, a->n_users, b->users, b->n_users) &&
	       names_eq(a->groups, a->n_groups, b->groups, b->n_groups);
}

/* Anything dnsmasq's files are made from. */
bool net_config_dhcp_changed(const struct net_config *a, const struct net_config *b)
{
	if (a->dhcp != b->dhcp || a->dns != b->dns || strcmp(a->domain, b->domain) ||
	    !addr_eq(&a->range_start, &b->range_start) || !addr_eq(&a->range_end, &b->range_end) ||
	    a->lease_time != b->lease_time || a->n_reservations != b->n_reservations ||
	    a->n_records != b->n_records)
		return true;
	for (size_t i = 0; i < a->n_reservations; i++) {
		const struct net_reservation *x = &a->reservations[i], *y = &b->reservations[i];

		if (memcmp(x->mac, y->mac, 6) || !addr_eq(&x->ip, &y->ip) ||
		    strcmp(x->hostname, y->hostname))
			return true;
	}
	for (size_t i = 0; i < a->n_records; i++)
		if (strcmp(a->records[i].name, b->records[i].name) ||
		    !addr_eq(&a->records[i].ip, &b->records[i].ip))
			return true;
	return false;
}

/* Anything the firewall is built from (besides mode, bridge and addresses). */
bool net_config_fw_equal(const struct net_config *a, const struct net_config *b)
{
	if (a->n_forwards != b->n_forwards)
		return false;
	for (size_t i = 0; i < a->n_forwards; i++) {
		const struct net_forward *x = &a->forwards[i], *y = &b->forwards[i];

		if (x->proto != y->proto || x->host_port != y->host_port ||
		    x->guest_port != y->guest_port || !addr_eq(&x->guest, &y->guest))
			return false;
	}
	return true;
}
