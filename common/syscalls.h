/*
 * syscalls.h: raw wrappers for the system calls glibc 2.36 does not wrap,
 * shared by the engine, bockerfs-init and the daemon.  Each returns what
 * the kernel returns: -1 with errno set on failure.  libc only: the
 * container init links nothing else.  What glibc 2.36 does wrap is called
 * through libc: pidfd_open, pidfd_send_signal and pidfd_getfd
 * (<sys/pidfd.h>), close_range (<unistd.h>), the new mount API (<sys/mount.h>).
 * bockerfs-init is linked with musl (Makefile), which wraps none of those:
 * under musl they are defined here.
 */
#ifndef BK_SYSCALLS_H
#define BK_SYSCALLS_H

#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

static inline int
sys_openat2(int dfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
	struct open_how how = { .flags = (uint64_t)flags, .mode = mode, .resolve = resolve };

	return (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
}

/*
 * The kernel's struct sigaction, not libc's, for rt_sigaction as a raw call: from a child
 * sharing the daemon's memory, or for the real-time signals musl's sigaction refuses.
 */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

/* struct clone_args is <linux/sched.h>'s, which the caller includes. */
struct clone_args;

static inline long
sys_clone3(struct clone_args *args, size_t size)
{
	return syscall(SYS_clone3, args, size);
}

#ifndef __GLIBC__
#include <linux/mount.h>

static inline int
close_range(unsigned int first, unsigned int last, int flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}

static inline int
open_tree(int dfd, const char *path, unsigned int flags)
{
	return (int)syscall(SYS_open_tree, dfd, path, flags);
}

static inline int
move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned int flags)
{
	return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}

static inline int
fsopen(const char *fstype, unsigned int flags)
{
	return (int)syscall(SYS_fsopen, fstype, flags);
}

static inline int
fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux)
{
	return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}

static inline int
fsmount(int fd, unsigned int flags, unsigned int attr_flags)
{
	return (int)syscall(SYS_fsmount, fd, flags, attr_flags);
}

static inline int
mount_setattr(int dfd, const char *path, unsigned int flags, struct mount_attr *attr, size_t size)
{
	return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, size);
}
#endif

#endif
