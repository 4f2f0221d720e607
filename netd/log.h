/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NETD_LOG_H
#define NETD_LOG_H

enum log_level {
	LOG_ERR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

extern enum log_level log_max_level;

int log_level_from_string(const char *s);	/* enum value or -EINVAL */

/* One line on stderr: "LEVEL: [NETWORK: ]message".  Returns -err when err < 0
 * so callers can `return log_error(r, ...)`. */
void log_msg(enum log_level level, const char *net, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(net, ...) log_msg(LOG_ERR, net, __VA_ARGS__)
#define log_warn(net, ...) log_msg(LOG_WARN, net, __VA_ARGS__)
#define log_info(net, ...) log_msg(LOG_INFO, net, __VA_ARGS__)
#define log_debug(net, ...) log_msg(LOG_DEBUG, net, __VA_ARGS__)

#endif
