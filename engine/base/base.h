/*
 * base.h: the engine's ground floor, which every folder above may use and
 * which uses nothing of the engine but bocker.h's error type: file I/O
 * helpers and sizes (util.c), sha256 digests (digest.c), failpoints
 * (failpoint.c), the bounded block queue between two threads (blockq.c),
 * hardlinked inodes met in tree walks (linkmap.c),
 * the kernel features the engine needs (kernel.c), and the error functions
 * of bocker.h (err.c).  inroot.h, the one way to
 * touch paths inside untrusted roots, has a header of its own: bockerfs-init
 * links inroot.c alone.
 */
#ifndef BK_BASE_H
#define BK_BASE_H

#include "common/compiler.h"

/* ---- util ------------------------------------------------------------------------------------ */
/*
 * Small helpers shared by the engine's files: cleanup attributes (crun's
 * cleanup_*), ownership hand-off (bubblewrap's steal_pointer), allocation that
 * aborts on out-of-memory, and fd-relative file I/O that never follows a
 * string path twice.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "bocker.h"

#include "common/cleanup.h"
#include "common/timefmt.h"
#include "common/xalloc.h"

/* write(2) until done, retrying EINTR and short writes.  0 or -1 with errno. */
must_check int write_all(int fd, const void *buf, size_t len);

/*
 * Replace dfd/name with data atomically: write name.tmp, fsync, rename over
 * name, fsync the directory.  A crash leaves either the old or the new file.
 */
must_check int write_file_atomic(int dfd, const char *name, const void *data, size_t len,
				 struct bk_err *err);

/*
 * Like write_file_atomic, without the fsyncs: a killed process leaves the old
 * or the new file, never a torn one (btrfs also flushes a file's data before
 * a rename replaces another), but a power cut may lose the change.  For
 * state that changes often: container records, the files given to containers.
 */
must_check int write_file_replace(int dfd, const char *name, const void *data, size_t len,
				  struct bk_err *err);
/* Read fd to its end (at most max bytes) into a NUL-terminated buffer. Caller frees. */
must_check int read_fd_all(int fd, size_t max, char **out, size_t *len, struct bk_err *err);
/* Read a whole small file (at most max bytes) into a NUL-terminated buffer. Caller frees. */
must_check int read_file_at(int dfd, const char *name, size_t max, char **out, size_t *len,
			    struct bk_err *err);
/*
 * The same for a file another root program wrote, trusted as far as root is:
 * opened without blocking or following a last symlink, and refused (EPERM)
 * unless it is a regular file of root's with none of the mode bits forbid.
 */
must_check int read_file_root(int dfd, const char *name, mode_t forbid, size_t max, char **out,
			      size_t *len, struct bk_err *err);

/* Free a NULL-terminated vector of strings, and its strings (NULL: nothing). */
void strv_free(char **v);

/* A directory stream over dfd with its own offset (NULL + errno on failure). */
DIR *opendir_at(int dfd);

/* Random lower-case hex id of n hex digits into out (n+1 bytes). */
int random_hex(char *out, size_t n);
/* Is word a whole item of list, whose items are separated by any of seps ("cpu" is not in
 * "cpuset,cpu" twice: only once)? */
bool word_in(const char *list, const char *word, const char *seps);
/* A new object id: prefix ("img_", "ps_") and 12 random hex digits; 0 or -errno. */
must_check int new_id(const char *prefix, char out[BK_ID_SIZE]);

/* Parse "20G", "512M", "4096", "1.5G"; powers of 1024.  0 or -EINVAL. */
must_check int parse_size(const char *s, uint64_t *out);

/* ---- digest ---------------------------------------------------------------------------------- */
/*
 * digest.h: streaming sha256 over OpenSSL's libcrypto (EVP), for blob,
 * manifest and layer digests in the "sha256:<64 hex>" form that OCI uses.
 */
#include <stddef.h>

#define DIGEST_STR_SIZE 72 /* "sha256:" + 64 hex + NUL, rounded up */

struct digest {
	void *ctx; /* EVP_MD_CTX, owned */
};

