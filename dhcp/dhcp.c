/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dhcp: render, write, start and find one dnsmasq per network.
 *
 * Everything dnsmasq reads from us is checked before it is written: names
 * and paths go into a line-oriented file where a newline, a comma or a '#'
 * would change its meaning, so anything outside a small character set is
 * refused with -EINVAL (and a reason in dhcp_errmsg()).
 */
#include "dhcp/dhcp.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>

#define CONF_ARG "--conf-file="
#define CMDLINE_MAX 16384

static _Thread_local char errbuf[512];

__attribute__((format(printf, 1, 2)))
static void set_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
}

const char *dhcp_errmsg(void)
{
	return errbuf;
}

/* --- validation ---------------------------------------------------------- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* [A-Za-z0-9] plus the characters in extra; never '.' first. */
static bool valid_word(const char *s, size_t max, const char *extra)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

/* One DNS label: 1-63 of [A-Za-z0-9-] (and '_' if allowed), no '-' at ends. */
static bool valid_label(const char *s, size_t n, bool underscore)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && !(underscore && s[i] == '_'))
			return false;
	return true;
}

bool dhcp_dns_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	const char *p = s, *dot;

	if (n == 0 || n > 253)
		return false;
	for (;;) {
		dot = strchr(p, '.');
		if (!valid_label(p, dot ? (size_t)(dot - p) : strlen(p), true))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

/*
 * A reservation's hostname is the third field of a dhcp-host line, where
 * dnsmasq reads digits with an optional w/d/h/m/s suffix as a lease time and
 * "infinite"/"ignore" as keywords: refuse those rather than be misread.
 */
bool dhcp_hostname_valid(const char *s)
{
	size_t n = strlen(s), digits = strspn(s, "0123456789");

	if (!valid_label(s, n, false))
		return false;
	if (digits == n || (digits > 0 && digits == n - 1 && strchr("wWdDhHmMsS", s[n - 1])))
		return false;
	return strcmp(s, "infinite") != 0 && strcmp(s, "ignore") != 0;
}

/* Absolute, printable, and nothing dnsmasq's config reader treats specially. */
static bool valid_path(const char *s)
{
	if (!s || s[0] != '/')
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\' || *s == '#')
			return false;
	return true;
}

/* --- paths --------------------------------------------------------------- */

/* Length of dir without trailing slashes (but "/" stays "/"). */
static int dir_len(const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return n > INT_MAX ? INT_MAX : (int)n;
}

static int path_fmt(char *buf, const char *dir, const char *sub, const char *name,
		    const char *ext)
{
	int n = snprintf(buf, DHCP_PATH_MAX, "%.*s%s/%s.%s", dir_len(dir), dir, sub, name, ext);

	return n < 0 || n >= DHCP_PATH_MAX ? -ENAMETOOLONG : 0;
}

static int servers_path(char *buf, const char *run_dir)
{
	int n = snprintf(buf, DHCP_PATH_MAX, "%.*s/dnsmasq/servers", dir_len(run_dir), run_dir);

	return n < 0 || n >= DHCP_PATH_MAX ? -ENAMETOOLONG : 0;
}

int dhcp_paths(const char *run_dir, const char *state_dir, const char *name,
	       struct dhcp_paths *ret)
{
	int r = 0;

	errbuf[0] = '\0';
	if (!run_dir || run_dir[0] != '/' || !state_dir || state_dir[0] != '/') {
		set_err("run and state directories must be absolute paths");
		return -EINVAL;
	}
	if (!valid_word(name, SIZE_MAX, "-_.")) {
		set_err("bad network name for a file name");
		return -EINVAL;
	}
	if (strlen(name) + sizeof(".leases") > NAME_MAX + 1)
		r = -ENAMETOOLONG;
	if (!r)
		r = path_fmt(ret->conf, run_dir, "/dnsmasq", name, "conf");
	if (!r)
		r = path_fmt(ret->hosts, run_dir, "/dnsmasq", name, "hosts");
	if (!r)
		r = path_fmt(ret->addn, run_dir, "/dnsmasq", name, "addn");
	if (!r)
		r = path_fmt(ret->pid, run_dir, "/dnsmasq", name, "pid");
	if (!r)
		r = path_fmt(ret->log, run_dir, "/dnsmasq", name, "log");
	if (!r)
		r = path_fmt(ret->leases, state_dir, "", name, "leases");
	if (!r)
		r = servers_path(ret->servers, run_dir);
	if (r)
		set_err("path for network %.64s is too long", name);
	return r;
}

/* --- rendering ----------------------------------------------------------- */

static const char *ip_str(const struct dhcp_ip *ip, char *buf)
{
	if (!inet_ntop(ip->family, &ip->a, buf, INET6_ADDRSTRLEN))
		strcpy(buf, "?");
	return buf;
}

static uint32_t v4_host(const struct dhcp_ip *ip)
{
	return ntohl(ip->a.v4.s_addr);
}

static uint32_t v4_mask(unsigned int prefixlen)
{
	return prefixlen == 0 ? 0 : ~(uint32_t)0 << (32 - prefixlen);
}

static int check_network(const struct dhcp_network *net, const struct dhcp_paths *p)
{
	if (!valid_word(net->name, NAME_MAX, "-_.")) {
		set_err("bad network name");
		return -EINVAL;
	}
	if (!valid_word(net->bridge, 15, "-_.")) {
		set_err("bad bridge name \"%.32s\"", net->bridge ? net->bridge : "");
		return -EINVAL;
	}
	if (!valid_path(p->conf) || !valid_path(p->hosts) || !valid_path(p->addn) ||
	    !valid_path(p->pid) || !valid_path(p->leases)) {
		set_err("paths must be absolute, without spaces, quotes, '\\' or '#'");
		return -EINVAL;
	}
	if (net->domain && net->domain[0] && !dhcp_dns_name_valid(net->domain)) {
		set_err("bad domain \"%.256s\"", net->domain);
		return -EINVAL;
	}
	return 0;
}

static int check_subnets(const struct dhcp_network *net)
{
	if (net->n_subnets && !net->subnets) {
		set_err("subnets missing");
		return -EINVAL;
	}
	for (size_t i = 0; i < net->n_subnets; i++) {
		const struct dhcp_subnet *sn = &net->subnets[i];

		if (!(sn->host.family == AF_INET && sn->prefixlen <= 32) &&
		    !(sn->host.family == AF_INET6 && sn->prefixlen <= 128)) {
			set_err("subnet %zu: bad family or prefix length", i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_range(const struct dhcp_network *net)
{
	uint32_t s, e, m;

	if (net->range_start.family == 0 && net->range_end.family == 0)
		return 0;
	if (net->range_start.family != AF_INET || net->range_end.family != AF_INET) {
		set_err("the DHCP range must be two IPv4 addresses");
		return -EINVAL;
	}
	s = v4_host(&net->range_start);
	e = v4_host(&net->range_end);
	m = v4_mask(net->range_prefixlen);
	if (net->range_prefixlen < 1 || net->range_prefixlen > 32 || s > e ||
	    (s & m) != (e & m)) {
		set_err("bad DHCP range (start after end, or not in one /%u)",
			net->range_prefixlen);
		return -EINVAL;
	}
	return 0;
}

static int check_reservation(const struct dhcp_network *net, size_t i)
{
	const struct dhcp_reservation *r = &net->reservations[i];

	if (r->ip.family != AF_INET) {
		set_err("reservation %zu: only IPv4 addresses can be reserved", i + 1);
		return -EINVAL;
	}
	if (r->hostname && r->hostname[0] && !dhcp_hostname_valid(r->hostname)) {
		set_err("reservation %zu: bad hostname \"%.64s\"", i + 1, r->hostname);
		return -EINVAL;
	}
	/* dnsmasq refuses a second dhcp-host with the same address. */
	for (size_t j = 0; j < i; j++) {
		const struct dhcp_reservation *o = &net->reservations[j];

		if (o->ip.a.v4.s_addr == r->ip.a.v4.s_addr ||
		    memcmp(o->mac, r->mac, sizeof(r->mac)) == 0) {
			set_err("reservations %zu and %zu share a MAC or an address",
				j + 1, i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_records(const struct dhcp_network *net)
{
	if (net->n_records && !net->records) {
		set_err("records missing");
		return -EINVAL;
	}
	for (size_t i = 0; i < net->n_records; i++) {
		const struct dhcp_record *rec = &net->records[i];

		if (!dhcp_dns_name_valid(rec->name) ||
		    (rec->ip.family != AF_INET && rec->ip.family != AF_INET6)) {
			set_err("record %zu: bad name or address", i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_all(const struct dhcp_network *net, const struct dhcp_paths *p)
{
	int r = check_network(net, p);

	if (!r)
		r = check_subnets(net);
	if (!r)
		r = check_range(net);
	if (!r && net->n_reservations && !net->reservations) {
		set_err("reservations missing");
		r = -EINVAL;
	}
	for (size_t i = 0; !r && i < net->n_reservations; i++)
		r = check_reservation(net, i);
	if (!r)
		r = check_records(net);
	return r;
}

static void render_dns(FILE *f, const struct dhcp_network *net,
		       const struct dhcp_paths *p)
{
	if (!net->dns) {
		/* DNS off; dnsmasq then advertises no DNS server (DHCP, RA). */
		fputs("port=0\n", f);
		return;
	}
	/* Upstreams from netd's shared file, re-read on SIGHUP (see dhcp.h). */
	fprintf(f, "servers-file=%s\n", p->servers);
	fputs("domain-needed\nbogus-priv\n", f);
	fprintf(f, "addn-hosts=%s\n", p->addn);
	if (net->domain && net->domain[0])
		fprintf(f, "domain=%s\nlocal=/%s/\nexpand-hosts\n",
			net->domain, net->domain);
}

static bool in_range(const struct dhcp_network *net, const struct dhcp_ip *ip)
{
	uint32_t a = v4_host(ip);

	return a >= v4_host(&net->range_start) && a <= v4_host(&net->range_end);
}

static void render_dhcp4(FILE *f, const struct dhcp_network *net)
{
	char s[INET6_ADDRSTRLEN], e[INET6_ADDRSTRLEN], m[INET6_ADDRSTRLEN];
	struct dhcp_ip mask = { .family = AF_INET };
	unsigned long max;

	if (net->range_start.family != AF_INET)
		return;
	mask.a.v4.s_addr = htonl(v4_mask(net->range_prefixlen));
	fprintf(f, "dhcp-range=%s,%s,%s,", ip_str(&net->range_start, s),
		ip_str(&net->range_end, e), ip_str(&mask, m));
	if (net->lease_time)
		fprintf(f, "%u\n", net->lease_time);
	else
		fputs("infinite\n", f);

	/* Room for the whole range and for every reservation outside it. */
	max = (unsigned long)(v4_host(&net->range_end) - v4_host(&net->range_start)) + 1;
	for (size_t i = 0; i < net->n_reservations; i++)
		if (!in_range(net, &net->reservations[i].ip))
			max++;
	fprintf(f, "dhcp-lease-max=%lu\n", max);
}

static bool same_prefix6(const struct dhcp_subnet *a, const struct dhcp_subnet *b)
{
	return a->host.family == AF_INET6 && b->host.family == AF_INET6 &&
	       a->prefixlen == b->prefixlen && memcmp(&a->host.a.v6, &b->host.a.v6, 8) == 0;
}

/*
 * Router advertisements with stateless DHCPv6 (for DNS) on every /64 of the
 * bridge; dnsmasq advertises only /64 prefixes, so other IPv6 subnets get a
 * comment and no RA (their guests are configured statically).
 */
static void render_dhcp6(FILE *f, const struct dhcp_network *net)
{
	char buf[INET6_ADDRSTRLEN];
	bool ra = false;

	for (size_t i = 0; i < net->n_subnets; i++) {
		const struct dhcp_subnet *sn = &net->subnets[i];
		struct dhcp_ip prefix = sn->host;
		bool dup = false;

		if (sn->host.family != AF_INET6)
			continue;
		for (size_t j = 0; j < i; j++)
			dup = dup || same_prefix6(sn, &net->subnets[j]);
		if (dup)
			continue;
		for (unsigned int b = sn->prefixlen; b < 128; b++)
			prefix.a.v6.s6_addr[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
		if (sn->prefixlen != 64) {
			fprintf(f, "# %s/%u: no router advertisement (dnsmasq needs a /64)\n",
				ip_str(&prefix, buf), sn->prefixlen);
			continue;
		}
		if (!ra)
			fputs("enable-ra\n", f);
		ra = true;
		fprintf(f, "dhcp-range=%s,ra-stateless,64\n", ip_str(&prefix, buf));
	}
}

static void render_dhcp(FILE *f, const struct dhcp_network *net,
			const struct dhcp_paths *p)
{
	if (!net->dhcp)
		return;
	render_dhcp4(f, net);
	fprintf(f, "dhcp-leasefile=%s\n", p->leases);
	fprintf(f, "dhcp-hostsfile=%s\n", p->hosts);
	/*
	 * no-ping: dnsmasq pings an address before offering it to a new MAC,
	 * which makes every new guest wait ~3 s.  The bridge is netd's, its
	 * reservations are known and dnsmasq's lease file holds the rest.
	 */
	fputs("dhcp-authoritative\ndhcp-no-override\nno-ping\n", f);
	render_dhcp6(f, net);
}

static void render_header(FILE *f, const struct dhcp_network *net)
{
	fprintf(f, "# Generated by netd for network %s; do not edit, netd rewrites it.\n",
		net->name);
}

static void render_conf(FILE *f, const struct dhcp_network *net,
			const struct dhcp_paths *p)
{
	render_header(f, net);
	/*
	 * The bridge only: never 0.0.0.0, so a host resolver on :53 is safe.
	 * bind-interfaces, not bind-dynamic: with bind-dynamic every dnsmasq
	 * re-reads all the host's addresses on each address change, so with
	 * N networks adding one address costs N dumps under the RTNL lock
	 * (180 ms at 400 networks).  netd adds the bridge's addresses (not
	 * tentative: IFA_F_NODAD) before it starts dnsmasq, and restarts
	 * dnsmasq when they change.
	 */
	fprintf(f, "interface=%s\nbind-interfaces\nexcept-interface=lo\n", net->bridge);
	fprintf(f, "pid-file=%s\n", p->pid);
	/* Neither the host's /etc/hosts nor its resolv.conf (see render_dns). */
	fputs("no-hosts\nno-resolv\n", f);
	render_dns(f, net, p);
	render_dhcp(f, net, p);
}

static void render_hosts(FILE *f, const struct dhcp_network *net)
{
	char buf[INET6_ADDRSTRLEN];

	render_header(f, net);
	for (size_t i = 0; i < net->n_reservations; i++) {
		const struct dhcp_reservation *r = &net->reservations[i];
		const uint8_t *m = r->mac;

		fprintf(f, "%02x:%02x:%02x:%02x:%02x:%02x,%s", m[0], m[1], m[2],
			m[3], m[4], m[5], ip_str(&r->ip, buf));
		if (r->hostname && r->hostname[0])
			fprintf(f, ",%s", r->hostname);
		fputc('\n', f);
	}
}

static void render_addn(FILE *f, const struct dhcp_network *net)
{
	char buf[INET6_ADDRSTRLEN];

	render_header(f, net);
	for (size_t i = 0; i < net->n_records; i++)
		fprintf(f, "%s %s\n", ip_str(&net->records[i].ip, buf),
			net->records[i].name);
}

enum render_what { RENDER_CONF, RENDER_HOSTS, RENDER_ADDN };

static int render_one(const struct dhcp_network *net, const struct dhcp_paths *p,
		      enum render_what what, char **ret)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	bool bad;

	if (!f)
		return -ENOMEM;
	switch (what) {
	case RENDER_CONF:
		render_conf(f, net, p);
		break;
	case RENDER_HOSTS:
		render_hosts(f, net);
		break;
	case RENDER_ADDN:
		render_addn(f, net);
		break;
	}
	bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

int dhcp_render(const struct dhcp_network *net, const struct dhcp_paths *paths,
		char **ret_conf, char **ret_hosts, char **ret_addn)
{
	char *conf = NULL, *hosts = NULL, *addn = NULL;
	int r;

	errbuf[0] = '\0';
	if (!net || !paths || !ret_conf || !ret_hosts || !ret_addn)
		return -EINVAL;
	r = check_all(net, paths);
	if (!r)
		r = render_one(net, paths, RENDER_CONF, &conf);
	if (!r)
		r = render_one(net, paths, RENDER_HOSTS, &hosts);
	if (!r)
		r = render_one(net, paths, RENDER_ADDN, &addn);
	if (r) {
		free(conf);
		free(hosts);
		return r;
	}
	*ret_conf = conf;
	*ret_hosts = hosts;
	*ret_addn = addn;
	return 0;
}

/* --- writing files ------------------------------------------------------- */

static int mkdir_p(const char *dir, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1; ; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		if (c == '\0')
			return 0;
		*p = c;
	}
}

static int mkdir_parent(const char *path)
{
	char buf[4096];
	char *slash;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return 0;
	*slash = '\0';
	return mkdir_p(buf, 0755);
}

/* 1 when path holds exactly data, 0 when not (or missing), <0 on error. */
static int file_equals(const char *path, const char *data, size_t len)
{
	char buf[4096];
	struct stat st;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY), r = 1;

	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != len)
		r = 0;
	while (r == 1 && off < len) {
		size_t want = len - off < sizeof(buf) ? len - off : sizeof(buf);
		ssize_t n = read(fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || memcmp(buf, data + off, (size_t)n) != 0)
			r = n < 0 ? -errno : 0;
		else
			off += (size_t)n;
	}
	close(fd);
	return r;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Create a fresh temporary file next to path; its name goes to tmp. */
static int open_temp(const char *path, char tmp[4096])
{
	static unsigned int counter;

	for (int tries = 0; tries < 16; tries++) {
		uint64_t rnd;
		int n, fd;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ ++counter;
		n = snprintf(tmp, 4096, "%s.tmp-%016llx", path, (unsigned long long)rnd);
		if (n < 0 || n >= 4096)
			return -ENAMETOOLONG;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW |
			  O_NOCTTY, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

static int write_atomic(const char *path, const char *data)
{
	char tmp[4096];
	int fd = open_temp(path, tmp), r;

	if (fd < 0)
		return fd;
	r = write_all(fd, data, strlen(data));
	if (!r && fchmod(fd, 0644) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

/* 1 when written, 0 when it already had that content, <0 on error. */
static int update_file(const char *path, const char *data)
{
	int r = file_equals(path, data, strlen(data));

	if (r == 0)
		r = write_atomic(path, data);
	else if (r == 1)
		return 0;
	if (r < 0) {
		set_err("cannot write %.3900s: %s", path, strerror(-r));
		return r;
	}
	return 1;
}

static int write_rendered(const struct dhcp_paths *paths, const char *conf,
			  const char *hosts, const char *addn, unsigned int *changed)
{
	int r;

	r = mkdir_parent(paths->conf);
	if (!r)
		r = mkdir_parent(paths->leases);
	if (r) {
		set_err("cannot create the directories for %.3900s: %s", paths->conf,
			strerror(-r));
		return r;
	}
	/* The hosts files first: a new configuration may already refer to them. */
	r = update_file(paths->hosts, hosts);
	if (r > 0)
		*changed |= DHCP_CHANGED_HOSTS;
	if (r >= 0)
		r = update_file(paths->addn, addn);
	if (r > 0)
		*changed |= DHCP_CHANGED_HOSTS;
	if (r >= 0)
		r = update_file(paths->conf, conf);
	if (r > 0)
		*changed |= DHCP_CHANGED_CONF;
	return r < 0 ? r : 0;
}

int dhcp_write_files(const struct dhcp_network *net, const struct dhcp_paths *paths,
		     unsigned int *ret_changed)
{
	char *conf = NULL, *hosts = NULL, *addn = NULL;
	unsigned int changed = 0;
	int r;

	r = dhcp_render(net, paths, &conf, &hosts, &addn);
	if (!r)
		r = write_rendered(paths, conf, hosts, addn, &changed);
	free(conf);
	free(hosts);
	free(addn);
	if (ret_changed)
		*ret_changed = changed;
	return r;
}

/* --- upstream servers ---------------------------------------------------- */

/* An address dnsmasq's server= takes: IPv4, or IPv6 with an optional %IFNAME. */
static bool valid_nameserver(const char *s)
{
	char buf[INET6_ADDRSTRLEN + 1 + 16];
	unsigned char a[16];
	const char *zone = strchr(s, '%');
	size_t len = zone ? (size_t)(zone - s) : strlen(s);

	if (len >= INET6_ADDRSTRLEN)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!zone)
		return inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1;
	return inet_pton(AF_INET6, buf, a) == 1 && valid_word(zone + 1, 15, "-_.");
}

int dhcp_servers_render(const char *text, char **ret)
{
	char *buf = NULL, *copy, *save = NULL;
	size_t size = 0;
	FILE *f;
	bool bad;

	copy = strdup(text);
	f = copy ? open_memstream(&buf, &size) : NULL;
	if (!f) {
		free(copy);
		return -ENOMEM;
	}
	fputs("# Generated by netd from the host's resolv.conf; do not edit.\n", f);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *key, *val, *end, *ws = NULL;

		key = strtok_r(line, " \t\r", &ws);
		val = key ? strtok_r(NULL, " \t\r", &ws) : NULL;
		end = val ? strtok_r(NULL, " \t\r", &ws) : NULL;
		if (!val || strcmp(key, "nameserver") != 0 || (end && *end != '#' && *end != ';'))
			continue;
		if (valid_nameserver(val))
			fprintf(f, "server=%s\n", val);
	}
	free(copy);
	bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

/* The whole of a small text file; a missing file reads as "". */
static int read_text(const char *path, size_t max, char **ret)
{
	char *buf = calloc(1, max + 1);
	ssize_t n = 0;
	size_t len = 0;
	int fd;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno != ENOENT) {
		free(buf);
		return -errno;
	}
	while (fd >= 0 && len < max && (n = read(fd, buf + len, max - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		free(buf);
		return -EIO;
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

int dhcp_write_servers(const char *run_dir, const char *resolv_path, bool *ret_changed)
{
	char path[4096], *text = NULL, *out = NULL;
	int r;

	errbuf[0] = '\0';
	if (ret_changed)
		*ret_changed = false;
	r = servers_path(path, run_dir);
	if (r) {
		set_err("run directory path is too long");
		return r;
	}
	r = read_text(resolv_path, 65536, &text);
	if (r < 0) {
		set_err("cannot read %.3900s: %s", resolv_path, strerror(-r));
		return r;
	}
	r = dhcp_servers_render(text, &out);
	if (!r)
		r = mkdir_parent(path);
	if (!r)
		r = update_file(path, out);
	if (r > 0 && ret_changed)
		*ret_changed = true;
	free(text);
	free(out);
	return r < 0 ? r : 0;
}

int dhcp_remove_files(const struct dhcp_paths *paths)
{
	const char *files[] = { paths->conf, paths->hosts, paths->addn, paths->pid,
				paths->log };
	int r = 0;

	errbuf[0] = '\0';
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (unlink(files[i]) < 0 && errno != ENOENT && !r) {
			r = -errno;
			set_err("cannot remove %.3900s: %s", files[i], strerror(errno));
		}
	return r;
}

/* --- starting dnsmasq ---------------------------------------------------- */

/*
 * posix_spawn: glibc clones with CLONE_VM | CLONE_VFORK, so starting a
 * dnsmasq does not copy netd's page tables (a fork did, and cost more the
 * more networks netd ran), and an exec failure comes back as its return
 * value.
 */

/* Move fd to a number >= 3 (so the dup2s onto 0-2 never clobber it). */
static int fd_above_stdio(int fd)
{
	return fd >= 3 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* A name without a slash, looked up in PATH once (posix_spawnp would try
 * every PATH entry on each start); the result is kept while it works. */
static const char *resolve_bin(const char *bin, char *buf, size_t size, bool fresh)
{
	static char cached_name[256], cached_path[PATH_MAX];
	const char *path = getenv("PATH");

	if (strchr(bin, '/'))
		return bin;
	if (!fresh && cached_path[0] && strcmp(cached_name, bin) == 0) {
		snprintf(buf, size, "%s", cached_path);
		return buf;
	}
	cached_path[0] = '\0';
	for (const char *p = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	     *p;) {
		size_t len = strcspn(p, ":");

		if (len > 0 && (size_t)snprintf(buf, size, "%.*s/%s", (int)len, p, bin) < size &&
		    access(buf, X_OK) == 0) {
			snprintf(cached_name, sizeof(cached_name), "%s", bin);
			snprintf(cached_path, sizeof(cached_path), "%s", buf);
			return buf;
		}
		p += len + (p[len] == ':');
	}
	return NULL;
}

static int spawn_child(const char *bin, char *const argv[], int nullfd, int logfd,
		       pid_t *ret_pid)
{
	extern char **environ;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	int r;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return -ENOMEM;
	if (posix_spawnattr_init(&at) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -ENOMEM;
	}
	/* The parent blocks signals for its signalfd: the child gets none of
	 * that, and a session of its own (it outlives netd and a ^C). */
	sigfillset(&all);
	sigemptyset(&none);
	r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
					  POSIX_SPAWN_SETSIGMASK);
	if (!r)
		r = posix_spawnattr_setsigdefault(&at, &all);
	if (!r)
		r = posix_spawnattr_setsigmask(&at, &none);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, nullfd, 0);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, logfd, 1);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, logfd, 2);
	if (!r)
		r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (!r)
		r = posix_spawn(ret_pid, bin, &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

static int spawn_fork(const char *bin, char *const argv[], int nullfd, int logfd,
		      pid_t *ret_pid)
{
	char buf[PATH_MAX];
	const char *path = resolve_bin(bin, buf, sizeof(buf), false);
	int nfd = fd_above_stdio(nullfd), lfd = fd_above_stdio(logfd), r;

	if (nfd < 0 || lfd < 0)
		r = -errno;
	else if (!path)
		r = -ENOENT;
	else
		r = spawn_child(path, argv, nfd, lfd, ret_pid);
	/* dnsmasq moved (a package upgrade): look again */
	if (r == -ENOENT && path == buf && (path = resolve_bin(bin, buf, sizeof(buf), true)))
		r = spawn_child(path, argv, nfd, lfd, ret_pid);
	if (nfd >= 0 && nfd != nullfd)
		close(nfd);
	if (lfd >= 0 && lfd != logfd)
		close(lfd);
	return r;
}

int dhcp_spawn(const char *dnsmasq_bin, const struct dhcp_paths *paths, pid_t *ret_pid)
{
	char conf_arg[sizeof(CONF_ARG) + sizeof(paths->conf)];
	char *argv[] = { (char *)"dnsmasq", (char *)"--keep-in-foreground", conf_arg, NULL };
	const char *bin = dnsmasq_bin ? dnsmasq_bin : "dnsmasq";
	int nullfd, logfd, r;

	errbuf[0] = '\0';
	snprintf(conf_arg, sizeof(conf_arg), CONF_ARG "%s", paths->conf);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (nullfd < 0)
		return -errno;
	logfd = open(paths->log, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC |
		     O_NOCTTY | O_NOFOLLOW, 0644);
	if (logfd < 0) {
		r = -errno;
		set_err("cannot open %.3900s: %s", paths->log, strerror(-r));
		close(nullfd);
		return r;
	}
	r = spawn_fork(bin, argv, nullfd, logfd, ret_pid);
	if (r)
		set_err("cannot start %.3900s: %s", bin, strerror(-r));
	close(nullfd);
	close(logfd);
	return r;
}

/* --- keeping dnsmasq out of the host's netlink events ------------------- */

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/*
 * Leave every multicast group the netlink socket fd is in.  A socket in no
 * group is off the protocol's listener list, so the kernel no longer even
 * looks at it when it broadcasts a change (a socket filter would still cost
 * a clone and a filter run per message and socket).
 */
static int leave_groups(int fd)
{
	uint32_t groups[32] = { 0 };
	socklen_t len = sizeof(groups);

	if (getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups, &len) < 0)
		return -errno;
	if (len > sizeof(groups))
		len = sizeof(groups);
	for (unsigned int g = 0; g < len * 8; g++) {
		unsigned int group = g + 1;

		if (!(groups[g / 32] & (1u << (g % 32))))
			continue;
		if (setsockopt(fd, SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, &group, sizeof(group)) < 0)
			return -errno;
	}
	return 0;
}

int dhcp_quiet_netlink(pid_t pid, int pidfd)
{
	char dir[64];
	struct dirent *de;
	int r = -ENOENT;
	DIR *dp;

	errbuf[0] = '\0';
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while (r == -ENOENT && (de = readdir(dp))) {
		char link[sizeof(dir) + 260], target[64];
		socklen_t len = sizeof(int);
		int domain = 0, proto = -1, fd, n;
		ssize_t tl;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		tl = readlink(link, target, sizeof(target) - 1);
		if (tl <= 0)
			continue;
		target[tl] = '\0';
		if (strncmp(target, "socket:", 7) != 0)
			continue;
		n = atoi(de->d_name);
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, n, 0);
		if (fd < 0) {
			r = -errno;
			set_err("cannot reach dnsmasq's socket (pidfd_getfd): %s", strerror(errno));
			break;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_NETLINK &&
		    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
		    proto == NETLINK_ROUTE) {
			r = leave_groups(fd);
			if (r < 0)
				set_err("cannot take dnsmasq's netlink socket out of its groups: %s",
					strerror(-r));
		}
		close(fd);
	}
	closedir(dp);
	return r;
}

/* --- finding dnsmasq ----------------------------------------------------- */

/* Read up to size-1 bytes and NUL-terminate; length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = 0;

	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/*
 * Read /proc/PID/cmdline into buf; if argv[0] is a dnsmasq, return the
 * value of its --conf-file= argument (pointing into buf), else NULL.
 */
static const char *dnsmasq_conf_of(pid_t pid, char *buf, size_t size)
{
	char path[64];
	const char *base, *p, *end;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	n = read_small(path, buf, size);
	if (n <= 0)
		return NULL;
	end = buf + n;
	base = strrchr(buf, '/');
	if (strcmp(base ? base + 1 : buf, "dnsmasq") != 0)
		return NULL;
	for (p = buf + strlen(buf) + 1; p < end; p += strlen(p) + 1)
		if (strncmp(p, CONF_ARG, strlen(CONF_ARG)) == 0)
			return p + strlen(CONF_ARG);
	return NULL;
}

static pid_t parse_pid(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	end += strspn(end, " \t\r\n");
	if (errno || *end || v <= 0 || v > INT_MAX)
		return 0;
	return (pid_t)v;
}

int dhcp_find(const struct dhcp_paths *paths, pid_t *ret_pid)
{
	char pidbuf[32];
	const char *conf;
	char *buf;
	pid_t pid;
	int r = -ESRCH;

	errbuf[0] = '\0';
	if (read_small(paths->pid, pidbuf, sizeof(pidbuf)) <= 0)
		return -ESRCH;
	pid = parse_pid(pidbuf);
	if (pid <= 0)
		return -ESRCH;
	buf = malloc(CMDLINE_MAX);
	if (!buf)
		return -ENOMEM;
	conf = dnsmasq_conf_of(pid, buf, CMDLINE_MAX);
	if (conf && strcmp(conf, paths->conf) == 0) {
		*ret_pid = pid;
		r = 0;
	}
	free(buf);
	return r;
}

/* A numeric /proc entry whose dnsmasq reads a conf directly in dir/. */
static int find_one(const char *entry, const char *dir, size_t dirlen, char *buf,
		    int (*cb)(pid_t pid, const char *conf, void *data), void *data)
{
	pid_t pid = parse_pid(entry);
	const char *conf;

	if (pid <= 0)
		return 0;
	conf = dnsmasq_conf_of(pid, buf, CMDLINE_MAX);
	if (!conf || strncmp(conf, dir, dirlen) != 0 || !conf[dirlen] ||
	    strchr(conf + dirlen, '/'))
		return 0;
	return cb(pid, conf, data);
}

int dhcp_find_all(const char *run_dir, int (*cb)(pid_t pid, const char *conf, void *data),
		  void *data)
{
	char dir[4096];
	struct dirent *de;
	char *buf;
	DIR *d;
	int n, r = 0;

	errbuf[0] = '\0';
	n = snprintf(dir, sizeof(dir), "%.*s/dnsmasq/", dir_len(run_dir), run_dir);
	if (n < 0 || n >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	buf = malloc(CMDLINE_MAX);
	if (!buf)
		return -ENOMEM;
	d = opendir("/proc");
	if (!d) {
		r = -errno;
		free(buf);
		return r;
	}
	while (r >= 0 && (de = readdir(d)))
		r = find_one(de->d_name, dir, (size_t)n, buf, cb, data);
	closedir(d);
	free(buf);
	return r < 0 ? r : 0;
}

/* --- the log ------------------------------------------------------------- */

static bool all_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\n", s[i]))
			return false;
	return true;
}

/*
 * Drop the partial first line when the cut fell inside one (unless nothing
 * else is left), show control bytes as '?', drop blank lines at both ends.
 */
static void tidy_tail(char *buf, size_t *len, bool cut)
{
	char *nl = cut ? memchr(buf, '\n', *len) : NULL;
	size_t skip = nl ? (size_t)(nl - buf) + 1 : 0;

	if (skip && !all_blank(buf + skip, *len - skip)) {
		*len -= skip;
		memmove(buf, buf + skip, *len);
	}
	for (size_t i = 0; i < *len; i++)
		if (((unsigned char)buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\t') ||
		    buf[i] == 0x7f)
			buf[i] = '?';
	while (*len > 0 && strchr(" \t\n", buf[*len - 1]))
		(*len)--;
	skip = strspn(buf, "\n");	/* dnsmasq starts its errors with one */
	*len -= skip;
	memmove(buf, buf + skip, *len);
	buf[*len] = '\0';
}

char *dhcp_log_tail(const struct dhcp_paths *paths, size_t max_bytes)
{
	int fd = open(paths->log, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	size_t len = 0;
	off_t off;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = max_bytes && max_bytes < SIZE_MAX ? malloc(max_bytes + 1) : NULL;
	if (!buf || fstat(fd, &st) < 0) {
		close(fd);
		free(buf);
		return NULL;
	}
	off = (uint64_t)st.st_size > max_bytes ? st.st_size - (off_t)max_bytes : 0;
	while (len < max_bytes) {
		ssize_t n = pread(fd, buf + len, max_bytes - len, off + (off_t)len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	tidy_tail(buf, &len, off > 0);
	if (len == 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
