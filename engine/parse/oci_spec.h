/*
 * oci_spec.h: an OCI runtime bundle's config.json (runtime-spec 1.0-1.1), and
 * a process JSON of `exec --process`, parsed into plain C for the runtime
 * (engine/proc/oci_*.c).  Pure: no I/O; jansson for the JSON.
 *
 * What is accepted is what the engine carries out.  A field it cannot honour
 * is refused by name ("linux.resources.blockIO: not supported"), never
 * dropped: a caller that asked for a limit or a namespace must not get a
 * container without it.  Fields that only describe (annotations,
 * ociVersion's minor) or that runc too ignores where the host lacks the
 * feature (process.apparmorProfile and selinuxLabel, linux.mountLabel) are
 * kept as strings for the caller to judge.
 */
#ifndef BK_PARSE_OCI_SPEC_H
#define BK_PARSE_OCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bk_err;

#define OCI_SPEC_MAX     (4u << 20) /* bytes of config.json accepted */
#define OCI_LIST_MAX     4096       /* entries of any one array (mounts, env, args...) */
#define OCI_STRING_MAX   65536      /* bytes of any one string */
#define OCI_ID_MAX       1024       /* container ids: [A-Za-z0-9][A-Za-z0-9_.-]* */
#define OCI_CAP_LAST_MAX 63         /* capability numbers fit a uint64_t */

/* ---- process ------------------------------------------------------------------------------ */

struct oci_rlimit {
	int resource; /* RLIMIT_*, from "RLIMIT_NOFILE" etc. */
	uint64_t hard, soft;
};

struct oci_caps {
	/* bit n = capability n ("CAP_CHOWN" = 0...); unknown names are refused */
	uint64_t bounding, effective, inheritable, permitted, ambient;
};

struct oci_process {
	bool terminal;
	unsigned console_height, console_width; /* consoleSize, 0 if absent */
	uid_t uid;
	gid_t gid;
	bool has_umask;
	mode_t umask;
	gid_t *additional_gids;
	size_t n_additional_gids;
	char **args; /* NULL-terminated, at least one entry */
	char **env;  /* NULL-terminated, may be empty ("KEY=VALUE" each, checked) */
	char *cwd;   /* absolute */
	struct oci_caps caps;
	bool has_caps; /* false: "capabilities" absent (no capabilities at all) */
	struct oci_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;      /* -1000..1000 */
	char *apparmor_profile; /* NULL if absent */
	char *selinux_label;    /* NULL if absent */
};

/* ---- root, mounts --------------------------------------------------------------------------- */

struct oci_mount {
	char *destination;   /* absolute (a relative one is refused, as runc 1.1 warns) */
	char *type;          /* "bind", "proc", "tmpfs"...; "bind" also when options say bind */
	char *source;        /* NULL if absent */
	unsigned long flags; /* MS_* from the options (MS_RDONLY, MS_NOSUID, MS_BIND, MS_REC...) */
	unsigned long
	    propagation; /* MS_PRIVATE|MS_SLAVE|MS_SHARED|MS_UNBINDABLE (| MS_REC), 0 if none */
	bool bind;       /* options had bind or rbind, or type is "bind" */
	char *data; /* the options that are not flags, comma-joined ("mode=755,size=65536k"); "" if
		       none */
};

/* ---- linux ---------------------------------------------------------------------------------- */

enum oci_ns {
	OCI_NS_PID,
	OCI_NS_NET,
	OCI_NS_MNT,
	OCI_NS_IPC,
	OCI_NS_UTS,
	OCI_NS_USER,
	OCI_NS_CGROUP,
	OCI_NS_COUNT /* "time" is refused: not supported */
};

struct oci_namespace {
	bool present; /* listed in linux.namespaces */
	char *path;   /* join this one (absolute), NULL: a new one */
};

struct oci_id_map {
	uint32_t container_id, host_id, size;
};

