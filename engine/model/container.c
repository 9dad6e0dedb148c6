/*
 * Containers: the table, their records, and the lifecycle state machine
 *
 *	created --start--> running --(init exits)--> exited --start--> running
 *	any --remove--> removing --> gone
 *
 * A container is containers/<id>/ in the store: container.json (the record,
 * replaced atomically), rootfs (a writable snapshot of its image, made at the
 * first start), hosts/hostname/resolv.conf (bound into it), log, log.1 and
 * exit (written by its init, which outlives the daemon).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "model/model.h"
#include "base/base.h"

#define RECORD_MAX (4u << 20)
#define ENV_MAX    4096

static const char *state_names[] = {
	[BK_CTR_CREATED] = "created",   [BK_CTR_RUNNING] = "running", [BK_CTR_EXITED] = "exited",
	[BK_CTR_REMOVING] = "removing", [BK_CTR_BROKEN] = "broken",
};

const char *
bk_ctr_state_name(enum bk_ctr_state state)
{
	return state <= BK_CTR_BROKEN ? state_names[state] : "unknown";
}

/* What a record may say: "broken" is never written, only shown. */
static int
state_parse(const char *s, enum bk_ctr_state *out)
{
	size_t i;

	for (i = 0; i <= BK_CTR_REMOVING; i++)
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum bk_ctr_state)i;
			return 0;
		}
	return -EINVAL;
}

void
container_free(struct container *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->input_fd >= 0)
		close(c->input_fd);
	for (i = 0; i < c->nenv; i++)
		free(c->env[i]);
	free(c->env);
	free(c->image);
	free(c->cmd);
	free(c->user);
	free(c->workdir);
	free(c->ports);
	mounts_free(c->mounts, c->nmounts);
	free(c->broken);
	foreign_free(c->foreign);
	free(c);
}

/* An empty container, created, holding nothing (no fd, no environment). */
static struct container *
container_alloc(void)
{
	struct container *c = xcalloc(1, sizeof(*c));

	c->pidfd = -1;
	c->input_fd = -1;
	c->input_fdno = -1;
	c->log_wd = -1;
	c->env = xcalloc(1, sizeof(char *));
	c->state = BK_CTR_CREATED;
	return c;
}

void
foreign_free(struct foreign *f)
{
	if (f == NULL)
		return;
	free(f->root);
	free(f->oci_id);
	free(f->bundle);
	free(f->rootfs);
	free(f->caller);
	free(f->cgroup);
	free(f);
}

void
containers_free(struct model *m)
{
	size_t i;

	for (i = 0; i < m->nctrs; i++)
		container_free(m->ctrs[i]);
	free(m->ctrs);
	m->ctrs = NULL;
	m->nctrs = 0;
}

/* Docker's container name rule; also keeps names safe as path components. */
static bool
name_valid(const char *s)
{
	return name_ok(s, 64);
}

struct container *
container_find_locked(struct model *m, const char *id, uint64_t serial)
{
	size_t i;

	for (i = 0; i < m->nctrs; i++)
		if (id ? strcmp(m->ctrs[i]->id, id) == 0 : m->ctrs[i]->serial == serial)
			return m->ctrs[i];
	return NULL;
}

bool
container_uses_image_locked(struct model *m, const char *image_id, char *who, size_t size)
{
	size_t i;

	for (i = 0; i < m->nctrs; i++)
		if (strcmp(m->ctrs[i]->image_id, image_id) == 0) {
			snprintf(who, size, "%s", m->ctrs[i]->id);
			return true;
		}
	return false;
}

bool
container_names_volume(const struct container *c, const char *name)
{
	size_t k;

	for (k = 0; k < c->nmounts; k++)
		if (c->mounts[k].kind == MOUNT_VOLUME && strcmp(c->mounts[k].source, name) == 0)
			return true;
	return false;
}

bool
container_uses_volume_locked(struct model *m, const char *name, char *who, size_t size)
{
	size_t i;

	for (i = 0; i < m->nctrs; i++)
		if (container_names_volume(m->ctrs[i], name)) {
			snprintf(who, size, "%s", m->ctrs[i]->id);
			return true;
		}
	return false;
}

