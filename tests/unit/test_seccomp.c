/*
 * Unit tests for engine/proc/seccomp.c: the containers' seccomp profile.
 *
 * The ENOSYS stub is run through a small interpreter of the instructions it
 * uses, for each architecture and the edges of its ranges.  The whole
 * profile is then installed, as the init would install it, in a forked
 * child (with no_new_privs, so the test needs no privilege) that tries the
 * calls Docker's profile refuses, limits by argument, or lets through.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bocker.h"
#include "proc/proc.h"
#include "tap.h"

#define RUN_MAIN 0xffffffffu /* the interpreter fell through to the program after the stub */

/* The instructions the stub uses: ld [k], jeq/jgt/jge #k, ja, ret #k. */
static uint32_t
run_stub(const struct sock_filter *f, size_t n, uint32_t arch, uint32_t nr)
{
	uint32_t a = 0, pc = 0;

	while (pc < n) {
		const struct sock_filter *i = &f[pc++];

		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			a = i->k == offsetof(struct seccomp_data, arch) ? arch : nr;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == i->k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JGT | BPF_K:
			pc += a > i->k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= i->k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JA:
			pc += i->k;
			break;
		case BPF_RET | BPF_K:
			return i->k;
		default:
			printf("# unexpected opcode 0x%x at %u\n", i->code, pc - 1);
			return 0;
		}
	}
	return pc == n ? RUN_MAIN : 0;
}

#define ENOSYS_RET (SECCOMP_RET_ERRNO | ENOSYS)

static int
test_stub(void)
{
	const uint32_t arches[] = { AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, 0x4000003e };
	const int highest[] = { 456, 450, -1 }; /* the third is skipped */
	struct sock_filter f[1 + 4 * 3 + 2];
	size_t n = seccomp_enosys_stub(arches, highest, 3, f);

	CHECK_INT(n, 1 + 4 * 2 + 2);
	/* x86_64: known numbers and x32's (bit 30) go on; 457 to 1023 get ENOSYS. */
	CHECK(run_stub(f, n, AUDIT_ARCH_X86_64, 0) == RUN_MAIN);
	CHECK(run_stub(f, n, AUDIT_ARCH_X86_64, 456) == RUN_MAIN);
	CHECK(run_stub(f, n, AUDIT_ARCH_X86_64, 457) == ENOSYS_RET);
	CHECK(run_stub(f, n, AUDIT_ARCH_X86_64, 1023) == ENOSYS_RET);
	CHECK(run_stub(f, n, AUDIT_ARCH_X86_64, 1024) == RUN_MAIN);
	CHECK(run_stub(f, n, AUDIT_ARCH_X86_64, 0x40000000 | 500) == RUN_MAIN);
	CHECK(run_stub(f, n, AUDIT_ARCH_X86_64, 0xffffffff) == RUN_MAIN);
	/* i386 with its own bound. */
	CHECK(run_stub(f, n, AUDIT_ARCH_I386, 450) == RUN_MAIN);
	CHECK(run_stub(f, n, AUDIT_ARCH_I386, 451) == ENOSYS_RET);
	CHECK(run_stub(f, n, AUDIT_ARCH_I386, 1024) == RUN_MAIN);
	/* Any other architecture: the program decides (it refuses foreign ones). */
	CHECK(run_stub(f, n, AUDIT_ARCH_AARCH64, 1000) == RUN_MAIN);
	CHECK(run_stub(f, n, 0x4000003e, 1000) == RUN_MAIN);

	/* One architecture, and none. */
	n = seccomp_enosys_stub(arches, highest, 1, f);
	CHECK_INT(n, 1 + 4 + 2);
	CHECK(run_stub(f, n, AUDIT_ARCH_X86_64, 500) == ENOSYS_RET);
	CHECK(run_stub(f, n, AUDIT_ARCH_I386, 500) == RUN_MAIN);
	n = seccomp_enosys_stub(arches + 2, highest + 2, 1, f);
	CHECK_INT(n, 3);
	CHECK(run_stub(f, n, AUDIT_ARCH_X86_64, 500) == RUN_MAIN);
	return 0;
}

