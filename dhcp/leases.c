/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dnsmasq's lease file, as dnsmasq writes it:
 *
 *   EXPIRY MAC IP HOSTNAME CLIENTID          IPv4 leases
 *   duid SERVER-DUID                         then the IPv6 leases:
 *   EXPIRY [T]IAID IPV6 HOSTNAME CLIENT-DUID
 *
 * with '*' for an unknown hostname or client id and EXPIRY 0 for never.
 * The parser works in place on the caller's bytes: the only allocation is
 * the result array.  Any line that does not fit this shape exactly (wrong
 * field count, bad number or address, a field too long for its buffer, a
 * control byte or NUL) is skipped and counted as bad.
 */
#include "dhcp/dhcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEASE_FIELDS 5
#define LEASE_FILE_MAX (64u << 20)

struct field {
	const char *s;
	size_t n;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Split [p, end) on blanks; stores up to max fields, returns how many there are. */
static size_t split_fields(const char *p, const char *end, struct field *f, size_t max)
{
	size_t n = 0;

	while (p < end) {
		const char *start;

		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			break;
		start = p;
		while (p < end && !is_blank(*p))
			p++;
		if (n < max)
			f[n] = (struct field){ start, (size_t)(p - start) };
		n++;
	}
	return n;
}

static bool field_is(const struct field *f, const char *s)
{
	return f->n == strlen(s) && memcmp(f->s, s, f->n) == 0;
}

static bool parse_u64(const struct field *f, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (f->n == 0 || f->n > 20)
		return false;
	for (size_t i = 0; i < f->n; i++) {
		unsigned int d = (unsigned char)f->s[i] - '0';

		if (d > 9 || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*ret = v;
	return true;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly xx:xx:xx:xx:xx:xx. */
static bool parse_mac(const struct field *f, uint8_t mac[6])
{
	if (f->n != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		const char *p = f->s + 3 * i;
		int hi = hex_val(p[0]), lo = hex_val(p[1]);

		if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':'))
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool parse_ip(const struct field *f, int family, struct dhcp_ip *ip)
{
	char buf[INET6_ADDRSTRLEN];

	if (f->n >= sizeof(buf))
		return false;
	memcpy(buf, f->s, f->n);
	buf[f->n] = '\0';
	ip->family = family;
	return inet_pton(family, buf, &ip->a) == 1;
}

/* Printable ASCII into buf ('*' means unknown: ""); false if it does not fit. */
static bool parse_text(const struct field *f, char *buf, size_t size)
{
	if (field_is(f, "*")) {
		buf[0] = '\0';
		return true;
	}
	if (f->n >= size)
		return false;
	for (size_t i = 0; i < f->n; i++)
		if ((unsigned char)f->s[i] < 0x21 || (unsigned char)f->s[i] > 0x7e)
			return false;
	memcpy(buf, f->s, f->n);
	buf[f->n] = '\0';
	return true;
}

/* An IAID: an optional 'T' (temporary address) and a 32-bit number. */
static bool parse_iaid(const struct field *f)
{
	struct field num = *f;
	uint64_t v;

	if (num.n > 0 && num.s[0] == 'T') {
		num.s++;
		num.n--;
	}
	return parse_u64(&num, UINT32_MAX, &v);
}

static bool parse_lease(const struct field *f, bool v6, struct dhcp_lease *l)
{
	uint64_t expires;

	memset(l, 0, sizeof(*l));
	if (!parse_u64(&f[0], INT64_MAX, &expires))
		return false;
	l->expires = (int64_t)expires;
	if (v6) {
		if (!parse_iaid(&f[1]) || !parse_ip(&f[2], AF_INET6, &l->ip))
			return false;
	} else {
		if (!parse_mac(&f[1], l->mac) || !parse_ip(&f[2], AF_INET, &l->ip))
			return false;
		l->has_mac = true;
	}
	return parse_text(&f[3], l->hostname, sizeof(l->hostname)) &&
	       parse_text(&f[4], l->client_id, sizeof(l->client_id));
}

/* One line: 1 for a lease in *l, 0 for nothing (blank, duid), -1 for bad. */
static int parse_line(const char *p, const char *end, bool *v6, struct dhcp_lease *l)
{
	struct field f[LEASE_FIELDS];
	size_t n;

	if (memchr(p, '\0', (size_t)(end - p)))
		return -1;
	n = split_fields(p, end, f, LEASE_FIELDS);
	if (n == 0)
		return 0;
	if (field_is(&f[0], "duid")) {
		if (n != 2)
			return -1;
		*v6 = true;
		return 0;
	}
	if (n != LEASE_FIELDS)
		return -1;
	return parse_lease(f, *v6, l) ? 1 : -1;
}

static size_t count_lines(const char *text, size_t len)
{
	size_t n = 1;

	for (const char *p = text, *end = text + len;
	     p < end && (p = memchr(p, '\n', (size_t)(end - p))); p++)
		n++;
	return n;
}

int dhcp_leases_parse(const char *text, size_t len, struct dhcp_lease **ret,
		      size_t *ret_n, size_t *ret_bad)
{
	struct dhcp_lease *leases = NULL;
	size_t n = 0, bad = 0;
	bool v6 = false;

	if (!ret || !ret_n || (!text && len))
		return -EINVAL;
	if (len) {
		leases = calloc(count_lines(text, len), sizeof(*leases));
		if (!leases)
			return -ENOMEM;
	}
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		int r = parse_line(p, eol, &v6, &leases[n]);

		if (r > 0)
			n++;
		else if (r < 0)
			bad++;
		p = eol + 1;
	}
	if (n == 0) {
		free(leases);
		leases = NULL;
	}
	*ret = leases;
	*ret_n = n;
	if (ret_bad)
		*ret_bad = bad;
	return 0;
}

/* The whole file in a malloc'd buffer; -ENOENT passes through. */
static int read_file(const char *path, char **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int r = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb = cap >= LEASE_FILE_MAX ? NULL : realloc(buf, cap ? cap * 2 : 4096);

			if (!nb) {
				r = cap >= LEASE_FILE_MAX ? -EFBIG : -ENOMEM;
				break;
			}
			buf = nb;
			cap = cap ? cap * 2 : 4096;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (r) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int dhcp_leases_read(const char *path, struct dhcp_lease **ret, size_t *ret_n)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!path || !ret || !ret_n)
		return -EINVAL;
	r = read_file(path, &text, &len);
	if (r == -ENOENT) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (r)
		return r;
	r = dhcp_leases_parse(text, len, ret, ret_n, NULL);
	free(text);
	return r;
}
