/*
 * bockerfs: the daemon.  Opens the engine on its state directory, mounts the
 * control tree, and serves it with libfuse's multithreaded low-level loop
 * until SIGTERM, SIGINT, or an unmount.  `bockerfs --help` lists the options
 * (usage() below).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/timefmt.h"
#include "common/xalloc.h"
#include "fsd.h"

#define DEFAULT_MOUNTPOINT   "/run/bockerfs"
#define DEFAULT_STORAGE_SIZE (20ULL << 30)
#define MAX_THREADS          64

struct options {
	bool foreground;
	const char *root;
	const char *mountpoint;
	uint64_t storage_size;
	uint64_t log_max;
	char *default_limits;     /* "KEY VALUE" lines from --default-limit */
	const char *mirrors[17];  /* --registry-mirror, NULL-terminated */
	const char *insecure[17]; /* --insecure-registry, NULL-terminated */
	const char *auth_config;
	const char *bridge, *subnet;
	bool no_cgroups;
};

/* Append to a NULL-terminated option list of 16 entries at most. */
static must_check int
add_to_list(const char **list, const char *value, const char *what)
{
	int i;

	for (i = 0; i < 16 && list[i]; i++)
		;
	if (i == 16) {
		fprintf(stderr, "bockerfs: at most 16 %s\n", what);
		return -1;
	}
	list[i] = value;
	return 0;
}

static FILE *log_file;

static void
log_to_file(enum bk_log_level level, const char *msg)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	char t[TIME_RFC3339_SIZE];

	if (level == BK_LOG_DEBUG && getenv("BOCKERFS_DEBUG") == NULL)
		return;
	time_rfc3339(t, sizeof(t));
	fprintf(log_file ? log_file : stderr, "%s bockerfs[%ld] %s: %s\n", t, (long)getpid(),
		names[level], msg);
	fflush(log_file ? log_file : stderr);
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: bockerfs [-f] [--root DIR] [--storage-size SIZE] [--log-max-size SIZE]\n"
		"                [MOUNTPOINT]\n"
		"  -f, --foreground      stay in the foreground, log to stderr\n"
		"  --root DIR            state and storage directory (default %s)\n"
		"  --storage-size SIZE   size of the embedded btrfs image when DIR is not\n"
		"                        on btrfs (default 20G, sparse)\n"
		"  --log-max-size SIZE   rotate a container's log to log.1 past SIZE\n"
		"                        (default 10M)\n"
		"  --default-limit 'KEY VALUE'  a limit every new container starts with\n"
		"                        (repeatable: memory, cpu.shares, cpus, pids)\n"
		"  --registry-mirror URL tried first for Docker Hub images (repeatable)\n"
		"  --insecure-registry HOST:PORT  a registry spoken to over plain http\n"
		"                        (repeatable; localhost and 127.0.0.1 always are)\n"
		"  --auth-config FILE    docker-style config.json with registry credentials\n"
		"  --bridge NAME         the containers' bridge (default bocker0)\n"
		"  --subnet CIDR         its subnet (default 10.88.0.0/16)\n"
		"  --no-cgroups          run containers without resource limits when\n"
		"                        cgroups are unusable (else the daemon refuses to start)\n"
		"  MOUNTPOINT            where the control tree appears (default %s)\n",
		BK_STATE_DEFAULT, DEFAULT_MOUNTPOINT);
}

