/*
 * The seccomp profile of every container: in effect Docker's default
 * (moby's profiles/seccomp, default.json), written out below as tables of
 * syscall names and compiled with libseccomp, once per daemon.
 *
 * - Default action ERRNO(EPERM): a syscall not listed fails as Docker's do.
 * - The native architecture and the ones its kernel also runs (x86_64:
 *   i386 and x32; aarch64: arm), as Docker's arch map.
 * - Groups allowed only with a capability (mount with CAP_SYS_ADMIN, reboot
 *   with CAP_SYS_BOOT...), decided by the container's capability mask.
 * - Without CAP_SYS_ADMIN: clone only without namespace flags, clone3
 *   ENOSYS (glibc then falls back to clone, whose flags a filter can see).
 * - personality only for the personalities Docker allows; socket for every
 *   family but AF_ALG and AF_VSOCK.
 *
 * libseccomp only knows syscalls up to its release; a newer syscall would
 * fall to the default EPERM, which programs take as a refusal rather than
 * "not here" (glibc falls back only on ENOSYS, e.g. from fchmodat2).  So,
 * as runc does, a short stub before libseccomp's program answers ENOSYS
 * for numbers above the highest one libseccomp knows for each architecture
 * (and below 1024, where the architectures' private calls start).
 *
 * The result is the raw program as hex, for the "seccomp=" entry of the
 * init's plan (engine/init/plan.h): the init is static and links only
 * libc, so it installs the bytes as they are.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "proc/proc.h"
#include "base/base.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif

/* The socket rules below rely on AF_ALG and AF_VSOCK being two apart (moby checks the same). */
_Static_assert(AF_VSOCK - AF_ALG == 2, "one family between AF_ALG and AF_VSOCK");

#define NS_FLAGS                                                                                   \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	 CLONE_NEWCGROUP)

/* Syscall numbers below this are the architectures' common table; private calls sit above. */
#define STUB_NR_END 1024

/* Allowed whatever the capabilities (moby's first group and, for kernels >= 4.8, ptrace). */
static const char *const allow_always[] = {
	"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
	"capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
	"clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
	"clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
	"copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old",
	"eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
	"faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod",
	"fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
	"fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64",
	"fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
	"futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat",
	"getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid",
	"geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername",
	"getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
	"getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage",
	"getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday",
	"getuid", "getuid32", "getxattr", "getxattrat", "inotify_add_watch", "inotify_init",
	"inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
	"io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
	"io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
	"landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
	"listmount", "listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek",
	"lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier",
	"memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock",
	"mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
	"mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
	"mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
	"munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect",
	"open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
	"pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl",
	"pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
	"pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
	"readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
	"remap_file_pages", "removexattr", "removexattrat", "rename", "renameat", "renameat2",
	"restart_syscall", "riscv_hwprobe", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
	"rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
	"rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
	"sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
	"sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
	"sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
	"semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
	"sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid",
	"setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid",
	"setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
	"setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
	"setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr",
	"setxattrat", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
	"signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat",
	"stat64", "statfs", "statfs64", "statmount", "statx", "symlink", "symlinkat", "sync",
	"sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
	"timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
	"timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
	"timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
	"ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat",
	"utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
	"writev",
	/* Docker allows these from kernel 4.8 on, which every kernel bockerfs runs on passes. */
	"process_vm_readv", "process_vm_writev", "ptrace", NULL
};

/* Allowed only when the native architecture is one of arches. */
static const struct arch_group {
	uint32_t arches[2];
	const char *const *names;
} arch_groups[] = {
	{ { SCMP_ARCH_X86_64, SCMP_ARCH_X32 }, (const char *const[]){ "arch_prctl", NULL } },
	{ { SCMP_ARCH_X86_64, SCMP_ARCH_X32 }, (const char *const[]){ "modify_ldt", NULL } },
	{ { SCMP_ARCH_X86, 0 }, (const char *const[]){ "modify_ldt", NULL } },
	{ { SCMP_ARCH_AARCH64, SCMP_ARCH_ARM },
	  (const char *const[]){ "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
				 "breakpoint", "cacheflush", "set_tls", NULL } },
	{ { SCMP_ARCH_PPC64LE, 0 },
	  (const char *const[]){ "sync_file_range2", "swapcontext", NULL } },
	{ { SCMP_ARCH_S390X, SCMP_ARCH_S390 },
	  (const char *const[]){ "s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr",
				 NULL } },
	{ { SCMP_ARCH_RISCV64, 0 }, (const char *const[]){ "riscv_flush_icache", NULL } },
};

