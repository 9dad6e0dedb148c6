/*
 * abuse: what tests/e2e/85-runtime-abuse.bats runs inside a container to
 * try what a hostile workload would, with raw system calls (busybox has no
 * applet for most).  Built static by the Makefile (build/tests/helpers/abuse:
 * the image has no libc) and copied into the test's busybox image.
 *
 *   abuse PROBE[:ARG]...
 *
 * prints one line per probe: "PROBE OK" (the call succeeded: the test
 * decides whether that is a failure), "PROBE OK N" for read (N bytes), or
 * "PROBE ENAME" (the errno's name).  Every probe is harmless even when it
 * succeeds: invalid arguments where the kernel checks privilege first,
 * opens for writing that never write, children that exit at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/reboot.h>
#include <linux/sched.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif

/* A child a probe made by clone: it leaves at once, whoever it is. */
static long
reap_child(long ret)
{
	if (ret == 0)
		_exit(0);
	if (ret > 0)
		waitpid((pid_t)ret, NULL, 0);
	return ret > 0 ? 0 : ret;
}

static long
p_reboot(const char *arg)
{
	(void)arg;
	/* An unknown command: the kernel checks CAP_SYS_BOOT before it looks at it. */
	return syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, 0xdeadbeef, NULL);
}

static long
p_settimeofday(const char *arg)
{
	struct timeval tv = { 0, 2000000 }; /* invalid: EINVAL if it ever got that far */

	(void)arg;
	return syscall(SYS_settimeofday, &tv, NULL);
}

static long
p_clock_settime(const char *arg)
{
	struct timespec ts = { 0, 2000000000L };

	(void)arg;
	return syscall(SYS_clock_settime, CLOCK_REALTIME, &ts);
}

static long
p_swapon(const char *arg)
{
	(void)arg;
	return syscall(SYS_swapon, "/nonexistent-swap", 0);
}

static long
p_acct(const char *arg)
{
	(void)arg;
	return syscall(SYS_acct, "/nonexistent-acct");
}

static long
p_kexec_load(const char *arg)
{
	(void)arg;
	return syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xffff0000UL);
}

static long
p_kexec_file_load(const char *arg)
{
	(void)arg;
	return syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 0xffff0000UL);
}

static long
p_init_module(const char *arg)
{
	(void)arg;
	return syscall(SYS_init_module, NULL, 0UL, "");
}

static long
p_finit_module(const char *arg)
{
	(void)arg;
	return syscall(SYS_finit_module, -1, "", 0);
}

static long
p_delete_module(const char *arg)
{
	(void)arg;
	return syscall(SYS_delete_module, "bockerfs_no_such_module", O_NONBLOCK);
}

/* The "shocker" exploit's call: a file handle that names the host's root. */
static long
p_open_by_handle_at(const char *arg)
{
	struct {
		unsigned int bytes;
		int type;
		unsigned char f[8];
	} h = { 8, 1, { 2, 0, 0, 0, 0, 0, 0, 0 } };

	(void)arg;
	return syscall(SYS_open_by_handle_at, AT_FDCWD, &h, O_RDONLY);
}

static long
p_keyctl(const char *arg)
{
	(void)arg;
	return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
}

static long
p_add_key(const char *arg)
{
	(void)arg;
	return syscall(SYS_add_key, "user", "bockerfs", "x", 1UL, -3);
}

static long
p_bpf(const char *arg)
{
	(void)arg;
	return syscall(SYS_bpf, 5 /* BPF_PROG_LOAD */, NULL, 0U);
}

static long
p_perf_event_open(const char *arg)
{
	(void)arg;
	return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0UL);
}

static long
p_userfaultfd(const char *arg)
{
	(void)arg;
	return syscall(SYS_userfaultfd, 0);
}

static long
p_io_uring_setup(const char *arg)
{
	(void)arg;
	return syscall(SYS_io_uring_setup, 1U, NULL);
}

static long
p_iopl(const char *arg)
{
	(void)arg;
	return syscall(SYS_iopl, 3);
}

static long
p_syslog(const char *arg)
{
	char buf[64];

	(void)arg;
	return syscall(SYS_syslog, 3 /* SYSLOG_ACTION_READ_ALL */, buf, (int)sizeof(buf));
}

static long
p_ptrace(const char *arg)
{
	return ptrace(PTRACE_ATTACH, (pid_t)atoi(arg), NULL, NULL);
}

static long
p_process_vm_readv(const char *arg)
{
	char buf[8];
	struct iovec local = { buf, sizeof(buf) }, remote = { (void *)0x400000, sizeof(buf) };

	return syscall(SYS_process_vm_readv, atoi(arg), &local, 1UL, &remote, 1UL, 0UL);
}

static long
p_kill0(const char *arg)
{
	return kill((pid_t)atoi(arg), 0);
}

static long
p_mount_tmpfs(const char *arg)
{
	(void)arg;
	return mount("none", "/tmp", "tmpfs", 0, NULL);
}

static long
p_mount_proc(const char *arg)
{
	(void)arg;
	return mount("proc", "/tmp", "proc", 0, NULL);
}

static long
p_mount_bind(const char *arg)
{
	(void)arg;
	return mount("/", "/tmp", NULL, MS_BIND | MS_REC, NULL);
}

static long
p_remount_proc_sys(const char *arg)
{
	(void)arg;
	return mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND, NULL);
}

static long
p_umount_proc(const char *arg)
{
	(void)arg;
	return umount2("/proc/sys", MNT_DETACH);
}

