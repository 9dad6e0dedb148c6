/*
 * fusefloor: the least a FUSE file server can do, for `make bench` to
 * measure bockerfs's control files against (issue: "control files at the
 * FUSE floor").  A libfuse low-level server, built from the same libfuse as
 * the daemon and run with the same loop (fuse_session_loop_mt), whose root
 * holds one file, "state", that answers a fixed string; served as bockerfs
 * serves containers/ID/state: direct_io (no page cache: a state changes),
 * its entry and attributes kept by the kernel for a second (bockerfs keeps
 * them and drops them at each change), so each open+read+close costs the
 * round trips it costs bockerfs: OPEN, READ (twice: the second finds the
 * end), RELEASE.  A floor for those round trips, not a cheaper protocol.
 *
 *   fusefloor MOUNTPOINT      (foreground; SIGTERM or fusermount3 -u ends it)
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <fuse_lowlevel.h>

#define STATE_INO   2
#define TIMEOUT     1.0 /* seconds the kernel keeps an entry and attributes */
#define MAX_THREADS 64  /* as the daemon's loop */

static const char state_text[] = "running\n";

static void
fill(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0700;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0400;
		st->st_nlink = 1;
		st->st_size = sizeof(state_text) - 1;
	}
}

static void
floor_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	if (parent != FUSE_ROOT_ID || strcmp(name, "state") != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = STATE_INO;
	e.entry_timeout = e.attr_timeout = TIMEOUT;
	fill(STATE_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void
floor_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID && ino != STATE_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill(ino, &st);
	fuse_reply_attr(req, &st, TIMEOUT);
}

static void
floor_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != STATE_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void
floor_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	size_t len = sizeof(state_text) - 1;

	(void)ino;
	(void)fi;
	if ((size_t)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	len -= (size_t)off;
	fuse_reply_buf(req, state_text + off, len < size ? len : size);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = floor_lookup,
	.getattr = floor_getattr,
	.open = floor_open,
	.read = floor_read,
};

int
main(int argc, char **argv)
{
	char *args[] = { argv[0], "-o", "default_permissions", NULL };
	struct fuse_args fa = FUSE_ARGS_INIT(3, args);
	struct fuse_loop_config *cfg;
	struct fuse_session *se;
	int ret = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: fusefloor MOUNTPOINT\n");
		return 2;
	}
	se = fuse_session_new(&fa, &ops, sizeof(ops), NULL);
	if (se == NULL)
		return 1;
	if (fuse_set_signal_handlers(se) == 0) {
		if (fuse_session_mount(se, argv[1]) == 0) {
			cfg = fuse_loop_cfg_create();
			fuse_loop_cfg_set_max_threads(cfg, MAX_THREADS);
			ret = fuse_session_loop_mt(se, cfg) ? 1 : 0;
			fuse_loop_cfg_destroy(cfg);
			fuse_session_unmount(se);
		}
		fuse_remove_signal_handlers(se);
	}
	fuse_session_destroy(se);
	return ret;
}
