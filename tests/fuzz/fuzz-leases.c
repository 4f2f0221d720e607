/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: dnsmasq's lease file (dhcp_leases_parse).
 *
 * The input is the content of a lease file, copied into a buffer of exactly
 * its size so a read past the end is caught.  Besides what the sanitizers
 * catch, the target aborts when a result breaks what dhcp.h promises: at
 * most one lease per line, lines and bad lines adding up, IPv4 leases with a
 * MAC and IPv6 ones without, text fields NUL-terminated and printable.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dhcp/dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz-leases: broken contract: %s\n", what);
	abort();
}

static size_t count_lines(const char *p, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += p[i] == '\n';
	return n + (len && p[len - 1] != '\n');
}

static bool printable(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static void check_lease(const struct dhcp_lease *l)
{
	static const uint8_t zero[6];

	if (l->expires < 0)
		die("negative expiry");
	if (l->ip.family == AF_INET) {
		if (!l->has_mac)
			die("IPv4 lease without a MAC");
	} else if (l->ip.family == AF_INET6) {
		if (l->has_mac || memcmp(l->mac, zero, sizeof(zero)) != 0)
			die("IPv6 lease with a MAC");
	} else {
		die("lease of no address family");
	}
	if (!printable(l->hostname, sizeof(l->hostname)) ||
	    !printable(l->client_id, sizeof(l->client_id)))
		die("hostname or client id not a printable C string");
	if (strcmp(l->hostname, "*") == 0 || strcmp(l->client_id, "*") == 0)
		die("'*' (unknown) kept as a value");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dhcp_lease *leases = NULL;
	size_t n = 99, bad = 99, lines;
	char *text = malloc(size ? size : 1);
	int r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	r = dhcp_leases_parse(text, size, &leases, &n, &bad);
	if (r == -ENOMEM) {
		free(text);
		return 0;
	}
	if (r != 0)
		die("dhcp_leases_parse failed on a buffer");
	lines = count_lines(text, size);
	if (n + bad > lines)
		die("more leases and bad lines than lines");
	if ((n == 0) != (leases == NULL))
		die("result array and count disagree");
	for (size_t i = 0; i < n; i++)
		check_lease(&leases[i]);
	free(leases);
	free(text);
	return 0;
}