/* Allowed only to a container that has the capability (Docker's "includes": {"caps"}). */
static const struct cap_group {
	int cap;
	const char *const *names;
} cap_groups[] = {
	{ CAP_DAC_READ_SEARCH, (const char *const[]){ "open_by_handle_at", NULL } },
	{ CAP_SYS_ADMIN, (const char *const[]){ "bpf",
						"clone",
						"clone3",
						"fanotify_init",
						"fsconfig",
						"fsmount",
						"fsopen",
						"fspick",
						"lookup_dcookie",
						"lsm_get_self_attr",
						"lsm_list_modules",
						"lsm_set_self_attr",
						"mount",
						"mount_setattr",
						"move_mount",
						"open_tree",
						"perf_event_open",
						"quotactl",
						"quotactl_fd",
						"setdomainname",
						"sethostname",
						"setns",
						"syslog",
						"umount",
						"umount2",
						"unshare",
						NULL } },
	{ CAP_SYS_BOOT, (const char *const[]){ "reboot", NULL } },
	{ CAP_SYS_CHROOT, (const char *const[]){ "chroot", NULL } },
	{ CAP_SYS_MODULE,
	  (const char *const[]){ "delete_module", "init_module", "finit_module", NULL } },
	{ CAP_SYS_PACCT, (const char *const[]){ "acct", NULL } },
	{ CAP_SYS_PTRACE,
	  (const char *const[]){ "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
				 "process_vm_writev", "ptrace", NULL } },
	{ CAP_SYS_RAWIO, (const char *const[]){ "iopl", "ioperm", NULL } },
	{ CAP_SYS_TIME, (const char *const[]){ "settimeofday", "stime", "clock_settime",
					       "clock_settime64", NULL } },
	{ CAP_SYS_TTY_CONFIG, (const char *const[]){ "vhangup", NULL } },
	{ CAP_SYS_NICE, (const char *const[]){ "get_mempolicy", "mbind", "set_mempolicy",
					       "set_mempolicy_home_node", NULL } },
	{ CAP_SYSLOG, (const char *const[]){ "syslog", NULL } },
	{ CAP_BPF, (const char *const[]){ "bpf", NULL } },
	{ CAP_PERFMON, (const char *const[]){ "perf_event_open", NULL } },
};

/* ADDR_NO_RANDOMIZE and friends stay out: PER_LINUX, PER_LINUX32, UNAME26 variants, query. */
static const uint64_t personalities[] = { 0x0, 0x0008, 0x20000, 0x20008, 0xffffffff };

DEFINE_CLEANUP(scmp_filter_ctx, seccomp_release)

static bool
has_cap(uint64_t caps, int cap)
{
	return cap >= 0 && cap < 64 && (caps >> cap & 1);
}

static int
rule_failed(struct bk_err *err, int rc, const char *name)
{
	return bk_err_set(err, -rc, "seccomp: rule for '%s': %s", name, strerror(-rc));
}

/*
 * Names this libseccomp does not know are newer than it: skipped (the stub
 * answers ENOSYS for them).  A name that exists only on architectures not
 * in the filter is skipped by libseccomp itself.
 */
static int
add_names(scmp_filter_ctx ctx, uint32_t action, const char *const *names, struct bk_err *err)
{
	int nr, rc;

	for (; *names != NULL; names++) {
		nr = seccomp_syscall_resolve_name(*names);
		if (nr == __NR_SCMP_ERROR)
			continue;
		rc = seccomp_rule_add(ctx, action, nr, 0);
		if (rc < 0 && rc != -EEXIST)
			return rule_failed(err, rc, *names);
	}
	return 0;
}

static int
add_cmp(scmp_filter_ctx ctx, uint32_t action, const char *name, struct scmp_arg_cmp cmp,
	struct bk_err *err)
{
	int rc = seccomp_rule_add(ctx, action, seccomp_syscall_resolve_name(name), 1, cmp);

	return rc < 0 && rc != -EEXIST ? rule_failed(err, rc, name) : 0;
}

/* personality and socket: allowed for some argument values only. */
static int
add_arg_rules(scmp_filter_ctx ctx, struct bk_err *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < ARRAY_SIZE(personalities); i++)
		ret = add_cmp(ctx, SCMP_ACT_ALLOW, "personality",
			      SCMP_A0(SCMP_CMP_EQ, personalities[i]), err);
	/* AF_ALG (the kernel's crypto API) and AF_VSOCK (the hypervisor) stay out. */
	if (ret == 0)
		ret = add_cmp(ctx, SCMP_ACT_ALLOW, "socket", SCMP_A0(SCMP_CMP_LT, AF_ALG), err);
	if (ret == 0)
		ret = add_cmp(ctx, SCMP_ACT_ALLOW, "socket", SCMP_A0(SCMP_CMP_EQ, AF_ALG + 1), err);
	if (ret == 0)
		ret = add_cmp(ctx, SCMP_ACT_ALLOW, "socket", SCMP_A0(SCMP_CMP_GT, AF_VSOCK), err);
	return ret;
}

