/*
 * Fuzz engine/parse/oci_spec.c: oci_spec_parse on each input, oci_process_parse
 * on it and on its "process" member, oci_state_parse (a runtime record, which
 * the daemon reads too), and oci_signal_parse, oci_cap_parse and oci_id_valid
 * on it as a string.  Checks: a failure is EINVAL (E2BIG for
 * size) with a message and leaves the output zeroed; what is accepted keeps
 * the header's promises (args non-empty, every mount destination, hook path
 * and listed path absolute, env entries NAME=VALUE, vectors NULL-terminated,
 * values in their ranges); a config's process member parses alone the same
 * way; and everything is freed (the leak checker runs).
 */
#include <errno.h>
#include <jansson.h>
#include <sys/mount.h>

#include "fuzz.h"
#include "parse/oci_spec.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* jansson seeds its hash tables from /dev/urandom: fixed, runs repeat. */
	json_object_seed(1);
	bk_log_set_sink(fuzz_quiet_sink);
	return 0;
}

static bool
absolute(const char *p)
{
	return p != NULL && p[0] == '/';
}

static void
check_strv(char **v, bool env, bool paths)
{
	size_t i;

	FUZZ_ASSERT(v != NULL);
	for (i = 0; v[i] != NULL; i++) {
		FUZZ_ASSERT(i < OCI_LIST_MAX && strlen(v[i]) <= OCI_STRING_MAX);
		if (env)
			FUZZ_ASSERT(v[i][0] != '=' && strchr(v[i], '=') != NULL);
		if (paths)
			FUZZ_ASSERT(absolute(v[i]));
	}
}

static void
check_process(const struct oci_process *p)
{
	uint32_t seen = 0;
	size_t i;

	check_strv(p->args, false, false);
	FUZZ_ASSERT(p->args[0] != NULL && p->args[0][0] != '\0');
	check_strv(p->env, true, false);
	FUZZ_ASSERT(absolute(p->cwd));
	FUZZ_ASSERT(p->uid != (uid_t)-1 && p->gid != (gid_t)-1);
	FUZZ_ASSERT(!p->has_umask || p->umask <= 0777);
	FUZZ_ASSERT(p->console_height <= 65535 && p->console_width <= 65535);
	FUZZ_ASSERT(p->n_additional_gids <= OCI_LIST_MAX);
	FUZZ_ASSERT((p->n_additional_gids == 0) == (p->additional_gids == NULL));
	for (i = 0; i < p->n_additional_gids; i++)
		FUZZ_ASSERT(p->additional_gids[i] != (gid_t)-1);
	FUZZ_ASSERT(((p->caps.bounding | p->caps.effective | p->caps.inheritable |
		      p->caps.permitted | p->caps.ambient) >>
		     41) == 0);
	FUZZ_ASSERT(p->has_caps || (p->caps.bounding | p->caps.effective | p->caps.permitted) == 0);
	for (i = 0; i < p->n_rlimits; i++) {
		const struct oci_rlimit *r = &p->rlimits[i];

		FUZZ_ASSERT(r->resource >= 0 && r->resource < 16);
		FUZZ_ASSERT(!(seen & (1u << r->resource)));
		seen |= 1u << r->resource;
		FUZZ_ASSERT(r->soft <= r->hard);
	}
	FUZZ_ASSERT(!p->has_oom_score_adj ||
		    (p->oom_score_adj >= -1000 && p->oom_score_adj <= 1000));
	FUZZ_ASSERT(p->has_oom_score_adj || p->oom_score_adj == 0);
}

static void
check_mounts(const struct oci_spec *s)
{
	static const unsigned long props[] = { MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_UNBINDABLE };
	size_t i, k;

	for (i = 0; i < s->n_mounts; i++) {
		const struct oci_mount *m = &s->mounts[i];
		bool prop_ok = m->propagation == 0;

		FUZZ_ASSERT(absolute(m->destination));
		FUZZ_ASSERT(m->type != NULL && m->type[0] != '\0' && m->data != NULL);
		FUZZ_ASSERT(m->bind == ((m->flags & MS_BIND) != 0));
		FUZZ_ASSERT(m->bind == (strcmp(m->type, "bind") == 0));
		for (k = 0; k < 4; k++)
			prop_ok |=
			    m->propagation == props[k] || m->propagation == (props[k] | MS_REC);
		FUZZ_ASSERT(prop_ok);
	}
}

