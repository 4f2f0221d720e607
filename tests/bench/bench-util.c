/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared code of the benchmark programs (see bench-util.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "netd/proto.h"
#include "tests/bench/bench-util.h"

uint64_t bu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bu_ms(uint64_t from_ns, uint64_t to_ns)
{
	return (double)(to_ns - from_ns) / 1e6;
}

void bu_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

int bu_samples_add(struct bu_samples *s, double ms)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = ms;
	return 0;
}

void bu_samples_free(struct bu_samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double *sorted_copy(const struct bu_samples *s)
{
	double *v = malloc((s->n + 1) * sizeof(*v));

	if (!v)
		bu_die("out of memory");
	memcpy(v, s->v, s->n * sizeof(*v));
	qsort(v, s->n, sizeof(*v), cmp_double);
	return v;
}

double bu_median(const struct bu_samples *s)
{
	double *v, m;

	if (!s->n)
		return 0;
	v = sorted_copy(s);
	m = s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
	free(v);
	return m;
}

/* Nearest rank: the smallest sample with at least 99% of them at or below. */
double bu_p99(const struct bu_samples *s)
{
	double *v, p;
	size_t k;

	if (!s->n)
		return 0;
	v = sorted_copy(s);
	k = (size_t)ceil(0.99 * (double)s->n);
	p = v[k ? k - 1 : 0];
	free(v);
	return p;
}

void bu_print(const char *label, const struct bu_samples *s)
{
	double *v = s->n ? sorted_copy(s) : NULL;

	printf("%s: n=%zu median=%.3f ms p99=%.3f ms min=%.3f max=%.3f\n", label, s->n,
	       bu_median(s), bu_p99(s), v ? v[0] : 0.0, v ? v[s->n - 1] : 0.0);
	free(v);
	fflush(stdout);
}

void bu_print_ratio(const char *label, const struct bu_samples *s,
		    const char *base_label, const struct bu_samples *base)
{
	double b = bu_median(base);

	printf("%s / %s: median ratio %.2f\n", label, base_label, b > 0 ? bu_median(s) / b : 0.0);
	fflush(stdout);
}

int bu_samples_write(const struct bu_samples *s, const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%.6f\n", s->v[i]);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

int bu_call(struct proto_client *c, const char *op, json_object *args, json_object **ret,
	    int *fds, size_t max_fds, size_t *ret_n_fds)
{
	json_object *reply = NULL, *v, *res;
	size_t n_fds = 0;
	int r;

	if (ret)
		*ret = NULL;
	r = proto_client_call(c, op, args, &reply, fds, max_fds, &n_fds);
	if (ret_n_fds)
		*ret_n_fds = n_fds;
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(reply, "ok", &v) || !json_object_get_boolean(v)) {
		fprintf(stderr, "bench: %s refused: %s\n", op,
			json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		if (ret_n_fds)
			*ret_n_fds = 0;
		json_object_put(reply);
		return -EPROTO;
	}
	if (ret && json_object_object_get_ex(reply, "result", &res))
		*ret = json_object_get(res);
	json_object_put(reply);
	return 0;
}

long bu_status_ports(struct proto_client *c)
{
	json_object *res, *v;
	long n = -EPROTO;
	int r;

	r = bu_call(c, "status", NULL, &res, NULL, 0, NULL);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(res, "ports", &v))
		n = (long)json_object_get_int64(v);
	json_object_put(res);
	return n;
}

int bu_netns_open(const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* A socket in another namespace: enter it, make the socket, come back. */
static int socket_in(const char *netns, int domain, int type, int proto)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int target = bu_netns_open(netns);
	int fd = -1, err = 0;

	if (self < 0 || target < 0) {
		err = self < 0 ? -errno : target;
		goto out;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		err = -errno;
		goto out;
	}
	fd = socket(domain, type | SOCK_CLOEXEC, proto);
	if (fd < 0)
		err = -errno;
	if (setns(self, CLONE_NEWNET) < 0)
		bu_die("cannot return to our own network namespace: %s", strerror(errno));
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return fd >= 0 ? fd : err;
}

/* The interface's index as seen from inside its namespace. */
static int ifindex_in(const char *netns, const char *ifname)
{
	int fd = socket_in(netns, AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = { 0 };
	int r;

	if (fd < 0)
		return fd;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	r = ioctl(fd, SIOCGIFINDEX, &ifr) < 0 ? -errno : ifr.ifr_ifindex;
	close(fd);
	return r;
}

int bu_probe_open(const char *netns, const char *ifname, struct bu_probe *p)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	int r;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	r = ifindex_in(netns, ifname);
	if (r < 0)
		return r;
	p->ifindex = r;
	r = socket_in(netns, AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_IP));
	if (r < 0)
		return r;
	p->fd = r;
	sll.sll_ifindex = p->ifindex;
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		r = -errno;
		bu_probe_close(p);
		return r;
	}
	p->xid = (uint32_t)bu_now_ns() ^ (uint32_t)getpid();
	return 0;
}

