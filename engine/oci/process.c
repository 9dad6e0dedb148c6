/*
 * A process as config.json (or exec's process JSON) describes it, made in
 * the order runc makes it: the executable found (in the container's PATH)
 * while a missing one can still fail create, rlimits while raising them is
 * allowed, the cwd, then the identity: the bounding set, groups, gid, uid
 * (capabilities kept across the change), the capability sets, ambient ones;
 * seccomp before the identity when no_new_privs is off (installing a filter
 * then needs CAP_SYS_ADMIN), else last, just before exec.
 *
 * Runs after pivot_root or setns into the container's mount namespace:
 * every path here is already the container's.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/seccomp.h>

#include "oci/oci.h"
#include "base/base.h"
#include "base/inroot.h"
#include "proc/proc.h"

static const char *
env_get(char *const *env, const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

static bool
executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

static int
find_exe(const struct oci_process *p, char **exe, struct bk_err *err)
{
	const char *name = p->args[0], *path, *start;

	if (strchr(name, '/')) {
		if (!executable(name))
			return bk_err_set(err, ENOENT, "exec: %s: no such executable file", name);
		*exe = xstrdup(name);
		return 0;
	}
	path = env_get(p->env, "PATH");
	for (start = path ? path : PLAN_DEFAULT_PATH;;) {
		const char *end = strchrnul(start, ':');
		char *cand =
		    xasprintf("%.*s%s%s", (int)(end - start), start, end > start ? "/" : "", name);

		if (executable(cand)) {
			*exe = cand;
			return 0;
		}
		free(cand);
		if (*end == '\0')
			break;
		start = end + 1;
	}
	return bk_err_set(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
}

/*
 * The environment the workload gets: the config's, with HOME from the
 * container's /etc/passwd when the config has none (as runc: "/" for a uid
 * it does not list).  Read by userdb.c, under the root (we are in it).
 */
static char **
with_home(const struct oci_process *p)
{
	struct bk_err err = BK_ERR_INIT;
	gid_t gid, groups[PLAN_GROUPS_MAX];
	size_t n = 0, ngroups = PLAN_GROUPS_MAX;
	char user[16], home[PATH_MAX] = "/";
	char **env;
	uid_t uid;
	int root;

	while (p->env && p->env[n])
		n++;
	env = xmalloc((n + 2) * sizeof(*env));
	memcpy(env, p->env, n * sizeof(*env));
	env[n] = NULL;
	if (env_get(p->env, "HOME"))
		return env;
	snprintf(user, sizeof(user), "%u", (unsigned)p->uid);
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root >= 0 &&
	    userdb_resolve(root, user, &uid, &gid, groups, &ngroups, home, sizeof(home), &err) < 0)
		snprintf(home, sizeof(home), "/");
	if (root >= 0)
		close(root);
	env[n] = xasprintf("HOME=%s", home);
	env[n + 1] = NULL;
	return env;
}

int
process_prepare(const struct oci_process *p, char **exe, char ***envp, struct bk_err *err)
{
	size_t i;

	for (i = 0; i < p->n_rlimits; i++) {
		struct rlimit rl = { .rlim_cur = p->rlimits[i].soft,
				     .rlim_max = p->rlimits[i].hard };

		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			return bk_err_sys(err, "process.rlimits[%zu]", i);
	}
	if (chdir(p->cwd) < 0) {
		/* runc makes a missing cwd; one that cannot be entered is an error. */
		if (errno != ENOENT)
			return bk_err_sys(err, "process.cwd %s", p->cwd);
		{
			cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
			int fd = root < 0 ? -errno
					  : inroot_mkdirs(root, p->cwd, 0755, (uid_t)-1, (gid_t)-1,
							  INROOT_MOUNTS);

			if (fd < 0 || chdir(p->cwd) < 0)
				return bk_err_set(err, fd < 0 ? -fd : errno, "process.cwd %s: %s",
						  p->cwd, strerror(fd < 0 ? -fd : errno));
			close(fd);
		}
	}
	/*
	 * The cwd must be in the container: a path through an fd that reaches the
	 * host (CVE-2024-21626: "/proc/self/fd/N") leaves it outside our root,
	 * which getcwd reports as unreachable.
	 */
	{
		char buf[PATH_MAX];

		if (getcwd(buf, sizeof(buf)) == NULL || buf[0] != '/')
			return bk_err_set(err, EPERM, "process.cwd %s: outside the container",
					  p->cwd);
	}
	if (find_exe(p, exe, err) < 0)
		return -err->code;
	*envp = with_home(p);
	return 0;
}

static int
install_filter(const struct sock_fprog *filter, struct bk_err *err)
{
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, filter) < 0)
		return bk_err_sys(err, "linux.seccomp: install the filter");
	return 0;
}