static void
check_linux(const struct oci_spec *s)
{
	size_t i;

	for (i = 0; i < OCI_NS_COUNT; i++)
		FUZZ_ASSERT(s->ns[i].path == NULL || (s->ns[i].present && absolute(s->ns[i].path)));
	FUZZ_ASSERT(s->n_uid_mappings == 0 || s->ns[OCI_NS_USER].present);
	FUZZ_ASSERT(s->n_gid_mappings == 0 || s->ns[OCI_NS_USER].present);
	for (i = 0; i < s->n_uid_mappings; i++)
		FUZZ_ASSERT(s->uid_mappings[i].size > 0);
	for (i = 0; i < s->n_gid_mappings; i++)
		FUZZ_ASSERT(s->gid_mappings[i].size > 0);
	for (i = 0; i < s->resources.n_devices; i++) {
		const struct oci_device_rule *d = &s->resources.devices[i];

		FUZZ_ASSERT(d->type == 'a' || d->type == 'c' || d->type == 'b');
		FUZZ_ASSERT(d->access[0] != '\0' && strspn(d->access, "rwm") == strlen(d->access));
		FUZZ_ASSERT(d->major >= -1 && d->minor >= -1);
	}
	FUZZ_ASSERT(s->has_resources || s->resources.n_devices == 0);
	for (i = 0; i < s->n_sysctl; i++) {
		FUZZ_ASSERT(s->sysctl[i].key[0] != '\0' && strstr(s->sysctl[i].key, "..") == NULL);
		FUZZ_ASSERT(s->sysctl[i].value != NULL);
	}
	check_strv(s->masked_paths, false, true);
	check_strv(s->readonly_paths, false, true);
	for (i = 0; i < s->n_devices; i++) {
		FUZZ_ASSERT(strncmp(s->devices[i].path, "/dev/", 5) == 0);
		FUZZ_ASSERT(strchr("cbup", s->devices[i].type) && s->devices[i].type != '\0');
		FUZZ_ASSERT(s->devices[i].mode <= 07777);
	}
	FUZZ_ASSERT(s->hostname == NULL || (s->hostname[0] && strlen(s->hostname) <= 64));
	FUZZ_ASSERT(s->hostname == NULL || s->ns[OCI_NS_UTS].present);
}

static void
check_seccomp(const struct oci_seccomp *sc)
{
	size_t i, k;

	FUZZ_ASSERT(sc->default_action <= OCI_ACT_LOG);
	check_strv(sc->architectures, false, false);
	check_strv(sc->flags, false, false);
	for (i = 0; i < sc->n_rules; i++) {
		const struct oci_seccomp_rule *r = &sc->rules[i];

		check_strv(r->names, false, false);
		FUZZ_ASSERT(r->names[0] != NULL && r->action <= OCI_ACT_LOG);
		FUZZ_ASSERT(!r->has_errno || r->action == OCI_ACT_ERRNO ||
			    r->action == OCI_ACT_TRACE);
		for (k = 0; k < r->n_args; k++)
			FUZZ_ASSERT(r->args[k].index <= 5 && r->args[k].op <= OCI_OP_MASKED_EQ);
	}
}

static void
check_spec(const struct oci_spec *s)
{
	json_t *a;
	size_t k, i;

	FUZZ_ASSERT(s->oci_version != NULL && s->oci_version[0] == '1');
	check_process(&s->process);
	FUZZ_ASSERT(s->root_path != NULL && s->root_path[0] != '\0');
	check_mounts(s);
	for (k = 0; k < OCI_HOOK_KINDS; k++)
		for (i = 0; i < s->n_hooks[k]; i++) {
			FUZZ_ASSERT(absolute(s->hooks[k][i].path) && s->hooks[k][i].timeout >= 0);
			check_strv(s->hooks[k][i].args, false, false);
			check_strv(s->hooks[k][i].env, true, false);
		}
	a = json_loads(s->annotations_json, 0, NULL);
	FUZZ_ASSERT(json_is_object(a));
	json_decref(a);
	check_linux(s);
	if (s->has_seccomp)
		check_seccomp(&s->seccomp);
	else
		FUZZ_ASSERT(s->seccomp.rules == NULL && s->seccomp.architectures == NULL);
}

