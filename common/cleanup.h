/*
 * cleanup.h: scope-bound release of memory, fds, FILEs and directory
 * streams (crun's cleanup_*), and hand-off out of such a variable
 * (bubblewrap's steal_pointer).  Header-only, libc only: shared by the
 * engine, bockerfs-init and the daemon.
 *
 *	cleanup_close int fd = open(...);   closed on every return
 *	return take_fd(fd);                  ...unless handed out
 */
#ifndef BK_COMMON_CLEANUP_H
#define BK_COMMON_CLEANUP_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define cleanup(fn)    __attribute__((cleanup(fn)))
#define cleanup_free   cleanup(freep)
#define cleanup_close  cleanup(closep)
#define cleanup_fclose cleanup(fclosep)
#define cleanup_dir    cleanup(closedirp)

static inline void
freep(void *p)
{
	free(*(void **)p);
}

static inline void
closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void
fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void
closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* A cleanup function fnp for a type whose release function is fn (NULL-safe). */
#define DEFINE_CLEANUP(type, fn)          \
	static inline void fn##p(type *p) \
	{                                 \
		if (*p)                   \
			fn(*p);           \
	}

/* Hand ownership out of a cleanup-managed variable. */
#define take_ptr(p)                     \
	({                              \
		__typeof__(p) p_ = (p); \
		(p) = NULL;             \
		p_;                     \
	})
#define take_fd(fd)             \
	({                      \
		int fd_ = (fd); \
		(fd) = -1;      \
		fd_;            \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
