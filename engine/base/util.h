/*
 * Small helpers shared by the engine's files: cleanup attributes (crun's
 * cleanup_*), ownership hand-off (bubblewrap's steal_pointer), allocation that
 * aborts on out-of-memory, and fd-relative file I/O that never follows a
 * string path twice.
 */
#ifndef BK_UTIL_H
#define BK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

struct bk_err;

#include "common/cleanup.h"
#include "common/timefmt.h"
#include "common/xalloc.h"

/* write(2) until done, retrying EINTR and short writes.  0 or -1 with errno. */
int write_all(int fd, const void *buf, size_t len);

/*
 * Replace dfd/name with data atomically: write name.tmp, fsync, rename over
 * name, fsync the directory.  A crash leaves either the old or the new file.
 */
int write_file_atomic(int dfd, const char *name, const void *data, size_t len, struct bk_err *err);

/*
 * Like write_file_atomic, without the fsyncs: a killed process leaves the old
 * or the new file, never a torn one (btrfs also flushes a file's data before
 * a rename replaces another), but a power cut may lose the change.  For
 * state that changes often: container records, the files given to containers.
 */
int write_file_replace(int dfd, const char *name, const void *data, size_t len, struct bk_err *err);
/* Read fd to its end (at most max bytes) into a NUL-terminated buffer. Caller frees. */
int read_fd_all(int fd, size_t max, char **out, size_t *len, struct bk_err *err);
/* Read a whole small file (at most max bytes) into a NUL-terminated buffer. Caller frees. */
int read_file_at(int dfd, const char *name, size_t max, char **out, size_t *len,
		 struct bk_err *err);

/* A directory stream over dfd with its own offset (NULL + errno on failure). */
DIR *opendir_at(int dfd);

/* Random lower-case hex id of n hex digits into out (n+1 bytes). */
int random_hex(char *out, size_t n);

/* Parse "20G", "512M", "4096", "1.5G"; powers of 1024.  0 or -EINVAL. */
int parse_size(const char *s, uint64_t *out);

#endif