static int
last_cap(void)
{
	char buf[16] = "";
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 ? atoi(buf) : CAP_LAST_CAP;
}

int
process_credentials(const struct oci_process *p, const struct sock_fprog *filter,
		    struct bk_err *err)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };
	int last = last_cap(), c;

	if (filter && !p->no_new_privileges && install_filter(filter, err) < 0)
		return -err->code;
	for (c = 0; c <= last && c <= OCI_CAP_LAST_MAX; c++)
		if (!(p->caps.bounding >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return bk_err_sys(err, "process.capabilities.bounding: drop %d", c);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return bk_err_sys(err, "keep capabilities");
	if (setgroups(p->n_additional_gids, p->additional_gids) < 0 && errno != EPERM)
		return bk_err_sys(err, "process.user.additionalGids");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return bk_err_sys(err, "process.user.gid %u", (unsigned)p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return bk_err_sys(err, "process.user.uid %u", (unsigned)p->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return bk_err_sys(err, "keep capabilities");
	data[0].effective = (uint32_t)p->caps.effective;
	data[1].effective = (uint32_t)(p->caps.effective >> 32);
	data[0].permitted = (uint32_t)p->caps.permitted;
	data[1].permitted = (uint32_t)(p->caps.permitted >> 32);
	data[0].inheritable = (uint32_t)p->caps.inheritable;
	data[1].inheritable = (uint32_t)(p->caps.inheritable >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return bk_err_sys(err, "process.capabilities");
	/*
	 * A capability can be ambient only while permitted and inheritable: others
	 * asked (runc's own `runc spec` asks them without inheritable) are left
	 * out, as runc leaves them.
	 */
	for (c = 0; c <= last && c <= OCI_CAP_LAST_MAX; c++)
		if ((p->caps.ambient & p->caps.permitted & p->caps.inheritable) >> c & 1 &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return bk_err_sys(err, "process.capabilities.ambient: raise %d", c);
	if (p->has_umask)
		umask(p->umask);
	return 0;
}

int
process_seccomp_late(const struct oci_process *p, const struct sock_fprog *filter,
		     struct bk_err *err)
{
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return bk_err_sys(err, "process.noNewPrivileges");
	if (filter && p->no_new_privileges)
		return install_filter(filter, err);
	return 0;
}

void
process_close_except(int preserve, const int *keep, size_t n)
{
	unsigned first = 3 + (unsigned)(preserve > 0 ? preserve : 0);
	int sorted[16];
	size_t i, j, m = 0;

	/* The fds to keep, ascending, above the preserved ones (at most 16: ours). */
	for (i = 0; i < n && m < ARRAY_SIZE(sorted); i++) {
		if (keep[i] < (int)first)
			continue;
		for (j = m; j > 0 && sorted[j - 1] > keep[i]; j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = keep[i];
		m++;
	}
	for (i = 0; i < m; i++) {
		if ((unsigned)sorted[i] > first)
			syscall(SYS_close_range, first, (unsigned)sorted[i] - 1, 0);
		first = (unsigned)sorted[i] + 1;
	}
	syscall(SYS_close_range, first, ~0U, 0);
}

/* Send the master to the caller's console socket with SCM_RIGHTS, as runc sends it. */
static int
send_master(int sock, int master, const char *name, struct bk_err *err)
{
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		return bk_err_sys(err, "--console-socket: send the terminal");
	return 0;
}

int
process_terminal(int console_fd, const struct oci_process *p, struct bk_err *err)
{
	cleanup_close int master = -1, slave = -1;
	char name[64];
	int unlock = 0, n;

	if (console_fd < 0)
		return bk_err_set(err, EINVAL,
				  "process.terminal is true but no --console-socket was given");
	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return bk_err_sys(err, "process.terminal: /dev/ptmx");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
		return bk_err_sys(err, "process.terminal: unlock");
	/* The slave through the master (TIOCGPTPEER): never a /dev/pts/N path someone swapped. */
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return bk_err_sys(err, "process.terminal: the slave");
	snprintf(name, sizeof(name), "/dev/pts/%d", n);
	if (p->console_height && p->console_width) {
		struct winsize ws = { .ws_row = (unsigned short)p->console_height,
				      .ws_col = (unsigned short)p->console_width };

		(void)ioctl(slave, TIOCSWINSZ, &ws);
	}
	if (send_master(console_fd, master, name, err) < 0)
		return -err->code;
	if (setsid() < 0 && errno != EPERM)
		return bk_err_sys(err, "process.terminal: setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return bk_err_sys(err, "process.terminal: make it the controlling terminal");
	if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		return bk_err_sys(err, "process.terminal: stdio");
	return 0;
}
