/*
 * The plan a container process is started with: what bockerfs-init reads
 * (engine/init/plan.h, keys in engine/init/plan_keys.h), written here alone,
 * for a container's init and for an exec session's helper; and the two
 * things every container process gets the same way, Docker's default
 * capabilities and its environment.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "base/base.h"
#include "init/plan_keys.h"
#include "parse/parse.h"
#include "proc/proc.h"

/* Docker's default set: nothing more (no SYS_ADMIN, SYS_PTRACE, NET_ADMIN, SYS_MODULE...). */
static const int default_caps[] = {
	CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
	CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
	CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
	CAP_KILL,    CAP_AUDIT_WRITE,
};

uint64_t
default_cap_mask(void)
{
	uint64_t mask = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(default_caps); i++)
		mask |= 1ULL << default_caps[i];
	return mask;
}

static void
env_put(char ***envp, size_t *n, const char *kv, bool replace)
{
	size_t klen = strcspn(kv, "="), i;

	for (i = 0; i < *n; i++)
		if (strncmp((*envp)[i], kv, klen) == 0 && (*envp)[i][klen] == '=') {
			if (replace) {
				free((*envp)[i]);
				(*envp)[i] = xstrdup(kv);
			}
			return;
		}
	*envp = xrealloc(*envp, (*n + 2) * sizeof(char *));
	(*envp)[(*n)++] = xstrdup(kv);
	(*envp)[*n] = NULL;
}

char **
process_env(json_t *config, char *const *env, size_t nenv, const char *hostname, const char *home,
	    bool tty, size_t *n_out)
{
	json_t *cfg = json_object_get(config, "config");
	size_t n = 0, k = 0, i;
	char **img = json_strv(json_object_get(cfg, "Env"), &n);
	char **envp = xcalloc(1, sizeof(char *));
	char *kv;

	for (i = 0; i < n; i++) {
		env_put(&envp, &k, img[i], true);
		free(img[i]);
	}
	free(img);
	for (i = 0; i < nenv; i++)
		env_put(&envp, &k, env[i], true);
	env_put(&envp, &k, DEFAULT_PATH, false);
	kv = xasprintf("HOSTNAME=%s", hostname);
	env_put(&envp, &k, kv, false);
	free(kv);
	kv = xasprintf("HOME=%s", home);
	env_put(&envp, &k, kv, false);
	free(kv);
	/* As docker -t: a terminal says what it is. */
	if (tty)
		env_put(&envp, &k, "TERM=xterm", false);
	*n_out = k;
	return envp;
}

struct plan_buf {
	char *buf;
	size_t len, cap;
};

/* One "KEY=VALUE" entry, NUL-terminated. */
static void __attribute__((format(printf, 3, 4)))
put(struct plan_buf *p, const char *key, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (p->len + strlen(key) + 1 + (size_t)n + 1 > p->cap) {
		p->cap = (p->len + strlen(key) + (size_t)n + 2) * 2;
		p->buf = xrealloc(p->buf, p->cap);
	}
	p->len += (size_t)sprintf(p->buf + p->len, "%s=", key);
	va_start(ap, fmt);
	vsnprintf(p->buf + p->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	p->len += (size_t)n + 1; /* the NUL separates entries */
}

int
plan_memfd(const struct plan_req *req, struct bk_err *err)
{
	struct plan_buf p = { 0 };
	cleanup_close int fd = -1;
	char groups[PLAN_GROUPS_MAX * 12] = "";
	size_t i, used = 0;
	int ret;

	put(&p, PLAN_ROOTFS, "%s", req->rootfs_path);
	put(&p, PLAN_HOSTNAME, "%s", req->hostname);
	put(&p, PLAN_CWD, "%s", req->cwd);
	put(&p, PLAN_UID, "%u", (unsigned)req->uid);
	put(&p, PLAN_GID, "%u", (unsigned)req->gid);
	for (i = 0; i < req->ngroups && i < PLAN_GROUPS_MAX; i++)
		used += (size_t)snprintf(groups + used, sizeof(groups) - used, "%s%u", i ? "," : "",
					 (unsigned)req->groups[i]);
	put(&p, PLAN_GROUPS, "%s", groups);
	for (i = 0; req->argv[i]; i++)
		put(&p, PLAN_ARG, "%s", req->argv[i]);
	for (i = 0; req->envp[i]; i++)
		put(&p, PLAN_ENV, "%s", req->envp[i]);
	put(&p, PLAN_CAPS, "0x%llx", (unsigned long long)req->caps);
	put(&p, PLAN_LOG_MAX, "%llu", (unsigned long long)req->log_max);
	put(&p, PLAN_NETNS, "%d", req->netns ? 1 : 0);
	put(&p, PLAN_CGROUPNS, "%d", req->cgroupns ? 1 : 0);
	/* The runtime's files, written by the daemon outside the container's filesystem. */
	if (req->runtime_files) {
		put(&p, PLAN_BIND, "%s", "hosts:/etc/hosts");
		put(&p, PLAN_BIND, "%s", "hostname:/etc/hostname");
		put(&p, PLAN_BIND, "%s", "resolv.conf:/etc/resolv.conf");
	}
	for (i = 0; i < req->nmounts; i++) {
		const struct plan_mount *m = &req->mounts[i];

		if (m->tmpfs)
			put(&p, PLAN_MOUNT, "tmpfs %llu", (unsigned long long)m->size);
		else
			put(&p, PLAN_MOUNT, "bind%s %llu:%llu", m->ro ? " ro" : "",
			    (unsigned long long)m->dev, (unsigned long long)m->ino);
		if (!m->tmpfs)
			put(&p, PLAN_MOUNT_SOURCE, "%s", m->source);
		put(&p, PLAN_MOUNT_TARGET, "%s", m->target);
	}
	put(&p, PLAN_STDIN, "%s", req->stdin_pipe && !req->tty ? "pipe" : "null");
	put(&p, PLAN_TTY, "%d", req->tty ? 1 : 0);
	if (req->seccomp)
		put(&p, PLAN_SECCOMP, "%s", req->seccomp);

	fd = memfd_create("bockerfs-plan", MFD_CLOEXEC);
	if (fd < 0) {
		free(p.buf);
		return bk_err_sys(err, "memfd for the plan");
	}
	ret = write_all(fd, p.buf, p.len);
	free(p.buf);
	if (ret < 0)
		return bk_err_sys(err, "write the plan");
	return take_fd(fd);
}