/*
 * Without CAP_SYS_ADMIN, clone may not make namespaces (s390 swaps clone's
 * first two arguments), and clone3, whose flags sit in memory a filter
 * cannot read, answers ENOSYS so that libc falls back to clone.
 */
static int
add_clone_rules(scmp_filter_ctx ctx, uint64_t caps, uint32_t native, struct bk_err *err)
{
	bool s390 = native == SCMP_ARCH_S390 || native == SCMP_ARCH_S390X;
	struct scmp_arg_cmp flags = s390 ? SCMP_A1(SCMP_CMP_MASKED_EQ, NS_FLAGS, 0)
					 : SCMP_A0(SCMP_CMP_MASKED_EQ, NS_FLAGS, 0);
	int ret;

	if (has_cap(caps, CAP_SYS_ADMIN))
		return 0; /* the CAP_SYS_ADMIN group allows both outright */
	ret = add_cmp(ctx, SCMP_ACT_ALLOW, "clone", flags, err);
	if (ret == 0)
		ret = add_names(ctx, SCMP_ACT_ERRNO(ENOSYS),
				(const char *const[]){ "clone3", NULL }, err);
	return ret;
}

static int
add_groups(scmp_filter_ctx ctx, uint64_t caps, uint32_t native, struct bk_err *err)
{
	size_t i;
	int ret = add_names(ctx, SCMP_ACT_ALLOW, allow_always, err);

	for (i = 0; ret == 0 && i < ARRAY_SIZE(arch_groups); i++) {
		if (arch_groups[i].arches[0] == native || arch_groups[i].arches[1] == native)
			ret = add_names(ctx, SCMP_ACT_ALLOW, arch_groups[i].names, err);
	}
	for (i = 0; ret == 0 && i < ARRAY_SIZE(cap_groups); i++) {
		if (has_cap(caps, cap_groups[i].cap))
			ret = add_names(ctx, SCMP_ACT_ALLOW, cap_groups[i].names, err);
	}
	if (ret == 0)
		ret = add_arg_rules(ctx, err);
	if (ret == 0)
		ret = add_clone_rules(ctx, caps, native, err);
	return ret;
}

/* The architectures whose syscalls this kernel runs besides the native ones (moby's arch map). */
static size_t
arch_list(uint32_t native, uint32_t out[3])
{
	size_t n = 0;

	out[n++] = native;
	if (native == SCMP_ARCH_X86_64) {
		out[n++] = SCMP_ARCH_X86;
		out[n++] = SCMP_ARCH_X32;
	} else if (native == SCMP_ARCH_AARCH64) {
		out[n++] = SCMP_ARCH_ARM;
	} else if (native == SCMP_ARCH_S390X) {
		out[n++] = SCMP_ARCH_S390;
	}
	return n;
}

static int
make_filter(uint64_t caps, scmp_filter_ctx *out, struct bk_err *err)
{
	cleanup(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	uint32_t arches[3], native = seccomp_arch_native();
	size_t i, n = arch_list(native, arches);
	int rc;

	if (ctx == NULL)
		return bk_err_set(err, ENOMEM, "seccomp: cannot make a filter");
	for (i = 1; i < n; i++) {
		rc = seccomp_arch_add(ctx, arches[i]);
		if (rc < 0 && rc != -EEXIST)
			return bk_err_set(err, -rc, "seccomp: add architecture 0x%x: %s",
					  (unsigned)arches[i], strerror(-rc));
	}
	/* Installed with CAP_SYS_ADMIN: no need for no_new_privs, which Docker leaves off too. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc < 0)
		return bk_err_set(err, -rc, "seccomp: leave no_new_privs alone: %s", strerror(-rc));
	/*
	 * A binary tree of syscall numbers rather than libseccomp's default list:
	 * the kernel's install walks the program once per syscall number to
	 * precompute its allow cache, and that walk is shorter in a tree (install
	 * 0.7 ms instead of 1.7 ms here; each start and each exec pays it once).
	 * Only speed: a libseccomp without the attribute builds the list.
	 */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	rc = add_groups(ctx, caps, native, err);
	if (rc < 0)
		return rc;
	*out = take_ptr(ctx);
	return 0;
}

/* libseccomp 2.5 exports only to an fd: a memfd, read back whole. */
static int
export_bpf(scmp_filter_ctx ctx, char **prog, size_t *len, struct bk_err *err)
{
	cleanup_close int fd = memfd_create("bockerfs-seccomp", MFD_CLOEXEC);
	int rc;

	if (fd < 0)
		return bk_err_sys(err, "seccomp: memfd");
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0)
		return bk_err_set(err, -rc, "seccomp: export the filter: %s", strerror(-rc));
	if (lseek(fd, 0, SEEK_SET) < 0)
		return bk_err_sys(err, "seccomp: rewind the filter");
	if (read_fd_all(fd, (size_t)BPF_MAXINSNS * sizeof(struct sock_filter), prog, len, err) < 0)
		return bk_err_wrap(err, "seccomp: read the filter");
	if (*len == 0 || *len % sizeof(struct sock_filter) != 0) {
		free(*prog);
		*prog = NULL;
		return bk_err_set(err, EPROTO, "seccomp: libseccomp exported %zu bytes", *len);
	}
	return 0;
}