static bool
zeroed(const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		if (*c++ != 0)
			return false;
	return true;
}

/* A config's process member alone must parse as it did inside the config. */
static void
check_member(const char *body, size_t len, const struct oci_process *want)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_process p;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	char *text;
	int ret;

	/* numbers above INT64_MAX: plain jansson cannot load the document (oci_spec.c can) */
	if (j == NULL)
		return;
	text = json_dumps(json_object_get(j, "process"), JSON_COMPACT | JSON_ALLOW_NUL);
	json_decref(j);
	FUZZ_ASSERT(text != NULL);
	ret = oci_process_parse(text, strlen(text), &p, &err);
	free(text);
	if (ret < 0) {
		fprintf(stderr, "fuzz: the config's process does not parse alone: %s\n", err.msg);
		abort();
	}
	FUZZ_ASSERT(strcmp(p.args[0], want->args[0]) == 0 && strcmp(p.cwd, want->cwd) == 0);
	FUZZ_ASSERT(p.n_rlimits == want->n_rlimits && p.caps.bounding == want->caps.bounding);
	oci_process_free(&p);
}

static void
check_strings(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	int n = oci_signal_parse(s);
	size_t i;

	FUZZ_ASSERT(n == -EINVAL || (n >= 1 && n <= 64));
	n = oci_cap_parse(s);
	FUZZ_ASSERT(n == -EINVAL || (n >= 0 && n <= 40));
	if (oci_id_valid(s)) {
		FUZZ_ASSERT(strlen(s) <= OCI_ID_MAX && strchr("./_+-", s[0]) == NULL);
		for (i = 0; s[i]; i++)
			FUZZ_ASSERT(strchr("/: \n", s[i]) == NULL && (unsigned char)s[i] < 0x80);
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_err err = BK_ERR_INIT;
	struct oci_spec s;
	struct oci_process p;
	struct oci_state_rec rec;
	/* A copy of exactly size bytes: ASan sees any read past the body. */
	char *body = malloc(size ? size : 1);
	int ret;

	if (body == NULL)
		abort();
	memcpy(body, data, size);
	ret = oci_spec_parse(body, size, &s, &err);
	fuzz_check_err(ret, &err, "oci_spec_parse");
	if (ret < 0) {
		FUZZ_ASSERT(ret == -EINVAL || ret == -E2BIG);
		FUZZ_ASSERT(zeroed(&s, sizeof(s)));
	} else {
		check_spec(&s);
		check_member(body, size, &s.process);
		oci_spec_free(&s);
		FUZZ_ASSERT(zeroed(&s, sizeof(s)));
	}
	err = (struct bk_err)BK_ERR_INIT;
	ret = oci_process_parse(body, size, &p, &err);
	fuzz_check_err(ret, &err, "oci_process_parse");
	if (ret < 0) {
		FUZZ_ASSERT(ret == -EINVAL || ret == -E2BIG);
		FUZZ_ASSERT(zeroed(&p, sizeof(p)));
	} else {
		check_process(&p);
		oci_process_free(&p);
	}
	err = (struct bk_err)BK_ERR_INIT;
	ret = oci_state_parse(body, size, &rec, &err);
	fuzz_check_err(ret, &err, "oci_state_parse");
	if (ret < 0) {
		FUZZ_ASSERT(ret == -EBADMSG);
		FUZZ_ASSERT(zeroed(&rec, sizeof(rec)));
	} else {
		FUZZ_ASSERT(rec.pid >= 0 && rec.bundle && rec.rootfs && rec.created && rec.cgroup &&
			    rec.caller && rec.annotations && rec.annotations[0] == '{');
		oci_state_rec_free(&rec);
	}
	free(body);
	check_strings(data, size);
	return 0;
}
