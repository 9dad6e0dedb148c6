/*
 * The verbs that look at or act on a container that exists: state, kill,
 * delete, ps, list, pause and resume, update; and features.  Messages that
 * callers match are runc's words: containerd's shim looks for "does not
 * exist", "container not running" and "no such process" in kill's error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <jansson.h>

#include "oci/oci.h"
#include "base/base.h"

int
bk_rt_state(const struct bk_runtime *rt, const char *id, char **json, struct bk_err *err)
{
	struct oci_ctr c;
	int ret = ctr_open(rt, id, &c, err);

	if (ret < 0)
		return ret;
	*json = ctr_state_json(&c, ctr_status(&c));
	ctr_close(&c);
	return *json ? 0 : bk_err_set(err, ENOMEM, "state");
}

static int
signal_all(const struct oci_ctr *c, int sig, struct bk_err *err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n, i;

	if (ocg_pids(c->cgroup, &pids, &n, err) < 0)
		return -err->code;
	for (i = 0; i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			return bk_err_sys(err, "kill %d", (int)pids[i]);
	return 0;
}

int
bk_rt_kill(const struct bk_runtime *rt, const char *id, int sig, bool all, struct bk_err *err)
{
	struct oci_ctr c;
	cleanup_close int pidfd = -1;
	enum oci_status st;
	int ret;

	if (sig <= 0 || sig > 64)
		return bk_err_set(err, EINVAL, "invalid signal %d", sig);
	ret = ctr_open(rt, id, &c, err);
	if (ret < 0)
		return ret;
	st = ctr_status(&c);
	if (!all && (st == OCI_STOPPED || st == OCI_CREATING)) {
		ret = bk_err_set(err, ESRCH, "container not running");
		goto out;
	}
	if (all) {
		ret = signal_all(&c, sig, err);
		/* A paused group's processes see a signal only once thawed; SIGKILL needs none. */
		if (ret == 0 && st == OCI_PAUSED && sig == SIGKILL)
			if (ocg_freeze(c.cgroup, false, err) < 0)
				bk_log(BK_LOG_WARN, "container %s: thaw: %s", id, err->msg);
		goto out;
	}
	pidfd = ctr_pidfd(&c);
	if (pidfd < 0 || syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0) {
		ret = bk_err_set(err, ESRCH, "container not running");
		goto out;
	}
	ret = 0;
out:
	ctr_close(&c);
	return ret;
}

/* Wait (at most timeout_ms) for the init to end. */
static bool
wait_gone(const struct oci_ctr *c, int timeout_ms)
{
	int pidfd = ctr_pidfd(c), r;
	struct pollfd pfd;

	if (pidfd < 0)
		return true;
	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	close(pidfd);
	/* Exited: a zombie until its parent reaps it, which ctr_status counts as stopped. */
	return r > 0 || ctr_status(c) == OCI_STOPPED;
}