static must_check int
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "root", required_argument, NULL, 'r' },
		{ "storage-size", required_argument, NULL, 's' },
		{ "log-max-size", required_argument, NULL, 'l' },
		{ "default-limit", required_argument, NULL, 'L' },
		{ "registry-mirror", required_argument, NULL, 'M' },
		{ "insecure-registry", required_argument, NULL, 'I' },
		{ "auth-config", required_argument, NULL, 'A' },
		{ "bridge", required_argument, NULL, 'B' },
		{ "subnet", required_argument, NULL, 'S' },
		{ "no-cgroups", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->root = BK_STATE_DEFAULT;
	o->mountpoint = DEFAULT_MOUNTPOINT;
	o->storage_size = DEFAULT_STORAGE_SIZE;
	while ((c = getopt_long(argc, argv, "fhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->foreground = true;
			break;
		case 'r':
			o->root = optarg;
			break;
		case 's':
			if (bk_parse_size(optarg, &o->storage_size) < 0) {
				fprintf(stderr, "bockerfs: bad --storage-size '%s'\n", optarg);
				return -1;
			}
			break;
		case 'l':
			if (bk_parse_size(optarg, &o->log_max) < 0 || o->log_max < 4096) {
				fprintf(stderr, "bockerfs: bad --log-max-size '%s' (at least 4K)\n",
					optarg);
				return -1;
			}
			break;
		case 'L': {
			char *more =
			    xasprintf("%s%s\n", o->default_limits ? o->default_limits : "", optarg);

			free(o->default_limits);
			o->default_limits = more;
			break;
		}
		case 'M':
			if (add_to_list(o->mirrors, optarg, "--registry-mirror") < 0)
				return -1;
			break;
		case 'I':
			if (add_to_list(o->insecure, optarg, "--insecure-registry") < 0)
				return -1;
			break;
		case 'A':
			o->auth_config = optarg;
			break;
		case 'B':
			o->bridge = optarg;
			break;
		case 'S':
			o->subnet = optarg;
			break;
		case 'C':
			o->no_cgroups = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("bockerfs %s api %d\n", BK_VERSION, BK_API);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc)
		o->mountpoint = argv[optind++];
	if (optind < argc) {
		usage(stderr);
		return -1;
	}
	if (o->root[0] != '/' || o->mountpoint[0] != '/') {
		fprintf(stderr, "bockerfs: --root and MOUNTPOINT must be absolute paths\n");
		return -1;
	}
	return 0;
}

/* The type of what is mounted exactly on path ("" if nothing), per mountinfo. */
static void
mounted_on(const char *path, char *fstype, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	fstype[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mnt[4096], type[64];

		/* Field 5 is the mount point; the type follows the " - " separator. */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 || strcmp(mnt, path) != 0)
			continue;
		if (strstr(line, " - ") && sscanf(strstr(line, " - "), " - %63s", type) == 1)
			snprintf(fstype, size, "%s", type);
		else
			snprintf(fstype, size, "?");
	}
	fclose(f);
}

/* The mount point the previous daemon on this state directory used. */
static bool
was_ours(const char *root, const char *path)
{
	char file[4096], prev[4096] = "";
	FILE *f;

	snprintf(file, sizeof(file), "%s/mountpoint", root);
	f = fopen(file, "re");
	if (f == NULL)
		return false;
	if (fgets(prev, sizeof(prev), f) == NULL)
		prev[0] = '\0';
	fclose(f);
	prev[strcspn(prev, "\n")] = '\0';
	return strcmp(prev, path) == 0;
}

/*
 * Into the background, as fuse_daemonize() would, except that the launcher
 * returns only once the pid file names the process that serves: with
 * fuse_daemonize() it returned first, and a script that read the pid file
 * at once got the launcher's own, already gone pid.  No thread runs yet.
 */
static int
daemonize(struct bk_engine *e)
{
	int pipefd[2], nullfd;
	char done = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid > 0) {
		close(pipefd[1]);
		do
			n = read(pipefd[0], &done, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 && done == 1 ? 0 : 1);
	}
	close(pipefd[0]);
	if (setsid() < 0 || chdir("/") < 0) {
		close(pipefd[1]);
		return -1;
	}
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nullfd >= 0) {
		(void)!dup2(nullfd, 0); /* a failed redirect leaves the launcher's fd: harmless */
		(void)!dup2(nullfd, 1);
		(void)!dup2(nullfd, 2);
		if (nullfd > 2)
			close(nullfd);
	}
	bk_engine_write_pid(e);
	done = 1;
	n = write(pipefd[1], &done, 1);
	close(pipefd[1]);
	return n == 1 ? 0 : -1;
}