struct oci_device_rule { /* linux.resources.devices[] */
	bool allow;
	char type;      /* 'a', 'c' or 'b' ("a" when absent) */
	int64_t major;  /* -1: any (absent) */
	int64_t minor;  /* -1: any */
	char access[4]; /* a subset of "rwm", in that order ("rwm" when absent) */
};

struct oci_resources {
	/* -1 (or 0 for shares) when absent */
	int64_t memory_limit, memory_swap, memory_reservation;
	bool memory_disable_oom_killer;
	int64_t memory_swappiness;  /* 0..100, -1 when absent (v1 only) */
	bool memory_kernel_ignored; /* kernel or kernelTCP was set: not limited apart any more */
	int64_t cpu_shares, cpu_quota, cpu_period;
	char *cpuset_cpus, *cpuset_mems; /* NULL if absent */
	int64_t pids_limit;
	struct oci_device_rule *devices;
	size_t n_devices;
};

struct oci_device { /* linux.devices[] */
	char *path; /* absolute, under /dev */
	char type;  /* 'c', 'b', 'u' (= 'c') or 'p' */
	int64_t major, minor;
	bool has_mode;
	mode_t mode; /* fileMode, permission bits only */
	uid_t uid;
	gid_t gid;
};

struct oci_sysctl {
	char *key, *value; /* key: [A-Za-z0-9_.-/] only, no "..", namespaced */
};

/* ---- seccomp -------------------------------------------------------------------------------- */

enum oci_seccomp_op {
	OCI_OP_NE,
	OCI_OP_LT,
	OCI_OP_LE,
	OCI_OP_EQ,
	OCI_OP_GE,
	OCI_OP_GT,
	OCI_OP_MASKED_EQ
};

struct oci_seccomp_arg {
	unsigned index; /* 0..5 */
	uint64_t value, value_two;
	enum oci_seccomp_op op;
};

/* An action: SCMP_ACT_* as libseccomp's numbers are built, kept symbolic here (parse/ has no
 * libseccomp). */
enum oci_seccomp_action {
	OCI_ACT_KILL, /* SCMP_ACT_KILL (thread) */
	OCI_ACT_KILL_PROCESS,
	OCI_ACT_KILL_THREAD,
	OCI_ACT_TRAP,
	OCI_ACT_ERRNO,
	OCI_ACT_TRACE,
	OCI_ACT_ALLOW,
	OCI_ACT_LOG,
	/* SCMP_ACT_NOTIFY is refused: it needs listenerPath, not supported */
};

struct oci_seccomp_rule {
	char **names; /* NULL-terminated, at least one */
	enum oci_seccomp_action action;
	bool has_errno;
	unsigned errno_ret; /* errnoRet, for ERRNO and TRACE */
	struct oci_seccomp_arg *args;
	size_t n_args;
};

struct oci_seccomp {
	enum oci_seccomp_action default_action;
	bool has_default_errno;
	unsigned default_errno_ret;
	char **architectures; /* NULL-terminated "SCMP_ARCH_X86_64"...; may be empty */
	char **flags;         /* NULL-terminated "SECCOMP_FILTER_FLAG_..."; may be empty */
	struct oci_seccomp_rule *rules;
	size_t n_rules;
};

/* ---- hooks ---------------------------------------------------------------------------------- */

enum oci_hook_kind {
	OCI_HOOK_PRESTART,
	OCI_HOOK_CREATE_RUNTIME,
	OCI_HOOK_CREATE_CONTAINER,
	OCI_HOOK_START_CONTAINER,
	OCI_HOOK_POSTSTART,
	OCI_HOOK_POSTSTOP,
	OCI_HOOK_KINDS
};

struct oci_hook {
	char *path;  /* absolute */
	char **args; /* NULL-terminated, may be empty (then argv is just path) */
	char **env;  /* NULL-terminated, may be empty */
	int timeout; /* seconds, 0: none */
};