/* The highest syscall number below STUB_NR_END that libseccomp can name on arch, or -1. */
static int
highest_known(uint32_t arch)
{
	char *name;
	int nr;

	for (nr = STUB_NR_END - 1; nr >= 0; nr--) {
		name = seccomp_syscall_resolve_num_arch(arch, nr);
		free(name);
		if (name != NULL)
			return nr;
	}
	return -1;
}

/*
 * The ENOSYS stub, for each architecture A with highest known number M:
 *
 *	ld  arch
 *   A:	jeq A, 0, next		(next: the following architecture's jeq)
 *	ld  nr
 *	jgt M, 0, main
 *	jge STUB_NR_END, main, enosys
 *	...
 *	ja  main		(an architecture of none of the above)
 *   enosys: ret ERRNO(ENOSYS)
 *   main: libseccomp's program, which loads arch and nr again itself.
 *
 * x32 shares x86_64's audit value with bit 30 set in the number, so its
 * numbers are above STUB_NR_END and go to main.  Returns the count written
 * to out (at most STUB_MAX).
 */
#define STUB_MAX (1 + 4 * 3 + 2)

size_t
seccomp_enosys_stub(const uint32_t *arches, const int *highest, size_t narches,
		    struct sock_filter *out)
{
	size_t n = 0, i, blocks = 0, enosys, main_at;

	for (i = 0; i < narches; i++)
		blocks += highest[i] >= 0;
	enosys = 1 + 4 * blocks + 1;
	main_at = enosys + 1;
	out[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						offsetof(struct seccomp_data, arch));
	for (i = 0; i < narches; i++) {
		if (highest[i] < 0)
			continue;
		out[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arches[i], 0, 3);
		n++;
		out[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
							offsetof(struct seccomp_data, nr));
		out[n] = (struct sock_filter)BPF_JUMP(
		    BPF_JMP | BPF_JGT | BPF_K, (uint32_t)highest[i], 0, (uint8_t)(main_at - n - 1));
		n++;
		out[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, STUB_NR_END,
						      (uint8_t)(main_at - n - 1),
						      (uint8_t)(enosys - n - 1));
		n++;
	}
	out[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, (uint32_t)(main_at - n - 1), 0, 0);
	n++;
	out[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
	return n;
}

static char *
hex_append(char *p, const void *bytes, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = bytes;
	size_t i;

	for (i = 0; i < n; i++) {
		*p++ = digits[b[i] >> 4];
		*p++ = digits[b[i] & 15];
	}
	return p;
}

int
seccomp_program(scmp_filter_ctx ctx, char **bytes, size_t *ninsns, struct bk_err *err)
{
	cleanup_free char *prog = NULL;
	struct sock_filter stub[STUB_MAX];
	uint32_t arches[3];
	int highest[3];
	size_t len = 0, n, nstub, i;
	int ret = export_bpf(ctx, &prog, &len, err);

	if (ret < 0)
		return ret;
	n = arch_list(seccomp_arch_native(), arches);
	/* libseccomp's tokens are the audit values the kernel shows, but for x32 (see the stub). */
	for (i = 0; i < n; i++)
		highest[i] = arches[i] == SCMP_ARCH_X32 ? -1 : highest_known(arches[i]);
	nstub = seccomp_enosys_stub(arches, highest, n, stub);
	if (nstub + len / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return bk_err_set(err, E2BIG, "seccomp: the filter has more than %d instructions",
				  BPF_MAXINSNS);
	*bytes = xmalloc(nstub * sizeof(*stub) + len);
	memcpy(*bytes, stub, nstub * sizeof(*stub));
	memcpy(*bytes + nstub * sizeof(*stub), prog, len);
	*ninsns = nstub + len / sizeof(struct sock_filter);
	return 0;
}

int
seccomp_profile_hex(uint64_t caps, char **hex, size_t *ninsns, struct bk_err *err)
{
	cleanup(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	cleanup_free char *prog = NULL;
	int ret = make_filter(caps, &ctx, err);

	if (ret == 0)
		ret = seccomp_program(ctx, &prog, ninsns, err);
	if (ret < 0)
		return ret;
	*hex = xmalloc(2 * *ninsns * sizeof(struct sock_filter) + 1);
	*hex_append(*hex, prog, *ninsns * sizeof(struct sock_filter)) = '\0';
	return 0;
}