static long
p_fsopen(const char *arg)
{
	(void)arg;
	return syscall(SYS_fsopen, "tmpfs", 0U);
}

static long
p_open_tree(const char *arg)
{
	(void)arg;
	return syscall(SYS_open_tree, AT_FDCWD, "/", 1U /* OPEN_TREE_CLONE */);
}

static long
p_pivot_root(const char *arg)
{
	(void)arg;
	return syscall(SYS_pivot_root, "/tmp", "/tmp");
}

static long
p_unshare(const char *arg)
{
	int flags = strcmp(arg, "user") == 0  ? CLONE_NEWUSER
		    : strcmp(arg, "mnt") == 0 ? CLONE_NEWNS
		    : strcmp(arg, "net") == 0 ? CLONE_NEWNET
		    : strcmp(arg, "pid") == 0 ? CLONE_NEWPID
					      : 0;

	return unshare(flags);
}

static long
p_clone_newuser(const char *arg)
{
	(void)arg;
	return reap_child(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0UL, NULL, NULL, 0UL));
}

static long
p_clone3(const char *arg)
{
	struct clone_args ca = { .exit_signal = SIGCHLD };

	(void)arg;
	return reap_child(syscall(SYS_clone3, &ca, sizeof(ca)));
}

static long
p_fork(const char *arg)
{
	(void)arg;
	return reap_child(fork());
}

static long
p_setns(const char *arg)
{
	(void)arg;
	return syscall(SYS_setns, -1, 0);
}

static long
p_sethostname(const char *arg)
{
	(void)arg;
	return sethostname("abused", 6);
}

static long
p_personality(const char *arg)
{
	return personality((unsigned long)strtoul(arg, NULL, 0));
}

static long
p_socket(const char *arg)
{
	int family = strcmp(arg, "vsock") == 0  ? AF_VSOCK
		     : strcmp(arg, "alg") == 0  ? AF_ALG
		     : strcmp(arg, "unix") == 0 ? AF_UNIX
						: AF_INET;
	long fd = socket(family, family == AF_ALG ? SOCK_SEQPACKET : SOCK_STREAM, 0);

	return fd >= 0 ? 0 : fd;
}

/* A syscall number no libseccomp or kernel of today names. */
static long
p_nr(const char *arg)
{
	return syscall(atol(arg), 0, 0, 0, 0, 0);
}

static long
p_open_w(const char *arg)
{
	long fd = open(arg, O_WRONLY | O_CLOEXEC);

	return fd >= 0 ? 0 : fd;
}

static long n_read;

/* How much of arg a read gives: masked files read as empty. */
static long
p_read(const char *arg)
{
	char buf[4096];
	ssize_t n;
	int fd = open(arg, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n_read = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0 && n_read < (1 << 20))
		n_read += n;
	close(fd);
	return n < 0 ? -1 : 0;
}

static const struct probe {
	const char *name;
	long (*fn)(const char *arg);
} probes[] = {
	{ "reboot", p_reboot },
	{ "settimeofday", p_settimeofday },
	{ "clock_settime", p_clock_settime },
	{ "swapon", p_swapon },
	{ "acct", p_acct },
	{ "kexec_load", p_kexec_load },
	{ "kexec_file_load", p_kexec_file_load },
	{ "init_module", p_init_module },
	{ "finit_module", p_finit_module },
	{ "delete_module", p_delete_module },
	{ "open_by_handle_at", p_open_by_handle_at },
	{ "keyctl", p_keyctl },
	{ "add_key", p_add_key },
	{ "bpf", p_bpf },
	{ "perf_event_open", p_perf_event_open },
	{ "userfaultfd", p_userfaultfd },
	{ "io_uring_setup", p_io_uring_setup },
	{ "iopl", p_iopl },
	{ "syslog", p_syslog },
	{ "ptrace", p_ptrace },
	{ "process_vm_readv", p_process_vm_readv },
	{ "kill0", p_kill0 },
	{ "mount_tmpfs", p_mount_tmpfs },
	{ "mount_proc", p_mount_proc },
	{ "mount_bind", p_mount_bind },
	{ "remount_proc_sys", p_remount_proc_sys },
	{ "umount_proc_sys", p_umount_proc },
	{ "fsopen", p_fsopen },
	{ "open_tree", p_open_tree },
	{ "pivot_root", p_pivot_root },
	{ "unshare", p_unshare },
	{ "clone_newuser", p_clone_newuser },
	{ "clone3", p_clone3 },
	{ "fork", p_fork },
	{ "setns", p_setns },
	{ "sethostname", p_sethostname },
	{ "personality", p_personality },
	{ "socket", p_socket },
	{ "nr", p_nr },
	{ "open_w", p_open_w },
	{ "read", p_read },
};

static void
run(const char *spec)
{
	const char *colon = strchr(spec, ':'), *arg = colon ? colon + 1 : "";
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec), i;
	const char *name;
	long ret;

	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (strlen(probes[i].name) != len || strncmp(probes[i].name, spec, len) != 0)
			continue;
		errno = 0;
		ret = probes[i].fn(arg);
		if (ret == -1) {
			name = strerrorname_np(errno);
			printf("%s %s\n", spec, name ? name : "E?");
		} else if (probes[i].fn == p_read) {
			printf("%s OK %ld\n", spec, n_read);
		} else {
			printf("%s OK\n", spec);
		}
		fflush(stdout);
		return;
	}
	printf("%s UNKNOWN-PROBE\n", spec);
}

int
main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		run(argv[i]);
	return 0;
}