static int
hex_value(char c)
{
	return c >= 'a' ? c - 'a' + 10 : c - '0';
}

/* The profile for caps, decoded into *prog (caller frees); its instruction count. */
static size_t
profile(uint64_t caps, struct sock_filter **prog)
{
	struct bk_err err = BK_ERR_INIT;
	char *hex = NULL;
	size_t n = 0, len, i;
	unsigned char *b;

	if (seccomp_profile_hex(caps, &hex, &n, &err) < 0) {
		printf("# seccomp_profile_hex: %s\n", err.msg);
		return 0;
	}
	len = strlen(hex);
	if (len != n * sizeof(struct sock_filter) * 2 || strspn(hex, "0123456789abcdef") != len) {
		printf("# %zu hex digits for %zu instructions, or not lowercase hex\n", len, n);
		free(hex);
		return 0;
	}
	*prog = calloc(n, sizeof(**prog));
	b = (unsigned char *)*prog;
	for (i = 0; i < len / 2; i++)
		b[i] = (unsigned char)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
	free(hex);
	return n;
}

struct expect {
	const char *what;
	long ret;   /* what the call returns, or -1 with err */
	int err;    /* the errno wanted when ret is -1 */
	bool exact; /* false: only "not refused by the filter" (anything but EPERM/ENOSYS) */
};

static int
check(const struct expect *x, long got)
{
	int e = errno;

	if (x->exact ? (got != x->ret || (got == -1 && e != x->err))
		     : (got == -1 && (e == EPERM || e == ENOSYS))) {
		printf("# %s: got %ld errno %d (%s), want %ld errno %d\n", x->what, got,
		       got == -1 ? e : 0, got == -1 ? strerror(e) : "-", x->ret, x->err);
		return 1;
	}
	return 0;
}

#define EXPECT(what, call, ret, e) (bad += check(&(struct expect){ what, ret, e, true }, (call)))
#define ALLOWED(what, call)        (bad += check(&(struct expect){ what, 0, 0, false }, (call)))

