/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared code of the benchmark programs in tests/bench/: clocks, sample
 * sets and their statistics, netd requests, network namespaces and a raw
 * DHCP probe.  Benchmarks print what they measured and write every sample
 * to a file (one value in milliseconds per line) for report.py.
 */
#ifndef NETD_BENCH_UTIL_H
#define NETD_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct proto_client;

uint64_t bu_now_ns(void);	/* CLOCK_MONOTONIC */
double bu_ms(uint64_t from_ns, uint64_t to_ns);

/* A growing set of samples, in milliseconds. */
struct bu_samples {
	double *v;
	size_t n, cap;
};

int bu_samples_add(struct bu_samples *s, double ms);
void bu_samples_free(struct bu_samples *s);
/* Median and p99 (nearest rank) of s; 0 when empty.  Sorts a copy. */
double bu_median(const struct bu_samples *s);
double bu_p99(const struct bu_samples *s);
/* One line: "LABEL: n=N median=X ms p99=Y ms min=.. max=..". */
void bu_print(const char *label, const struct bu_samples *s);
/* " ratio=R" against a baseline's median, appended by callers. */
void bu_print_ratio(const char *label, const struct bu_samples *s,
		    const char *base_label, const struct bu_samples *base);
/* Write the samples to DIR/NAME.txt, one per line. */
int bu_samples_write(const struct bu_samples *s, const char *dir, const char *name);

/* Fatal error: message on stderr, exit 1. */
void bu_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * One request to netd: 0 and its "result" (a new reference, caller puts
 * it; NULL allowed) when it succeeded, -EPROTO when netd refused (its error
 * is printed), or the transport's -errno.
 */
int bu_call(struct proto_client *c, const char *op, json_object *args, json_object **ret,
	    int *fds, size_t max_fds, size_t *ret_n_fds);
/* The "ports" count of a status reply; negative errno on failure. */
long bu_status_ports(struct proto_client *c);

/* Open /run/netns/NAME (O_CLOEXEC); -errno. */
int bu_netns_open(const char *name);

/*
 * A DHCP prober: an AF_PACKET socket on an interface of another network
 * namespace (the "guest").  bu_probe_run sends DISCOVERs with the given
 * client MAC every interval_ms and returns, in *ret_ns, the time the first
 * OFFER for that MAC arrived; -ETIMEDOUT after timeout_ms.
 */
struct bu_probe {
	int fd;
	int ifindex;
	uint32_t xid;
};
int bu_probe_open(const char *netns, const char *ifname, struct bu_probe *p);
void bu_probe_close(struct bu_probe *p);
int bu_probe_run(struct bu_probe *p, const uint8_t mac[6], unsigned int interval_ms,
		 unsigned int timeout_ms, uint64_t *ret_ns);

/* Parse "1,10,1000" into a sorted list; returns the count or -EINVAL. */
int bu_parse_list(const char *s, long *out, size_t max);
bool bu_in_list(const long *list, size_t n, long v);

#endif