static json_t *
record_json(const struct container *c)
{
	json_t *env = json_array(), *j;
	size_t i;

	for (i = 0; i < c->nenv; i++)
		json_array_append_new(env, json_string(c->env[i]));
	/* s*: an unset image or cmd is left out (a null would not load back as a string). */
	j = json_pack("{s:s, s:s, s:s*, s:s, s:s*, s:o, s:s, s:s, s:s, s:i, s:I, s:s, s:b, s:i, "
		      "s:i, s:b, s:i, s:b}",
		      "id", c->id, "state", bk_ctr_state_name(c->state), "image", c->image,
		      "image_id", c->image_id, "cmd", c->cmd, "env", env, "created", c->created,
		      "started", c->started, "finished", c->finished, "pid", (int)c->pid,
		      "pid_start", (json_int_t)c->pid_start, "boot_id", c->boot_id, "exited",
		      c->exited, "exit_code", c->exit_code, "exit_signal", c->exit_signal,
		      "oomkilled", c->oomkilled, "kill_sent", c->kill_sent, "rootfs",
		      c->rootfs_made);
	if (j) {
		char ipb[16];
		char *ports = ports_format(c->ports, c->nports);

		json_object_set_new(j, "net_mode", json_string(net_mode_name(c->net_mode)));
		json_object_set_new(j, "ip", json_string(c->ip ? ip_format(c->ip, ipb) : ""));
		json_object_set_new(j, "veth", json_string(c->veth));
		json_object_set_new(j, "ports", json_string(ports ? ports : ""));
		{
			char policy[32];

			restart_format(&c->restart, policy, sizeof(policy));
			json_object_set_new(j, "restart", json_string(policy));
			json_object_set_new(j, "restarts", json_integer(c->restarts));
			json_object_set_new(j, "stopped_by_user", json_boolean(c->stopped_by_user));
		}
		json_object_set_new(j, "tty", json_boolean(c->tty));
		json_object_set_new(j, "stdin", json_boolean(c->stdin_open));
		json_object_set_new(j, "input_fdno", json_integer(c->input_fdno));
		if (c->user)
			json_object_set_new(j, "user", json_string(c->user));
		if (c->workdir)
			json_object_set_new(j, "workdir", json_string(c->workdir));
		if (c->nmounts) {
			cleanup_free char *mounts = mounts_format(c->mounts, c->nmounts);

			json_object_set_new(j, "mounts", json_string(mounts));
		}
		free(ports);
		json_object_set_new(
		    j, "limits",
		    json_pack("{s:I, s:I, s:I, s:I, s:I}", "memory", (json_int_t)c->limits.memory,
			      "cpu_shares", (json_int_t)c->limits.cpu_shares, "cpus_milli",
			      (json_int_t)c->limits.cpus_milli, "pids", (json_int_t)c->limits.pids,
			      "memory_swap", (json_int_t)c->limits.memory_swap));
	}
	return j;
}

