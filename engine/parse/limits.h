/*
 * limits.h: resource limits, parsed and mapped to cgroup files (pure).
 */
#ifndef BK_LIMITS_H
#define BK_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "bocker.h"

#define LIMIT_MAX (-1)
#define LIMIT_PIDS_DEFAULT 2048 /* a new container's pids limit unless the daemon says otherwise */

struct limits {
	int64_t memory;	    /* bytes, LIMIT_MAX: unlimited */
	int64_t cpu_shares; /* 0: the default (1024) */
	int64_t cpus_milli; /* thousandths of a CPU, 0: unlimited */
	int64_t pids;	    /* LIMIT_MAX: unlimited */
};

enum cgroup_mode { CGROUP_V1, CGROUP_V2 };

struct cgroup_setting {
	const char *controller;
	const char *file;
	char value[48];
};

void limits_init(struct limits *l);
int limits_parse_line(const char *line, struct limits *l, long ncpu, struct bk_err *err);
int limits_parse(const char *text, struct limits *l, long ncpu, struct bk_err *err);
int limits_format(const struct limits *l, char *buf, size_t size);
uint64_t limits_shares_to_weight(uint64_t shares);
int limits_to_files(const struct limits *l, enum cgroup_mode mode, struct cgroup_setting *out,
		    size_t max);

#endif