int
bk_rt_delete(const struct bk_runtime *rt, const char *id, bool force, struct bk_err *err)
{
	struct oci_ctr c;
	struct oci_spec spec = { 0 };
	struct bk_err herr = BK_ERR_INIT;
	cleanup_free char *state = NULL;
	enum oci_status st;
	int ret;

	ret = ctr_open(rt, id, &c, err);
	/* As runc: forcing the removal of what is not there is no error. */
	if (ret == -ENOENT && force) {
		*err = (struct bk_err)BK_ERR_INIT;
		return 0;
	}
	if (ret < 0)
		return ret;
	st = ctr_status(&c);
	if ((st == OCI_RUNNING || st == OCI_PAUSED) && !force) {
		ret = bk_err_set(err, EBUSY, "cannot delete container %s that is not stopped: %s",
				 id, oci_status_name(st));
		ctr_close(&c);
		return ret;
	}
	if (st != OCI_STOPPED && st != OCI_CREATING) {
		/* created (as runc: deleting a created container ends it), or forced. */
		if (c.cgroup && *c.cgroup)
			(void)signal_all(&c, SIGKILL, err);
		if (st == OCI_PAUSED)
			if (ocg_freeze(c.cgroup, false, err) < 0)
				bk_log(BK_LOG_WARN, "container %s: thaw: %s", id, err->msg);
		{
			cleanup_close int pidfd = ctr_pidfd(&c);

			if (pidfd >= 0)
				syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		}
		if (!wait_gone(&c, 10000)) {
			ret = bk_err_set(err, EBUSY, "container %s: its init did not end", id);
			ctr_close(&c);
			return ret;
		}
	}
	/*
	 * Whatever the init left in its group (without a pid namespace of its own
	 * its children outlive it) goes with it, as runc kills them.
	 */
	if (c.cgroup && *c.cgroup) {
		cleanup_free pid_t *left = NULL;
		size_t n = 0;
		int tries;

		for (tries = 0; tries < 200; tries++) {
			free(left);
			left = NULL;
			if (ocg_pids(c.cgroup, &left, &n, &herr) < 0 || n == 0)
				break;
			(void)signal_all(&c, SIGKILL, &herr);
			poll(NULL, 0, 10);
		}
		ocg_remove(c.cgroup);
	}
	if (ctr_load_spec(&c, &spec, &herr) == 0 && spec.n_hooks[OCI_HOOK_POSTSTOP]) {
		state = ctr_state_json(&c, OCI_STOPPED);
		/* Failures are warnings: the container is gone either way (runtime-spec). */
		if (hooks_run(&spec, OCI_HOOK_POSTSTOP, state, &herr) < 0)
			bk_log(BK_LOG_WARN, "container %s: %s", id, herr.msg);
	}
	oci_spec_free(&spec);
	ctr_remove(rt, &c);
	*err = (struct bk_err)BK_ERR_INIT;
	return 0;
}

int
bk_rt_ps(const struct bk_runtime *rt, const char *id, pid_t **pids, size_t *n, struct bk_err *err)
{
	struct oci_ctr c;
	int ret = ctr_open(rt, id, &c, err);

	if (ret < 0)
		return ret;
	ret = ocg_pids(c.cgroup, pids, n, err);
	ctr_close(&c);
	return ret;
}

int
bk_rt_list(const struct bk_runtime *rt, char **json, struct bk_err *err)
{
	cleanup(json_decrefp) json_t *arr = json_array();
	cleanup_dir DIR *d = opendir(rt->root);
	struct dirent *e;

	if (d == NULL && errno != ENOENT)
		return bk_err_sys(err, "state root %s", rt->root);
	while (d && (e = readdir(d)) != NULL) {
		struct bk_err one = BK_ERR_INIT;
		struct oci_ctr c;
		char *text;
		json_t *j;

		if (e->d_name[0] == '.' || ctr_open(rt, e->d_name, &c, &one) < 0)
			continue;
		text = ctr_state_json(&c, ctr_status(&c));
		ctr_close(&c);
		j = text ? json_loads(text, 0, NULL) : NULL;
		free(text);
		if (j)
			json_array_append_new(arr, j);
	}
	*json = json_dumps(arr, JSON_COMPACT);
	return *json ? 0 : bk_err_set(err, ENOMEM, "list");
}

int
bk_rt_pause(const struct bk_runtime *rt, const char *id, bool pause, struct bk_err *err)
{
	struct oci_ctr c;
	enum oci_status st;
	int ret = ctr_open(rt, id, &c, err);

	if (ret < 0)
		return ret;
	st = ctr_status(&c);
	if (pause && st != OCI_RUNNING)
		ret = bk_err_set(err, EINVAL, "container %s is not running", id);
	else if (!pause && st != OCI_PAUSED)
		ret = bk_err_set(err, EINVAL, "container %s is not paused", id);
	else if ((ret = ocg_freeze(c.cgroup, pause, err)) == 0)
		enlist_put(rt, id, pause ? "paused" : "running");
	ctr_close(&c);
	return ret;
}

int
bk_rt_update(const struct bk_runtime *rt, const char *id, const char *json, size_t len,
	     struct bk_err *err)
{
	cleanup(json_decrefp) json_t *res = NULL, *wrap = NULL;
	cleanup_free char *text = NULL;
	struct oci_spec spec = { 0 };
	struct oci_ctr c;
	json_error_t jerr;
	int ret;