static void
remember_mountpoint(const char *root, const char *path)
{
	char file[4096];
	FILE *f;

	snprintf(file, sizeof(file), "%s/mountpoint", root);
	f = fopen(file, "we");
	if (f) {
		fprintf(f, "%s\n", path);
		fclose(f);
	}
}

/*
 * Make the mount point.  A daemon killed with SIGKILL leaves its mount dead:
 * detach it (and any stacked under it).  It is recognised as dead when it
 * answers ENOTCONN, or when it is the mount our own state directory's last
 * daemon made (we hold that directory's lock, so that daemon is gone; its
 * mount may still look alive to stat() from cached attributes).  Another
 * live mount there is someone else's: refuse rather than hide it.
 */
static must_check int
prepare_mountpoint(const char *root, const char *path, dev_t *under_dev)
{
	char type[64];
	struct stat st;
	int i;

	for (i = 0; i < 8; i++) {
		mounted_on(path, type, sizeof(type));
		if (type[0] == '\0')
			break;
		if (!(strcmp(type, "fuse.bockerfs") == 0 && was_ours(root, path)) &&
		    (stat(path, &st) == 0 || (errno != ENOTCONN && errno != ENODEV))) {
			bk_log(BK_LOG_ERROR, "'%s' is already a mount point in use (%s)", path,
			       type);
			return -1;
		}
		bk_log(BK_LOG_INFO, "detaching the stale mount on '%s'", path);
		if (umount2(path, MNT_DETACH) < 0) {
			bk_log(BK_LOG_ERROR, "detach '%s': %s", path, strerror(errno));
			return -1;
		}
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		bk_log(BK_LOG_ERROR, "mkdir '%s': %s", path, strerror(errno));
		return -1;
	}
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		bk_log(BK_LOG_ERROR, "mount point '%s' is not a directory", path);
		return -1;
	}
	*under_dev = st.st_dev;
	return 0;
}

