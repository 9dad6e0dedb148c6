/*
 * The plan the daemon hands bockerfs-init: NUL-terminated "key=value"
 * strings, parsed here without I/O or allocation.  Strings in struct
 * init_plan point into the caller's buffer, which the parser edits in place
 * (a bind's ':' becomes a NUL).
 */
#ifndef BK_INIT_PLAN_H
#define BK_INIT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

#include "init.h"
#include "plan_keys.h"

#define PLAN_MAX_BYTES  (1 << 20)          /* the whole plan */
#define PLAN_MAX_VEC    4096               /* arg= plus env= entries */
#define PLAN_VEC_SLOTS  (PLAN_MAX_VEC + 2) /* room for both NULL terminators */
#define PLAN_MAX_GROUPS 128
#define PLAN_MAX_BINDS  16
#define PLAN_MAX_MOUNTS 128 /* a container's 64 and its image's VOLUMEs */

struct init_bind {
	const char *name; /* a file in the state directory, one component */
	const char *path; /* absolute, inside the container */
};

/* A mount of the user's: a bind of a host path (a volume's files too) or a tmpfs. */
struct init_mount {
	bool tmpfs;
	bool ro;
	uint64_t size; /* tmpfs: bytes, 0: the kernel's default */
	dev_t dev;     /* bind: what the daemon found at source */
	ino_t ino;
	const char *source; /* bind: absolute host path, no symlink in it */
	const char *target; /* absolute, inside the container */
};

struct init_plan {
	const char *rootfs; /* absolute host path */
	const char *hostname;
	const char *cwd; /* absolute container path, "/" by default */
	uid_t uid;
	gid_t gid;
	size_t ngroups;
	gid_t groups[PLAN_MAX_GROUPS];
	char **argv;      /* NULL-terminated, at least one entry */
	char **envp;      /* NULL-terminated, possibly empty */
	uint64_t caps;    /* bit n = capability n */
	uint64_t log_max; /* bytes, 0 = never rotate */
	bool netns;
	bool cgroupns;
	bool stdin_pipe; /* stdin=pipe: the command reads a pipe the daemon writes */
	bool tty;        /* a pseudo-terminal for the command's stdio; its master to the daemon */
	size_t nbinds;
	struct init_bind binds[PLAN_MAX_BINDS];
	size_t nmounts;
	struct init_mount mounts[PLAN_MAX_MOUNTS];
	/* "seccomp=HEX": the filter, decoded in place and aligned; 0 instructions: none. */
	const struct sock_filter *seccomp;
	unsigned short seccomp_len; /* instructions, 1 to BPF_MAXINSNS */
};

/*
 * Parse len bytes of buf into plan.  vec (nvec slots, normally
 * PLAN_VEC_SLOTS) receives argv and envp.  Returns 0, or -EINVAL (bad or
 * unknown entry, missing key) or -E2BIG (a limit above) with err filled
 * (step "plan"); plan is then unspecified.
 */
int plan_parse(char *buf, size_t len, char **vec, size_t nvec, struct init_plan *plan,
	       struct init_err *err);

/* The plan's bytes and the parsed plan pointing into them. */
struct plan_arena {
	struct init_plan plan;
	char *vec[PLAN_VEC_SLOTS];
	char buf[PLAN_MAX_BYTES + 1]; /* one more byte, to see a plan that is too large */
};

#endif