int
container_save(struct model *m, const struct container *c, struct bk_err *err)
{
	cleanup(json_decrefp) json_t *j = record_json(c);
	cleanup_free char *text = NULL;
	cleanup_close int dfd = -1;

	/* What could not be read is left as it is, for the operator to see or repair. */
	if (c->broken)
		return bk_err_set(err, c->broken_code, "container %s is broken: %s", c->id,
				  c->broken);
	if (j == NULL)
		return bk_err_set(err, EIO, "container %s: cannot encode record", c->id);
	text = json_dumps(j, JSON_INDENT(1));
	if (text == NULL)
		return bk_err_set(err, ENOMEM, "container %s: cannot encode record", c->id);
	dfd =
	    openat(m->store->containers_fd, c->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return bk_err_sys(err, "container %s", c->id);
	return write_file_replace(dfd, "container.json", text, strlen(text), err);
}

static void
copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

static int
record_load(struct model *m, const char *id, struct container **out, struct bk_err *err)
{
	cleanup_close int dfd = -1;
	cleanup_free char *text = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	json_error_t jerr;
	struct container *c;
	const char *rid = "", *state = "", *image_id = "";
	json_t *image = NULL, *cmd = NULL;
	const char *created = "", *started = "", *finished = "", *boot = "";
	json_t *env = NULL, *v;
	json_int_t pid_start = 0;
	int pid = 0, code = 0, sig = 0, kill_sent = 0, exited = 0, oom = 0, rootfs = 0;
	size_t i;

	dfd = openat(m->store->containers_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return bk_err_sys(err, "container %s", id);
	if (read_file_at(dfd, "container.json", RECORD_MAX, &text, NULL, err) < 0)
		return bk_err_wrap(err, "container %s", id);
	j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL ||
	    json_unpack_ex(j, &jerr, 0,
			   "{s:s, s:s, s?o, s:s, s?o, s:o, s:s, s:s, s:s, s:i, s:I, s:s, "
			   "s:b, s:i, s:i, s:b, s?i, s?b}",
			   "id", &rid, "state", &state, "image", &image, "image_id", &image_id,
			   "cmd", &cmd, "env", &env, "created", &created, "started", &started,
			   "finished", &finished, "pid", &pid, "pid_start", &pid_start, "boot_id",
			   &boot, "exited", &exited, "exit_code", &code, "exit_signal", &sig,
			   "oomkilled", &oom, "kill_sent", &kill_sent, "rootfs", &rootfs) < 0)
		return bk_err_set(err, EBADMSG, "container %s: malformed container.json: %s", id,
				  jerr.text);
	if (strcmp(rid, id) != 0 || !json_is_array(env))
		return bk_err_set(err, EBADMSG, "container %s: malformed container.json", id);
	c = container_alloc();
	copy_str(c->id, sizeof(c->id), id);
	if (state_parse(state, &c->state) < 0) {
		container_free(c);
		return bk_err_set(err, EBADMSG, "container %s: unknown state '%s'", id, state);
	}
	/* Records of older versions may hold null for an unset image or cmd. */
	c->image = json_is_string(image) ? xstrdup(json_string_value(image)) : NULL;
	copy_str(c->image_id, sizeof(c->image_id), image_id);
	c->cmd = json_is_string(cmd) ? xstrdup(json_string_value(cmd)) : NULL;
	free(c->env);
	c->env = xcalloc(json_array_size(env) + 1, sizeof(char *));
	json_array_foreach (env, i, v)
		if (json_is_string(v))
			c->env[c->nenv++] = xstrdup(json_string_value(v));
	copy_str(c->created, sizeof(c->created), created);
	copy_str(c->started, sizeof(c->started), started);
	copy_str(c->finished, sizeof(c->finished), finished);
	copy_str(c->boot_id, sizeof(c->boot_id), boot);
	c->pid = pid;
	c->pid_start = (uint64_t)pid_start;
	c->exited = exited;
	c->exit_code = code;
	c->exit_signal = sig;
	c->oomkilled = oom;
	c->kill_sent = kill_sent;
	c->rootfs_made = rootfs;
	limits_init(&c->limits);
	{
		json_int_t mem = LIMIT_MAX, shares = 0, cpus = 0, pids = LIMIT_MAX, swap = 0;

		/* Absent in records written before limits existed: unlimited. */
		json_unpack(json_object_get(j, "limits"), "{s?I, s?I, s?I, s?I, s?I}", "memory",
			    &mem, "cpu_shares", &shares, "cpus_milli", &cpus, "pids", &pids,
			    "memory_swap", &swap);
		c->limits.memory = mem;
		c->limits.cpu_shares = shares;
		c->limits.cpus_milli = cpus;
		c->limits.pids = pids;
		c->limits.memory_swap = swap;
	}
	{
		const char *mode = json_string_value(json_object_get(j, "net_mode"));
		const char *ip = json_string_value(json_object_get(j, "ip"));
		const char *veth = json_string_value(json_object_get(j, "veth"));
		const char *ports = json_string_value(json_object_get(j, "ports"));
		struct port_map maps[PORTS_MAX];
		size_t n = 0;

		if (mode == NULL || net_mode_parse(mode, &c->net_mode) < 0)
			c->net_mode = NET_MODE_BRIDGE;
		if (ip == NULL || ip_parse(ip, &c->ip) < 0)
			c->ip = 0;
		/* Only a name a veth made ahead can have (it is deleted by that name). */
		if (veth && net_spare_name_valid(veth))
			copy_str(c->veth, sizeof(c->veth), veth);
		if (ports && *ports && ports_parse(ports, maps, PORTS_MAX, &n, NULL) == 0 && n) {
			c->ports = xcalloc(n, sizeof(*c->ports));
			memcpy(c->ports, maps, n * sizeof(*maps));
			c->nports = n;
		}
	}
	{
		const char *policy = json_string_value(json_object_get(j, "restart"));
		struct bk_err rerr = BK_ERR_INIT;

		/* Absent in older records: no policy. */
		if (policy && restart_parse(policy, &c->restart, &rerr) < 0) {
			container_free(c);
			return bk_err_set(err, EBADMSG, "container %s: %s", id, rerr.msg);
		}
		c->restarts = (int)json_integer_value(json_object_get(j, "restarts"));
		c->stopped_by_user = json_is_true(json_object_get(j, "stopped_by_user"));
		c->tty = json_is_true(json_object_get(j, "tty"));
		c->stdin_open = json_is_true(json_object_get(j, "stdin"));
		c->input_fdno = json_object_get(j, "input_fdno")
				    ? (int)json_integer_value(json_object_get(j, "input_fdno"))
				    : -1;
	}
	{
		const char *user = json_string_value(json_object_get(j, "user"));
		const char *workdir = json_string_value(json_object_get(j, "workdir"));

		c->user = user && *user ? xstrdup(user) : NULL;
		c->workdir = workdir && *workdir ? xstrdup(workdir) : NULL;
	}
	{
		const char *mounts = json_string_value(json_object_get(j, "mounts"));
		struct bk_err merr = BK_ERR_INIT;

		/* Not dropped when unreadable: a start without its volume could lose data. */
		if (mounts && mounts_parse(mounts, &c->mounts, &c->nmounts, &merr) < 0) {
			container_free(c);
			return bk_err_set(err, EBADMSG, "container %s: malformed mounts: %s", id,
					  merr.msg);
		}
	}
	*out = c;
	return 0;
}

static void
table_add_locked(struct model *m, struct container *c)
{
	c->serial = m->next_serial++;
	m->ctrs = xrealloc(m->ctrs, (m->nctrs + 1) * sizeof(*m->ctrs));
	m->ctrs[m->nctrs++] = c;
}

void
container_table_del_locked(struct model *m, struct container *c)
{
	size_t i;

	for (i = 0; i < m->nctrs; i++)
		if (m->ctrs[i] == c) {
			memmove(&m->ctrs[i], &m->ctrs[i + 1],
				(m->nctrs - i - 1) * sizeof(*m->ctrs));
			m->nctrs--;
			return;
		}
}

/* Read the exit file its init wrote ("exit N" / "signal N"); false if there is none. */
static bool
read_exit_file(struct model *m, struct container *c)
{
	cleanup_close int dfd =
	    openat(m->store->containers_fd, c->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *text = NULL;
	int n;

	if (dfd < 0 || read_file_at(dfd, "exit", 64, &text, NULL, NULL) < 0)
		return false;
	if (sscanf(text, "exit %d", &n) == 1) {
		c->exit_code = n;
		c->exit_signal = 0;
		return true;
	}
	if (sscanf(text, "signal %d", &n) == 1) {
		c->exit_code = 128 + n;
		c->exit_signal = n;
		return true;
	}
	return false;
}

void
container_set_exited_locked(struct model *m, struct container *c, int wait_code, int wait_status)
{
	if (!read_exit_file(m, c)) {
		/* The init died without a word: killed (by us or by anyone) or failed. */
		if (wait_code == CLD_EXITED) {
			c->exit_code = wait_status;
			c->exit_signal = 0;
		} else if (wait_code == CLD_KILLED || wait_code == CLD_DUMPED) {
			c->exit_signal = wait_status;
			c->exit_code = 128 + wait_status;
		} else {
			c->exit_signal = c->kill_sent ? c->kill_sent : SIGKILL;
			c->exit_code = 128 + c->exit_signal;
		}
	}
	c->exited = true;
	c->state = BK_CTR_EXITED;
	c->pid = 0;
	time_rfc3339(c->finished, sizeof(c->finished));
	if (c->pidfd >= 0) {
		close(c->pidfd);
		c->pidfd = -1;
		c->input_fd = -1;
		c->input_fdno = -1;
		c->log_wd = -1;
	}
}

/*
 * The record of containers/<name> did not load: list the container anyway,
 * broken, so that it can be seen, killed and removed (its init, if it still
 * runs, is found by ops/, containers_adopt).
 */
static struct container *
load_broken(struct model *m, const char *name, const struct bk_err *why)
{
	struct container *c = container_alloc();
	cleanup_close int dfd =
	    openat(m->store->containers_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	copy_str(c->id, sizeof(c->id), name);
	c->broken = xstrdup(why->msg);
	c->broken_code = why->code ? why->code : EIO;
	c->state = BK_CTR_EXITED; /* not running, until ops/ finds its init (containers_adopt) */
	limits_init(&c->limits);
	if (dfd < 0)
		return c;
	if (fstat(dfd, &st) == 0)
		time_rfc3339_at(st.st_mtime, c->created, sizeof(c->created));
	return c;
}

int
containers_load(struct model *m, struct bk_err *err)
{
	cleanup_dir DIR *d = opendir_at(m->store->containers_fd);
	struct dirent *de;

	if (d == NULL)
		return bk_err_sys(err, "containers");
	while ((de = readdir(d)) != NULL) {
		struct bk_err lerr = BK_ERR_INIT;
		struct container *c = NULL;

		if (de->d_name[0] == '.')
			continue;
		if (record_load(m, de->d_name, &c, &lerr) < 0) {
			/* Never dropped: its init may still run, with a cgroup and an address. */
			if (!name_valid(de->d_name)) {
				bk_log(BK_LOG_WARN, "containers/%s: not a container name, ignored",
				       de->d_name);
				continue;
			}
			bk_log(BK_LOG_WARN, "%s: shown as broken", lerr.msg);
			c = load_broken(m, de->d_name, &lerr);
		}
		table_add_locked(m, c);
	}
	bk_log(BK_LOG_INFO, "loaded %zu container(s)", m->nctrs);
	return 0;
}

int
container_broken_err(const struct container *c, struct bk_err *err)
{
	return bk_err_set(err, c->broken_code, "container %s is broken: %s", c->id, c->broken);
}

void
container_exit_attrs(const struct container *c, char *buf, size_t size)
{
	if (!c->exited)
		snprintf(buf, size, "code=unknown");
	else if (c->exit_signal)
		snprintf(buf, size, "signal=%d%s", c->exit_signal,
			 c->oomkilled ? " oomkilled=1" : "");
	else
		snprintf(buf, size, "code=%d", c->exit_code);
}

int
container_changeable(const struct container *c, const char *op, struct bk_err *err)
{
	if (c->broken)
		return container_broken_err(c, err);
	if (c->foreign)
		return bk_err_set(err, EPERM,
				  "%s: container %s belongs to %s, which made it with "
				  "bockerfs-runtime: only kill and stop work here",
				  op, c->id, c->foreign->caller);
	return 0;
}

struct container *
container_new_foreign_locked(struct model *m, const char *name, struct foreign *f,
			     const char *created)
{
	struct container *c = container_alloc();

	c->net_mode = NET_MODE_NONE; /* its network is its caller's */
	limits_init(&c->limits);
	copy_str(c->id, sizeof(c->id), name);
	copy_str(c->created, sizeof(c->created), created);
	c->foreign = f;
	table_add_locked(m, c);
	return c;
}

int
container_create(struct model *m, const char *name, const struct limits *limits,
		 const struct ctr_init *init, char id_out[BK_ID_SIZE], struct bk_err *err)
{
	struct container *c;
	int ret;

	if (name && !name_valid(name))
		return bk_err_set(err, EINVAL,
				  "bad name '%s': use [A-Za-z0-9][A-Za-z0-9_.-], at most 64", name);
	c = container_alloc();
	c->limits = *limits;
	if (init && init->image) {
		c->image = xstrdup(init->image);
		copy_str(c->image_id, sizeof(c->image_id), init->image_id);
	}
	if (init && init->cmd && init->cmd[0])
		c->cmd = xstrdup(init->cmd);
	time_rfc3339(c->created, sizeof(c->created));
	if (name)
		copy_str(c->id, sizeof(c->id), name);
	else if ((ret = new_id("ps_", c->id)) < 0) {
		container_free(c);
		return bk_err_set(err, -ret, "cannot make an id");
	}

	pthread_mutex_lock(&m->lock);
	if (container_find_locked(m, c->id, 0) != NULL) {
		pthread_mutex_unlock(&m->lock);
		ret = bk_err_set(err, EEXIST, "container '%s' exists", c->id);
		container_free(c);
		return ret;
	}
	/* Resolved before the lock: an rmdir of the image may have come in between. */
	if (c->image && !image_exists_locked(m, c->image_id)) {
		ret = bk_err_set(err, ENOENT, "no image named '%s' (removed meanwhile)", c->image);
		goto fail;
	}
	/* Built in tmp/ and renamed: a crash never leaves a directory without a record. */
	if (mkdirat(m->store->tmp_fd, c->id, 0700) < 0) {
		ret = bk_err_sys(err, "create container %s", c->id);
		goto fail;
	}
	{
		cleanup_close int dfd =
		    openat(m->store->tmp_fd, c->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		cleanup(json_decrefp) json_t *j = record_json(c);
		cleanup_free char *text = j ? json_dumps(j, JSON_INDENT(1)) : NULL;

		if (dfd < 0 || text == NULL ||
		    write_file_replace(dfd, "container.json", text, strlen(text), err) < 0 ||
		    renameat2(m->store->tmp_fd, c->id, m->store->containers_fd, c->id,
			      RENAME_NOREPLACE) < 0) {
			ret =
			    err->code ? -err->code : bk_err_sys(err, "create container %s", c->id);
			store_discard(m->store->tmp_fd, c->id);
			goto fail;
		}
	}
	table_add_locked(m, c);
	events_queue_locked(&m->ev, BK_OBJ_CONTAINER, c->id, "create", "%s", "");
	snprintf(id_out, BK_ID_SIZE, "%s", c->id);
	pthread_mutex_unlock(&m->lock);
	events_notify(&m->ev, BK_OBJ_CONTAINER, id_out, BK_CHANGE_CREATED);
	events_flush(&m->ev);
	return 0;
fail:
	pthread_mutex_unlock(&m->lock);
	container_free(c);
	return ret;
}

static int
env_valid(const char *kv, struct bk_err *err)
{
	const char *eq = strchr(kv, '=');
	const char *p;

	if (eq == NULL || eq == kv)
		return bk_err_set(err, EINVAL, "env '%s': not KEY=VALUE", kv);
	for (p = kv; p < eq; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return bk_err_set(err, EINVAL, "env '%s': bad character in the name", kv);
	return 0;
}

/* Replace (or extend) c's env from KEY=VALUE lines; nothing changes on error. */
static int
set_env_locked(struct container *c, const char *value, bool append, struct bk_err *err)
{
	cleanup_free char *copy = xstrdup(value);
	char *save = NULL, *line, **env;
	size_t n = append ? c->nenv : 0, i;

	env = xcalloc(ENV_MAX + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		env[i] = xstrdup(c->env[i]);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t klen = strcspn(line, "=");

		if (line[0] == '\0')
			continue;
		if (env_valid(line, err) < 0 || n == ENV_MAX) {
			if (n == ENV_MAX)
				bk_err_set(err, E2BIG, "env: more than %d variables", ENV_MAX);
			goto fail;
		}
		/* A later KEY replaces an earlier one. */
		for (i = 0; i < n; i++)
			if (strncmp(env[i], line, klen + 1) == 0)
				break;
		if (i < n)
			free(env[i]);
		env[i] = xstrdup(line);
		if (i == n)
			n++;
	}
	for (i = 0; i < c->nenv; i++)
		free(c->env[i]);
	free(c->env);
	c->env = env;
	c->nenv = n;
	return 0;
fail:
	for (i = 0; i < n; i++)
		free(env[i]);
	free(env);
	return -err->code;
}

/* "mode bridge|none|host" (the only key); nothing changes on error. */
static int
set_net_locked(struct container *c, const char *text, struct bk_err *err)
{
	char key[16], value[16], extra[2];
	enum net_mode mode = c->net_mode;
	cleanup_free char *copy = xstrdup(text);
	char *save = NULL, *line;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[strspn(line, " \t\r")] == '\0')
			continue;
		if (sscanf(line, " %15s %15s %1s", key, value, extra) != 2 ||
		    strcmp(key, "mode") != 0)
			return bk_err_set(err, EINVAL,
					  "net: expected 'mode bridge|none|host', got '%s'", line);
		if (net_mode_parse(value, &mode) < 0)
			return bk_err_set(err, EINVAL,
					  "net: unknown mode '%s' (bridge, none, host)", value);
	}
	c->net_mode = mode;
	return 0;
}

/*
 * docker run -u: "name", "uid", "name:group" or "uid:gid" ("" for the
 * image's).  Whether the image knows the names is found at the start, in
 * its own /etc/passwd and /etc/group (proc/userdb.c), as Docker finds it.
 */
static int
check_user(const char *v, struct bk_err *err)
{
	const char *colon = strchr(v, ':');
	size_t i;

	if (*v == '\0')
		return 0;
	if (strlen(v) > 256 || *v == ':' || (colon && (colon[1] == '\0' || strchr(colon + 1, ':'))))
		return bk_err_set(err, EINVAL, "user '%.64s': NAME, UID, NAME:GROUP or UID:GID", v);
	for (i = 0; v[i]; i++)
		if ((unsigned char)v[i] <= ' ' || v[i] == '/')
			return bk_err_set(err, EINVAL, "user '%.64s': no blanks or '/'", v);
	return 0;
}

/* docker run -w: an absolute path, made at the start inside the container if missing. */
static int
check_workdir(const char *v, struct bk_err *err)
{
	const char *p;

	if (*v == '\0')
		return 0;
	if (v[0] != '/' || strlen(v) > 1024 || strchr(v, '\n'))
		return bk_err_set(err, EINVAL, "workdir '%.64s': an absolute path", v);
	for (p = v; (p = strstr(p, "/..")) != NULL; p += 3)
		if (p[3] == '\0' || p[3] == '/')
			return bk_err_set(err, EINVAL, "workdir '%.64s': no '..'", v);
	return 0;
}

/* The mounts ops/ checked (sources resolved, volumes made); nothing changes on error. */
static int
set_mounts_locked(struct container *c, const char *text, struct bk_err *err)
{
	struct mount_spec *m;
	size_t n;

	if (mounts_parse(text, &m, &n, err) < 0)
		return -err->code;
	mounts_free(c->mounts, c->nmounts);
	c->mounts = m;
	c->nmounts = n;
	return 0;
}

int
container_config(struct model *m, const char *id, const char *image_id, char id_out[BK_ID_SIZE],
		 json_t **config, struct bk_err *err)
{
	cleanup_close int dfd =
	    openat(m->store->containers_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_free char *text = NULL;
	struct bk_err rerr = BK_ERR_INIT;
	json_error_t jerr;

	if (dfd >= 0 && read_file_at(dfd, "image.json", CONFIG_MAX, &text, NULL, &rerr) == 0) {
		*config = json_loads(text, 0, &jerr);
		if (*config == NULL || !json_is_object(*config)) {
			json_decref(*config);
			*config = NULL;
			return bk_err_set(err, EBADMSG, "container %s: its image.json: %s", id,
					  jerr.text);
		}
		if (id_out != image_id)
			copy_str(id_out, BK_ID_SIZE, image_id);
		return 0;
	}
	if (rerr.code != ENOENT && rerr.code != 0)
		return bk_err_set(err, rerr.code, "container %s: %s", id, rerr.msg);
	return image_config_for(m, image_id, id_out, config, err);
}

int
container_config_keep(struct model *m, const char *id, json_t *config, struct bk_err *err)
{
	cleanup_close int dfd =
	    openat(m->store->containers_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_free char *text = json_dumps(config, JSON_COMPACT);

	if (dfd < 0)
		return bk_err_sys(err, "container %s", id);
	if (text == NULL)
		return bk_err_set(err, ENOMEM, "container %s: cannot encode its image config", id);
	return write_file_replace(dfd, "image.json", text, strlen(text), err);
}

int
container_set_mounts_locked(struct model *m, struct container *c, const char *text,
			    struct bk_err *err)
{
	if (set_mounts_locked(c, text, err) < 0)
		return -err->code;
	return container_save(m, c, err);
}

static int
set_ports_locked(struct container *c, const char *text, struct bk_err *err)
{
	struct port_map maps[PORTS_MAX];
	size_t n = 0;

	if (ports_parse(text, maps, PORTS_MAX, &n, err) < 0)
		return -err->code;
	free(c->ports);
	c->ports = n ? xcalloc(n, sizeof(*maps)) : NULL;
	if (n)
		memcpy(c->ports, maps, n * sizeof(*maps));
	c->nports = n;
	return 0;
}

/*
 * Set a field other than limits (which a running container's cgroup must
 * take first: ops/) and save the record; EBUSY once started.  image_id: the
 * image value resolved (before the lock).  Lock held.
 */
int
container_set_locked(struct model *m, struct container *c, enum bk_ctr_field field,
		     const char *value, const char *image_id, bool append, struct bk_err *err)
{
	int ret = 0;

	if (c->state != BK_CTR_CREATED || c->busy) {
		/* One per enum bk_ctr_field, in its order (the assert below keeps it so). */
		static const char *const names[] = {
			[BK_CTR_IMAGE] = "image",     [BK_CTR_CMD] = "cmd",
			[BK_CTR_ENV] = "env",         [BK_CTR_LIMITS] = "limits",
			[BK_CTR_NET] = "net",         [BK_CTR_PORTS] = "ports",
			[BK_CTR_MOUNTS] = "mounts",   [BK_CTR_USER] = "user",
			[BK_CTR_WORKDIR] = "workdir", [BK_CTR_RESTART] = "restart",
			[BK_CTR_TTY] = "tty",         [BK_CTR_STDIN] = "stdin",
		};
		_Static_assert(ARRAY_SIZE(names) == BK_CTR_STDIN + 1, "a name for each field");

		return bk_err_set(err, EBUSY, "container %s has been started: %s cannot change",
				  c->id, names[field]);
	}
	/* Resolved before the lock: an rmdir of the image may have come in between. */
	if (field == BK_CTR_IMAGE && !image_exists_locked(m, image_id))
		return bk_err_set(err, ENOENT, "no image named '%s' (removed meanwhile)", value);
	switch (field) {
	case BK_CTR_IMAGE:
		free(c->image);
		c->image = xstrdup(value);
		copy_str(c->image_id, sizeof(c->image_id), image_id);
		break;
	case BK_CTR_CMD:
		free(c->cmd);
		c->cmd = value[0] ? xstrdup(value) : NULL;
		break;
	case BK_CTR_ENV:
		ret = set_env_locked(c, value, append, err);
		break;
	case BK_CTR_LIMITS:
	case BK_CTR_RESTART:
		break;
	case BK_CTR_NET:
		ret = set_net_locked(c, value, err);
		break;
	case BK_CTR_PORTS:
		ret = set_ports_locked(c, value, err);
		break;
	case BK_CTR_MOUNTS:
		ret = set_mounts_locked(c, value, err);
		break;
	case BK_CTR_USER:
		ret = check_user(value, err);
		if (ret == 0) {
			free(c->user);
			c->user = value[0] ? xstrdup(value) : NULL;
		}
		break;
	case BK_CTR_TTY:
	case BK_CTR_STDIN:
		if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0 && value[0] != '\0') {
			ret = bk_err_set(err, EINVAL, "%s: 0 or 1",
					 field == BK_CTR_TTY ? "tty" : "stdin");
			break;
		}
		*(field == BK_CTR_TTY ? &c->tty : &c->stdin_open) = value[0] == '1';
		break;
	case BK_CTR_WORKDIR:
		ret = check_workdir(value, err);
		if (ret == 0) {
			free(c->workdir);
			c->workdir = value[0] ? xstrdup(value) : NULL;
		}
		break;
	}
	return ret < 0 ? ret : container_save(m, c, err);
}

static char *
join_lines(char **v, size_t n)
{
	size_t i, len = 1;
	char *s, *p;

	for (i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	p = s = xmalloc(len);
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s\n", v[i]);
	*p = '\0';
	return s;
}

int
container_info(struct model *m, const char *id, uint64_t serial, struct bk_container_info *out,
	       struct bk_err *err)
{
	struct container *c;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&m->lock);
	c = container_find_locked(m, id, serial);
	if (c == NULL) {
		pthread_mutex_unlock(&m->lock);
		return bk_err_set(err, ENOENT, "no container '%s'", id ? id : "?");
	}
	copy_str(out->id, sizeof(out->id), c->id);
	out->serial = c->serial;
	out->state = c->broken ? BK_CTR_BROKEN : c->state;
	out->broken = xstrdup(c->broken ? c->broken : "");
	out->broken_code = c->broken ? c->broken_code : 0;
	out->image = xstrdup(c->image ? c->image : "");
	out->image_id = xstrdup(c->image_id);
	out->cmd = xstrdup(c->cmd ? c->cmd : "");
	out->user = xstrdup(c->user ? c->user : "");
	restart_format(&c->restart, out->restart, sizeof(out->restart));
	out->restarts = c->restarts;
	out->tty = c->tty;
	out->stdin_open = c->stdin_open;
	out->workdir = xstrdup(c->workdir ? c->workdir : "");
	out->env = join_lines(c->env, c->nenv);
	{
		char text[256];

		limits_format(&c->limits, text, sizeof(text));
		out->limits = xstrdup(text);
	}
	out->net = NULL; /* the caller's: it knows the network (ops/network.c) */
	out->ports = ports_format(c->ports, c->nports);
	if (out->ports == NULL)
		out->ports = xstrdup("");
	out->mounts = mounts_format(c->mounts, c->nmounts);
	if (c->ip && c->net_mode == NET_MODE_BRIDGE)
		ip_format(c->ip, out->ip);
	if (c->foreign)
		out->root_path = xstrdup(c->foreign->rootfs);
	else
		out->root_path = c->rootfs_made
				     ? xasprintf("%s/containers/%s/rootfs", m->store->path, c->id)
				     : xstrdup("");
	out->origin = c->foreign
			  ? xasprintf("runtime bockerfs-runtime\noci_id %s\noci_root %s\n"
				      "oci_status %s\nbundle %s\ncaller %s\n",
				      c->foreign->oci_id, c->foreign->root, c->foreign->status,
				      c->foreign->bundle, c->foreign->caller)
			  : xstrdup("");
	memcpy(out->created, c->created, sizeof(out->created));
	memcpy(out->started, c->started, sizeof(out->started));
	memcpy(out->finished, c->finished, sizeof(out->finished));
	out->pid =
	    c->state == BK_CTR_RUNNING || (c->foreign && c->state == BK_CTR_CREATED) ? c->pid : 0;
	out->exited = c->exited;
	out->exit_code = c->exit_code;
	out->exit_signal = c->exit_signal;
	out->oomkilled = c->oomkilled;
	out->exit_pending = c->foreign && c->foreign->reap_wait != 0;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void
bk_container_info_free(struct bk_container_info *info)
{
	free(info->image);
	free(info->image_id);
	free(info->cmd);
	free(info->user);
	free(info->workdir);
	free(info->env);
	free(info->limits);
	free(info->net);
	free(info->ports);
	free(info->mounts);
	free(info->root_path);
	free(info->cgroup);
	free(info->broken);
	free(info->origin);
	memset(info, 0, sizeof(*info));
}

/* Just the id of the container with serial (cheap): 0 or -ENOENT. */
int
container_id_of(struct model *m, uint64_t serial, char id[BK_ID_SIZE])
{
	struct container *c;

	pthread_mutex_lock(&m->lock);
	c = container_find_locked(m, NULL, serial);
	if (c)
		copy_str(id, BK_ID_SIZE, c->id);
	pthread_mutex_unlock(&m->lock);
	return c ? 0 : -ENOENT;
}

/* The state alone, without copying the record: `state` is read often. */
int
container_state_of(struct model *m, uint64_t serial, enum bk_ctr_state *state)
{
	struct container *c;

	pthread_mutex_lock(&m->lock);
	c = container_find_locked(m, NULL, serial);
	if (c)
		*state = c->broken ? BK_CTR_BROKEN : c->state;
	pthread_mutex_unlock(&m->lock);
	return c ? 0 : -ENOENT;
}

int
container_list(struct model *m, struct bk_container_entry **out, size_t *n)
{
	struct bk_container_entry *list;
	size_t i;

	pthread_mutex_lock(&m->lock);
	list = xcalloc(m->nctrs, sizeof(*list));
	for (i = 0; i < m->nctrs; i++) {
		struct container *c = m->ctrs[i];

		copy_str(list[i].id, sizeof(list[i].id), c->id);
		list[i].serial = c->serial;
		list[i].cmd = xstrdup(c->cmd ? c->cmd : "");
	}
	*n = m->nctrs;
	pthread_mutex_unlock(&m->lock);
	*out = list;
	return 0;
}

void
bk_container_list_free(struct bk_container_entry *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i].cmd);
	free(list);
}

int
container_open_log(struct model *m, uint64_t serial, bool rotated, struct bk_err *err)
{
	char path[BK_ID_SIZE + 16];
	struct container *c;
	int fd;

	pthread_mutex_lock(&m->lock);
	c = container_find_locked(m, NULL, serial);
	if (c == NULL) {
		pthread_mutex_unlock(&m->lock);
		return bk_err_set(err, ENOENT, "no such container");
	}
	snprintf(path, sizeof(path), "%s/%s", c->id, rotated ? "log.1" : "log");
	pthread_mutex_unlock(&m->lock);
	fd = openat(m->store->containers_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		/* Not started yet, or never rotated: an empty log. */
		if (errno == ENOENT)
			fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return bk_err_sys(err, "open %s", path);
	}
	return fd;
}