static struct fuse_session *
mount_tree(struct fsd *fs, const char *argv0)
{
	/*
	 * Root only (no allow_other), permissions checked by the kernel, and
	 * nothing on the tree can be executed or be a device.  The GETATTR
	 * that default_permissions costs before every open also keeps the
	 * size the kernel holds current, which sendfile and splice readers
	 * (busybox cat) are cut at.
	 */
	char *fargv[] = { (char *)argv0, (char *)"-o",
			  (char *)"fsname=bockerfs,subtype=bockerfs,default_permissions,"
				  "nosuid,nodev,noexec,max_read=" FSD_STR(FSD_MAX_READ),
			  NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se;

	se = fuse_session_new(&args, &fsd_ops, sizeof(fsd_ops), fs);
	/* libfuse copied our argv into args: it is ours to free. */
	fuse_opt_free_args(&args);
	if (se == NULL)
		return NULL;
	if (fuse_set_signal_handlers(se) < 0) {
		fuse_session_destroy(se);
		return NULL;
	}
	if (fuse_session_mount(se, fs->mountpoint) < 0) {
		fuse_remove_signal_handlers(se);
		fuse_session_destroy(se);
		return NULL;
	}
	return se;
}

/* Stop in an order that never leaves a reply or a mount operation hanging. */
static void
shutdown_tree(struct fsd *fs)
{
	notify_quiesce();
	work_cancel_all();
	if (!work_drain(10000) || !notify_stop(2000)) {
		/* A thread is stuck on the mount; replying later would use freed memory. */
		bk_log(BK_LOG_WARN, "shutdown: work still running, exiting without cleanup");
		fuse_session_unmount(fs->se);
		_exit(1);
	}
	fuse_session_unmount(fs->se);
	fuse_remove_signal_handlers(fs->se);
	fuse_session_destroy(fs->se);
	fs->se = NULL;
	toucher_reap();
	/* Files and directories still open at the unmount get no RELEASE. */
	ofile_free_all();
	dirh_free_all();
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct fsd fs = { 0 };
	struct bk_engine_opts eopts = { 0 };
	struct bk_err err = BK_ERR_INIT;
	struct fuse_loop_config *cfg;
	int ret;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	bk_log_set_sink(log_to_file);
	if (geteuid() != 0) {
		fprintf(stderr, "bockerfs: must run as root\n");
		return 1;
	}
	umask(077);
	/*
	 * SIGTERM, SIGINT and SIGHUP end the FUSE loop (libfuse's handlers), but
	 * only when they interrupt its own threads: taken by another (the
	 * engine's monitor, a restart or a pull thread) they left it waiting
	 * until the next request came.  So every thread but the loop's is born
	 * with them blocked: they are unblocked here just before the loop.
	 */
	fsd_block_stop(NULL);
	if (!o.foreground && mkdir(o.root, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "bockerfs: mkdir '%s': %s\n", o.root, strerror(errno));
		return 1;
	}
	if (!o.foreground) {
		char *path = xasprintf("%s/bockerfs.log", o.root);

		/* In the background the log file is the only place messages reach. */
		log_file = fopen(path, "ae");
		free(path);
	}
	eopts.root = o.root;
	eopts.storage_size = o.storage_size;
	eopts.log_max = o.log_max;
	eopts.default_limits = o.default_limits;
	eopts.registry_mirrors = o.mirrors;
	eopts.insecure_registries = o.insecure;
	eopts.auth_config = o.auth_config;
	eopts.bridge = o.bridge;
	eopts.subnet = o.subnet;
	eopts.hide_mount = o.mountpoint;
	eopts.no_cgroups = o.no_cgroups;
	if (bk_engine_open(&eopts, &fs.engine, &err) < 0) {
		fprintf(stderr, "bockerfs: %s\n", err.msg);
		return 1;
	}
	fs.mountpoint = o.mountpoint;
	clock_gettime(CLOCK_REALTIME, &fs.started);
	errlog_note_all_broken(&fs);
	if (prepare_mountpoint(o.root, o.mountpoint, &fs.under_dev) < 0) {
		bk_engine_close(fs.engine);
		return 1;
	}
	fs.se = mount_tree(&fs, argv[0]);
	if (fs.se == NULL) {
		fprintf(stderr, "bockerfs: cannot mount on '%s'\n", o.mountpoint);
		bk_engine_close(fs.engine);
		return 1;
	}
	remember_mountpoint(o.root, o.mountpoint);
	if (!o.foreground && daemonize(fs.engine) < 0) {
		fprintf(stderr, "bockerfs: cannot go into the background: %s\n", strerror(errno));
		shutdown_tree(&fs);
		bk_engine_close(fs.engine);
		return 1;
	}
	bk_engine_set_watch(fs.engine, notify_watch, notify_event, &fs);
	if (notify_start(&fs) < 0) {
		bk_log(BK_LOG_ERROR, "cannot start the notifier thread");
		shutdown_tree(&fs);
		bk_engine_close(fs.engine);
		return 1;
	}
	if (bk_engine_start(fs.engine, &err) < 0) {
		bk_log(BK_LOG_ERROR, "%s", err.msg);
		shutdown_tree(&fs);
		bk_engine_close(fs.engine);
		return 1;
	}
	bk_log(BK_LOG_INFO, "serving '%s' (store '%s')", o.mountpoint,
	       bk_engine_store_path(fs.engine));

	fsd_unblock_stop();
	cfg = fuse_loop_cfg_create();
	/* Few workers are ever busy: slow commands are parked, not waited for. */
	fuse_loop_cfg_set_max_threads(cfg, MAX_THREADS);
	ret = fuse_session_loop_mt(fs.se, cfg);
	fuse_loop_cfg_destroy(cfg);

	bk_log(BK_LOG_INFO, "stopping");
	shutdown_tree(&fs);
	bk_engine_close(fs.engine);
	bk_log(BK_LOG_INFO, "stopped");
	free(o.default_limits);
	if (log_file)
		fclose(log_file);
	return ret < 0 ? 1 : 0;
}