/* In the filtered child: the default container (Docker's 14 capabilities). */
static int
probe_default(void)
{
	int bad = 0;
	pid_t pid;

	ALLOWED("getpid", getpid());
	EXPECT("syscall 1000 (unknown)", syscall(1000), -1, ENOSYS);
	EXPECT("clone3", syscall(SYS_clone3, NULL, 0), -1, ENOSYS);
	EXPECT("clone(CLONE_NEWUSER)", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0), -1,
	       EPERM);
	EXPECT("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER), -1, EPERM);
	EXPECT("unshare(0)", unshare(0), -1, EPERM);
	EXPECT("keyctl", syscall(SYS_keyctl, 0, -3, 0), -1, EPERM);
	EXPECT("add_key", syscall(SYS_add_key, "user", "x", "y", 1, -3), -1, EPERM);
	EXPECT("mount", mount("none", "/", "tmpfs", 0, NULL), -1, EPERM);
	EXPECT("umount2", umount2("/", MNT_DETACH), -1, EPERM);
	EXPECT("reboot", syscall(SYS_reboot, 0, 0, 0, NULL), -1, EPERM);
	EXPECT("swapon", syscall(SYS_swapon, "/nonexistent", 0), -1, EPERM);
	EXPECT("acct", syscall(SYS_acct, "/nonexistent"), -1, EPERM);
	EXPECT("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0xffffffffUL), -1, EPERM);
	EXPECT("finit_module", syscall(SYS_finit_module, -1, "", 0), -1, EPERM);
	EXPECT("delete_module", syscall(SYS_delete_module, "bockerfs_none", O_NONBLOCK), -1, EPERM);
	EXPECT("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, NULL, 0), -1, EPERM);
	EXPECT("bpf", syscall(SYS_bpf, -1, NULL, 0), -1, EPERM);
	EXPECT("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), -1, EPERM);
	EXPECT("settimeofday", syscall(SYS_settimeofday, NULL, NULL), -1, EPERM);
	EXPECT("clock_settime", syscall(SYS_clock_settime, -1, NULL), -1, EPERM);
	EXPECT("setns", syscall(SYS_setns, -1, 0), -1, EPERM);
	EXPECT("personality(ADDR_NO_RANDOMIZE)", personality(ADDR_NO_RANDOMIZE), -1, EPERM);
	ALLOWED("personality(query)", personality(0xffffffff));
	EXPECT("socket(AF_VSOCK)", socket(40, SOCK_STREAM, 0), -1, EPERM);
	EXPECT("socket(AF_ALG)", socket(38, SOCK_SEQPACKET, 0), -1, EPERM);
	ALLOWED("socket(AF_UNIX)", socket(AF_UNIX, SOCK_STREAM, 0));
	/* 39, between the two refused families, is the kernel's to refuse or not. */
	ALLOWED("socket(39)", socket(39, SOCK_STREAM, 0));
	/* CAP_SYS_CHROOT is in the default set: the kernel answers (the path is missing). */
	EXPECT("chroot", syscall(SYS_chroot, "/nonexistent"), -1, ENOENT);
	/* glibc's fork is clone without namespace flags. */
	pid = fork();
	if (pid == 0)
		_exit(0);
	ALLOWED("fork", pid);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return bad;
}

/* In the filtered child: a container with CAP_SYS_ADMIN gets clone3 and unshare. */
static int
probe_sys_admin(void)
{
	int bad = 0;

	EXPECT("clone3 with CAP_SYS_ADMIN", syscall(SYS_clone3, NULL, 0), -1, EINVAL);
	ALLOWED("unshare(0) with CAP_SYS_ADMIN", unshare(0));
	EXPECT("keyctl with CAP_SYS_ADMIN", syscall(SYS_keyctl, 0, -3, 0), -1, EPERM);
	return bad;
}

/* Fork, install prog (as init does, plus no_new_privs), run probe, report how many failed. */
static int
run_filtered(const struct sock_filter *prog, size_t n, int (*probe)(void))
{
	struct sock_fprog fprog = { (unsigned short)n, (struct sock_filter *)prog };
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0) {
			printf("# install: %s\n", strerror(errno));
			fflush(stdout);
			_exit(100);
		}
		status = probe();
		fflush(stdout);
		/* _exit: no atexit handler (the sanitizers' included) runs under the filter. */
		_exit(status > 99 ? 99 : status);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) {
		printf("# child status 0x%x\n", status);
		return -1;
	}
	return WEXITSTATUS(status);
}

static int
test_profile_default(void)
{
	struct sock_filter *prog = NULL;
	size_t n = profile(0xa80425fbULL, &prog); /* Docker's default 14 capabilities */
	int bad;

	CHECK(n > 100 && n <= BPF_MAXINSNS);
	bad = run_filtered(prog, n, probe_default);
	free(prog);
	CHECK_INT(bad, 0);
	return 0;
}

static int
test_profile_sys_admin(void)
{
	struct sock_filter *prog = NULL;
	size_t n = profile(0xa80425fbULL | 1ULL << CAP_SYS_ADMIN, &prog);
	int bad;

	CHECK(n > 100);
	bad = run_filtered(prog, n, probe_sys_admin);
	free(prog);
	CHECK_INT(bad, 0);
	return 0;
}

/* The daemon builds the profile once; building it twice gives the same bytes. */
static int
test_profile_stable(void)
{
	struct bk_err err = BK_ERR_INIT;
	char *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	int same;

	CHECK_INT(seccomp_profile_hex(0xa80425fbULL, &a, &na, &err), 0);
	CHECK_INT(seccomp_profile_hex(0xa80425fbULL, &b, &nb, &err), 0);
	same = na == nb && strcmp(a, b) == 0;
	free(a);
	free(b);
	CHECK(same);
	return 0;
}

int
main(void)
{
	RUN(test_stub);
	RUN(test_profile_default);
	RUN(test_profile_sys_admin);
	RUN(test_profile_stable);
	return TAP_DONE();
}