/* ---- the whole config ------------------------------------------------------------------------ */

struct oci_spec {
	char *oci_version; /* "1.0.x" or "1.1.x"...; another major is refused */
	struct oci_process
	    process;     /* config.json without "process" is refused (create needs one) */
	char *root_path; /* as written: relative to the bundle, or absolute */
	bool root_readonly;
	char *hostname;   /* NULL if absent */
	char *domainname; /* NULL if absent */
	struct oci_mount *mounts;
	size_t n_mounts;
	struct oci_hook *hooks[OCI_HOOK_KINDS];
	size_t n_hooks[OCI_HOOK_KINDS];
	char *annotations_json; /* the "annotations" object as compact JSON, "{}" if absent */

	struct oci_namespace ns[OCI_NS_COUNT];
	struct oci_id_map *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	bool has_resources;
	struct oci_resources resources;
	char *cgroups_path; /* NULL if absent */
	struct oci_sysctl *sysctl;
	size_t n_sysctl;
	char **masked_paths;   /* NULL-terminated, absolute each */
	char **readonly_paths; /* NULL-terminated, absolute each */
	struct oci_device *devices;
	size_t n_devices;
	bool has_seccomp;
	struct oci_seccomp seccomp;
	unsigned long rootfs_propagation; /* MS_PRIVATE|MS_SLAVE|MS_SHARED|MS_UNBINDABLE, | MS_REC
					     as given; 0: absent */
	char *mount_label;                /* NULL if absent */
};

/*
 * Parse config.json (len bytes, not NUL-terminated, at most OCI_SPEC_MAX).
 * Returns 0 with *out filled (free with oci_spec_free), or -EINVAL (or
 * -E2BIG, -ENOMEM) with err naming the field: "mounts[3].destination: not
 * absolute", "linux.resources.hugepageLimits: not supported".
 */
int oci_spec_parse(const char *json, size_t len, struct oci_spec *out, struct bk_err *err);
void oci_spec_free(struct oci_spec *s);

/* A process JSON (`exec --process FILE`), the same rules as config.json's "process". */
int oci_process_parse(const char *json, size_t len, struct oci_process *out, struct bk_err *err);
void oci_process_free(struct oci_process *p);

/* A container id as runc accepts it: [A-Za-z0-9][A-Za-z0-9_.+-]*, at most OCI_ID_MAX bytes. */
bool oci_id_valid(const char *id);

/*
 * A runtime container's record (<state root>/<id>/state.json), as
 * engine/oci/record.c writes it: EBADMSG if it is not one.  Strings are ""
 * when absent; free with oci_state_rec_free.
 */
struct oci_state_rec {
	pid_t pid;          /* its init's, 0 while it is being created */
	uint64_t pid_start; /* /proc/PID/stat field 22: tells a reused pid */
	char *bundle, *rootfs, *created;
	char *cgroup;      /* the group's path from the hierarchy's root */
	char *caller;      /* who ran create: "containerd-shim[812]" */
	char *annotations; /* a compact JSON object */
};
int oci_state_parse(const char *text, size_t len, struct oci_state_rec *out, struct bk_err *err);
/*
 * The name of a runtime container's entry in a bockerfs store: "<32 hex>.json",
 * the digest of its state root and id (the runtime writes it, the daemon checks
 * it).  out has room for OCI_ENTRY_NAME_SIZE.
 */
#define OCI_ENTRY_NAME_SIZE 40
void oci_entry_name(const char *root, const char *id, char out[OCI_ENTRY_NAME_SIZE]);
void oci_state_rec_free(struct oci_state_rec *r);

/* "SIGKILL", "KILL", "9" (1..64, SIGRTMIN+n too): the number, or -EINVAL. */
int oci_signal_parse(const char *s);

/* The capability's number from "CAP_NET_ADMIN", or -EINVAL. */
int oci_cap_parse(const char *name);

#endif
