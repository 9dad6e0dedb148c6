/*
 * bockerfs-runtime: an OCI runtime with runc's command line, over the
 * engine (engine/runtime.h).  No process of ours outlives a verb; no daemon
 * is needed.
 *
 *   bockerfs-runtime [--root DIR] [--store DIR] [--log FILE]
 *                    [--log-format text|json] [--systemd-cgroup] [--debug]
 *                    VERB [OPTIONS] ID ...
 *
 * Options are taken with one dash or two, "--opt VALUE" or "--opt=VALUE",
 * as runc's Go flag parser takes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/timefmt.h"

#define VERSION "0.2.0"

static const struct {
	const char *name;
	verb_fn fn;
	bool clones; /* it clones a process into a container: run from a sealed copy */
} verbs[] = {
	{ "create", verb_create, true },
	{ "start", verb_start, false },
	{ "run", verb_run, true },
	{ "state", verb_state, false },
	{ "kill", verb_kill, false },
	{ "delete", verb_delete, false },
	{ "exec", verb_exec, true },
	{ "ps", verb_ps, false },
	{ "list", verb_list, false },
	{ "pause", verb_pause, false },
	{ "resume", verb_resume, false },
	{ "update", verb_update, false },
	{ "features", verb_features, false },
};

/* A JSON string's body: the message escaped (quotes, backslashes, controls). */
static void
json_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

static void
log_line(struct cli *cli, const char *level, const char *msg)
{
	char now[64];
	FILE *f;
	int fd;

	fprintf(stderr, "bockerfs-runtime: %s\n", msg);
	if (cli->log == NULL)
		return;
	fd = open(cli->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "a")) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	time_rfc3339_ns(now, sizeof(now));
	if (cli->log_json) {
		fprintf(f, "{\"level\":\"%s\",\"msg\":\"", level);
		json_escape(f, msg);
		fprintf(f, "\",\"time\":\"%s\"}\n", now);
	} else {
		fprintf(f, "time=\"%s\" level=%s msg=\"%s\"\n", now, level, msg);
	}
	fclose(f);
}

int
cli_fail(struct cli *cli, const struct bk_err *err)
{
	log_line(cli, "error", err->msg[0] ? err->msg : strerror(err->code));
	return 1;
}

int
cli_usage(struct cli *cli, const char *verb, const char *fmt, ...)
{
	char msg[512];
	size_t n;
	va_list ap;

	n = (size_t)snprintf(msg, sizeof(msg), "%s: ", verb);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	log_line(cli, "error", msg);
	return 1;
}

const char *
cli_one_id(struct cli *cli, const char *verb, int argc, char **argv)
{
	if (optind < 1)
		optind = 1; /* the verb took no options: getopt never ran */
	if (optind != argc - 1) {
		cli_usage(cli, verb, "expects exactly one container id");
		return NULL;
	}
	return argv[optind];
}

int
cli_int(struct cli *cli, const char *verb, const char *opt, const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end || v < 0 || v > 1 << 20)
		return cli_usage(cli, verb, "--%s: '%s' is not a count", opt, s) ? -1 : -1;
	*out = (int)v;
	return 0;
}

/*
 * The verbs that clone a process into a container (create, run, exec) run
 * from a sealed copy of this binary in memory, as runc does since
 * CVE-2019-5736: the container's init and an exec'd process are clones of
 * the runtime until they exec, and a process in the container that reaches
 * their /proc/PID/exe (or runs /proc/self/exe through a symlink) must find
 * a sealed memfd, not the host's file to overwrite.  Returns only on error.
 */
static int
reexec_sealed(struct cli *cli, char **argv)
{
	struct bk_err err = BK_ERR_INIT;
	int src, mfd, seals;
	struct stat st;
	off_t off = 0;

	src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		bk_err_sys(&err, "open /proc/self/exe");
		return cli_fail(cli, &err);
	}
	seals = fcntl(src, F_GET_SEALS);
	if (seals >= 0 && (seals & F_SEAL_WRITE)) {
		close(src);
		return 0; /* this is the sealed copy */
	}
	mfd = memfd_create("bockerfs-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0 || fstat(src, &st) < 0) {
		bk_err_sys(&err, "a sealed copy of the runtime");
		return cli_fail(cli, &err);
	}
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, src, &off, (size_t)(st.st_size - off));

		if (n <= 0) {
			bk_err_sys(&err, "copy the runtime into memory");
			return cli_fail(cli, &err);
		}
	}
	close(src);
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		bk_err_sys(&err, "seal the runtime's copy");
		return cli_fail(cli, &err);
	}
	fexecve(mfd, argv, environ);
	bk_err_sys(&err, "exec the runtime's sealed copy");
	return cli_fail(cli, &err);
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: bockerfs-runtime [--root DIR] [--store DIR] [--log FILE] "
		   "[--log-format text|json] [--systemd-cgroup] VERB [OPTIONS] ID\nverbs:");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, " %s", verbs[i].name);
	fputc('\n', f);
}

int
main(int argc, char **argv)
{
	enum {
		OPT_ROOT = 256,
		OPT_STORE,
		OPT_LOG,
		OPT_LOG_FORMAT,
		OPT_SYSTEMD,
		OPT_DEBUG,
		OPT_CRIU,
		OPT_ROOTLESS
	};
	static const struct option opts[] = {
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "systemd-cgroup", no_argument, NULL, OPT_SYSTEMD },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "criu", required_argument, NULL, OPT_CRIU },
		{ "rootless", required_argument, NULL, OPT_ROOTLESS },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { .rt = { .root = BK_RUNTIME_ROOT } };
	const char *env_root = getenv("BOCKERFS_RUNTIME_ROOT");
	const char *env_store = getenv("BOCKERFS_STORE");
	int c;
	size_t i;

	if (env_root && *env_root)
		cli.rt.root = env_root;
	/* The callers' configurations name the binary only: the store comes from the environment. */
	if (env_store && *env_store)
		cli.rt.store = env_store;
	opterr = 0;
	while ((c = getopt_long_only(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT:
			cli.rt.root = optarg;
			break;
		case OPT_STORE:
			cli.rt.store = optarg;
			break;
		case OPT_LOG:
			cli.log = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "json") && strcmp(optarg, "text"))
				return cli_usage(&cli, "--log-format", "'%s': json or text",
						 optarg);
			cli.log_json = strcmp(optarg, "json") == 0;
			break;
		case OPT_SYSTEMD:
			cli.rt.systemd_cgroup = true;
			break;
		case OPT_DEBUG:
			cli.debug = true;
			break;
		case OPT_CRIU:
			break; /* checkpoints are not supported; the option only names a binary */
		case OPT_ROOTLESS:
			if (strcmp(optarg, "false") && strcmp(optarg, "auto"))
				return cli_usage(&cli, "--rootless", "'%s': not supported", optarg);
			break;
		case 'v':
			printf("bockerfs-runtime version %s\nspec: 1.0.2\n", VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_usage(&cli, "bockerfs-runtime", "unknown option '%s'",
					 argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 1;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[optind], verbs[i].name) == 0) {
			char **vargv = argv + optind;
			int vargc = argc - optind;

			if (verbs[i].clones && reexec_sealed(&cli, argv) != 0)
				return 1;

			optind = 0; /* reset getopt for the verb's options (0: full re-init) */
			return verbs[i].fn(&cli, vargc, vargv);
		}
	return cli_usage(&cli, argv[optind],
			 "unknown verb (checkpoint and restore are not "
			 "supported)");
}