void bu_probe_close(struct bu_probe *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static uint16_t ip_checksum(const uint8_t *b, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#define DHCP_LEN 300	/* BOOTP fixed part (236) + cookie + options, padded */
#define FRAME_LEN (14 + 20 + 8 + DHCP_LEN)

/* Ethernet + IPv4 + UDP 68->67 + DHCPDISCOVER from mac, broadcast flag set. */
static void build_discover(uint8_t *f, const uint8_t mac[6], uint32_t xid)
{
	uint8_t *ip = f + 14, *udp = ip + 20, *d = udp + 8;
	uint16_t sum;

	memset(f, 0, FRAME_LEN);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (20 + 8 + DHCP_LEN) >> 8;
	ip[3] = (20 + 8 + DHCP_LEN) & 0xff;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memset(ip + 16, 0xff, 4);	/* to 255.255.255.255, from 0.0.0.0 */
	sum = ip_checksum(ip, 20);
	ip[10] = sum >> 8;
	ip[11] = sum & 0xff;
	udp[1] = 68;
	udp[3] = 67;
	udp[4] = (8 + DHCP_LEN) >> 8;
	udp[5] = (8 + DHCP_LEN) & 0xff;	/* checksum 0: none, legal for IPv4 */
	d[0] = 1;			/* BOOTREQUEST */
	d[1] = 1;			/* Ethernet */
	d[2] = 6;
	memcpy(d + 4, &(uint32_t){ htonl(xid) }, 4);
	d[10] = 0x80;			/* broadcast flag */
	memcpy(d + 28, mac, 6);
	memcpy(d + 236, (const uint8_t[]){ 99, 130, 83, 99, 53, 1, 1, 255 }, 8);
}

/* Is frame an OFFER to mac (xid family ours)? */
static bool is_offer(const uint8_t *f, size_t len, const uint8_t mac[6], uint32_t xid0, uint32_t xid1)
{
	const uint8_t *ip = f + 14, *udp, *d, *o, *end = f + len;
	uint32_t xid;
	size_t ihl;

	if (len < 14 + 20 + 8 + 240 || f[12] != 0x08 || f[13] != 0 || ip[9] != IPPROTO_UDP)
		return false;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	udp = ip + ihl;
	d = udp + 8;
	if (d + 240 > end || udp[2] != 0 || udp[3] != 68 || d[0] != 2 || memcmp(d + 28, mac, 6) != 0)
		return false;
	memcpy(&xid, d + 4, 4);
	xid = ntohl(xid);
	if (xid - xid0 > xid1 - xid0)
		return false;
	for (o = d + 240; o + 1 < end && *o != 255;) {
		if (*o == 0) {
			o++;
			continue;
		}
		if (o[0] == 53 && o[1] == 1 && o + 2 < end)
			return o[2] == 2;
		o += 2 + o[1];
	}
	return false;
}

int bu_probe_run(struct bu_probe *p, const uint8_t mac[6], unsigned int interval_ms,
		 unsigned int timeout_ms, uint64_t *ret_ns)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
				  .sll_ifindex = p->ifindex, .sll_halen = 6 };
	uint64_t start = bu_now_ns(), next = start, deadline = start + (uint64_t)timeout_ms * 1000000u;
	uint32_t xid0 = p->xid;
	uint8_t frame[FRAME_LEN], buf[2048];

	memset(to.sll_addr, 0xff, 6);
	/* Drain what an earlier probe left queued. */
	while (recv(p->fd, buf, sizeof(buf), 0) > 0)
		;
	for (;;) {
		uint64_t now = bu_now_ns();
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		ssize_t n;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (now >= next) {
			build_discover(frame, mac, ++p->xid);
			if (sendto(p->fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
				return -errno;
			next += (uint64_t)interval_ms * 1000000u;
			continue;
		}
		if (poll(&pfd, 1, (int)((next - now) / 1000000u) + 1) < 0 && errno != EINTR)
			return -errno;
		while ((n = recv(p->fd, buf, sizeof(buf), 0)) > 0) {
			if (is_offer(buf, (size_t)n, mac, xid0 + 1, p->xid)) {
				*ret_ns = bu_now_ns();
				return 0;
			}
		}
	}
}

int bu_parse_list(const char *s, long *out, size_t max)
{
	size_t n = 0;
	char *end;

	while (*s) {
		if (n == max)
			return -EINVAL;
		out[n++] = strtol(s, &end, 10);
		if (end == s || (*end && *end != ','))
			return -EINVAL;
		s = *end ? end + 1 : end;
	}
	return (int)n;
}

bool bu_in_list(const long *list, size_t n, long v)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == v)
			return true;
	return false;
}