	if (len > OCI_SPEC_MAX)
		return bk_err_set(err, E2BIG, "--resources: larger than %u bytes", OCI_SPEC_MAX);
	res = json_loadb(json, len, 0, &jerr);
	if (!json_is_object(res))
		return bk_err_set(err, EINVAL, "--resources: %s",
				  res ? "not an object" : jerr.text);
	/* Checked by the same rules as config.json's linux.resources. */
	wrap =
	    json_pack("{s:s, s:{s:[s], s:s}, s:{s:s}, s:{s:O}}", "ociVersion", "1.0.2", "process",
		      "args", "x", "cwd", "/", "root", "path", "/", "linux", "resources", res);
	text = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
	if (text == NULL)
		return bk_err_set(err, ENOMEM, "--resources");
	ret = oci_spec_parse(text, strlen(text), &spec, err);
	if (ret < 0)
		return bk_err_wrap(err, "--resources");
	ret = ctr_open(rt, id, &c, err);
	if (ret == 0) {
		ret = ocg_apply(c.cgroup, &spec.resources, err);
		ctr_close(&c);
	}
	oci_spec_free(&spec);
	return ret;
}

int
bk_rt_signal_parse(const char *s)
{
	return oci_signal_parse(s);
}

char *
bk_rt_features(void)
{
	static const char *const ns[] = {
		"cgroup", "ipc", "mount", "network", "pid", "user", "uts"
	};
	static const char *const hooks[] = { "prestart",       "createRuntime", "createContainer",
					     "startContainer", "poststart",     "poststop" };
	static const char *const actions[] = { "SCMP_ACT_ALLOW",       "SCMP_ACT_ERRNO",
					       "SCMP_ACT_KILL",        "SCMP_ACT_KILL_PROCESS",
					       "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
					       "SCMP_ACT_TRACE",       "SCMP_ACT_TRAP" };
	static const char *const opts[] = {
		"async",         "atime",      "bind",       "defaults", "dev",
		"diratime",      "dirsync",    "exec",       "mand",     "noatime",
		"nodev",         "nodiratime", "noexec",     "nomand",   "norelatime",
		"nostrictatime", "nosuid",     "private",    "rbind",    "relatime",
		"remount",       "ro",         "rprivate",   "rshared",  "rslave",
		"runbindable",   "rw",         "shared",     "slave",    "strictatime",
		"suid",          "sync",       "unbindable",
	};
	json_t *j =
	    json_pack("{s:s, s:s, s:[], s:[], s:{s:[], s:{s:b, s:b}, s:{s:b, s:[], s:[]}, "
		      "s:{s:b}}, s:{s:s}}",
		      "ociVersionMin", "1.0.0", "ociVersionMax", "1.1.0", "hooks", "mountOptions",
		      "linux", "namespaces", "cgroup", "v1", 1, "v2", 1, "seccomp", "enabled", 1,
		      "actions", "operators", "apparmor", "enabled", 0, "annotations",
		      "io.github.bockerfs.runtime", "bockerfs-runtime");
	json_t *linux_ = json_object_get(j, "linux");
	char *text;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(hooks); i++)
		json_array_append_new(json_object_get(j, "hooks"), json_string(hooks[i]));
	for (i = 0; i < ARRAY_SIZE(opts); i++)
		json_array_append_new(json_object_get(j, "mountOptions"), json_string(opts[i]));
	for (i = 0; i < ARRAY_SIZE(ns); i++)
		json_array_append_new(json_object_get(linux_, "namespaces"), json_string(ns[i]));
	for (i = 0; i < ARRAY_SIZE(actions); i++)
		json_array_append_new(
		    json_object_get(json_object_get(linux_, "seccomp"), "actions"),
		    json_string(actions[i]));
	{
		static const char *const ops[] = { "SCMP_CMP_EQ", "SCMP_CMP_GE",
						   "SCMP_CMP_GT", "SCMP_CMP_LE",
						   "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
						   "SCMP_CMP_NE" };

		for (i = 0; i < ARRAY_SIZE(ops); i++)
			json_array_append_new(
			    json_object_get(json_object_get(linux_, "seccomp"), "operators"),
			    json_string(ops[i]));
	}
	text = json_dumps(j, JSON_INDENT(4));
	json_decref(j);
	return text;
}