/* Start a sha256; aborts on out-of-memory like xmalloc. */
void digest_init(struct digest *d);
void digest_update(struct digest *d, const void *data, size_t len);
/* Finish into out ("sha256:..."); d is reset and may be reused after digest_init. */
void digest_final(struct digest *d, char out[DIGEST_STR_SIZE]);
/* The 64 hex digits of "sha256:<hex>" (borrowed). */
static inline const char *
digest_hex(const char *digest)
{
	return digest + sizeof("sha256:") - 1;
}

/* Release d without a result (on error paths); safe on a finished or zeroed digest. */
void digest_free(struct digest *d);
/* One-shot sha256 of a buffer. */
void digest_buf(const void *data, size_t len, char out[DIGEST_STR_SIZE]);

/* ---- kernel ---------------------------------------------------------------------------------- */

#define KERNEL_MIN "5.6"
/* Every system call the engine cannot do without exists: 0, or ENOSYS naming the first missing. */
must_check int kernel_check(struct bk_err *err);

/* ---- failpoint ------------------------------------------------------------------------------- */
/*
 * failpoint.h: named points where a test can make the daemon die, fail or
 * stall, to prove that every step of a long operation is crash safe.
 */
#include "bocker.h"

/*
 * At the point NAME, do what BOCKERFS_FAILPOINTS asks (see failpoint.c):
 * nothing (0, the normal case, one branch), SIGKILL the daemon, sleep, or
 * fail with -errno and a message in err.
 */
int failpoint(const char *name, struct bk_err *err);

/* ---- blockq ---------------------------------------------------------------------------------- */
/*
 * blockq: a bounded queue of byte blocks between one producer thread and
 * one consumer thread, with an end (the producer's status) and a stop (the
 * consumer gives up).  Used to run a layer's decompression on its own
 * thread, ahead of the tar parser and the file writes (layer.c).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define BLOCKQ_SLOTS 16

struct blockq_block {
	char *data;
	size_t len;
};

struct blockq {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct blockq_block slots[BLOCKQ_SLOTS];
	size_t head, count;
	bool ended;   /* the producer is done: see status */
	int status;   /* 0, or the producer's negative errno */
	bool stopped; /* the consumer wants no more */
};

void blockq_init(struct blockq *q);
/* Free what is left; both threads are done with q. */
void blockq_destroy(struct blockq *q);
/* Producer: copy len bytes in, waiting for room; false if the consumer stopped. */
bool blockq_push(struct blockq *q, const void *data, size_t len);
/* Producer: no more blocks; status 0 or a negative errno. */
void blockq_end(struct blockq *q, int status);
/*
 * Consumer: the next block (the caller frees out->data): 1; 0 at the end,
 * with *status the producer's.
 */
int blockq_pop(struct blockq *q, struct blockq_block *out, int *status);
/* Consumer: give up; a producer waiting for room returns false. */
void blockq_stop(struct blockq *q);

/* ---- cancellation ---------------------------------------------------------------------------- */

#include <stdatomic.h>

/* Whether a long operation's cancel flag (may be NULL) is set: it rolls back with EINTR. */
static inline bool
bk_cancelled(struct bk_cancel *c)
{
	return c && atomic_load(&c->cancelled);
}

/* ---- linkmap --------------------------------------------------------------------------------- */
/*
 * linkmap.h: inodes with more than one link, and the first path each was
 * met at in a tree walk (copy.c, diff.c), so that later links of it become
 * hardlinks to that path.
 */
#include <sys/types.h>

struct linkmap_slot {
	dev_t dev;
	ino_t ino;
	char *path; /* NULL: slot unused */
};

/* Zero-initialised is empty. */
struct linkmap {
	struct linkmap_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

/* The path (dev, ino) was added with, borrowed until linkmap_free; NULL if none. */
const char *linkmap_find(const struct linkmap *m, dev_t dev, ino_t ino);
/* Remember path (copied) for (dev, ino), unless it has one. */
void linkmap_add(struct linkmap *m, dev_t dev, ino_t ino, const char *path);
void linkmap_free(struct linkmap *m);

#endif
