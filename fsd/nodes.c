/*
 * The table of node kinds: each one's name, the directory it appears in, its
 * mode and how its reads and writes behave (acme's Dirtab).  Everything else
 * about the tree's shape is derived from it (tree.c).
 */
#include <sys/stat.h>

#include "fsd.h"

#define DIR_MODE  (S_IFDIR | 0700)
#define RO_MODE   (S_IFREG | 0400)
#define RW_MODE   (S_IFREG | 0600)
#define LINK_MODE (S_IFLNK | 0777)

const struct node_type node_types[N_KIND_MAX] = {
	[N_ROOT] = { "", N_NONE, DIR_MODE, IO_DIR },
	[N_VERSION] = { "version", N_ROOT, RO_MODE, IO_TEXT },
	[N_ERRORS] = { "errors", N_ROOT, RO_MODE, IO_TEXT },
	[N_EVENTS] = { "events", N_ROOT, RO_MODE, IO_EVENTS },
	[N_IMAGES] = { "images", N_ROOT, DIR_MODE, IO_DIR },
	[N_CTRS] = { "containers", N_ROOT, DIR_MODE, IO_DIR },
	[N_NET] = { "net", N_ROOT, DIR_MODE, IO_DIR },
	[N_VOLS] = { "volumes", N_ROOT, DIR_MODE, IO_DIR },
	[N_DF] = { "df", N_ROOT, RO_MODE, IO_TEXT },
	[N_PRUNE] = { "prune", N_ROOT, RW_MODE, IO_CONTROL },

	[N_IMAGES_INDEX] = { "index", N_IMAGES, RO_MODE, IO_TEXT },
	[N_IMAGES_IMPORT] = { "import", N_IMAGES, RW_MODE, IO_CONTROL },
	[N_IMAGES_PULL] = { "pull", N_IMAGES, RW_MODE, IO_CONTROL },
	[N_IMAGES_BUILD] = { "build", N_IMAGES, RW_MODE, IO_CONTROL },
	[N_IMAGES_SAVE] = { "save", N_IMAGES, RW_MODE, IO_CONTROL },
	[N_IMAGES_LOAD] = { "load", N_IMAGES, RW_MODE, IO_CONTROL },
	[N_IMAGES_ERR] = { "err", N_IMAGES, RO_MODE, IO_TEXT },
	[N_IMG] = { NULL, N_IMAGES, DIR_MODE, IO_DIR },
	[N_IMG_SOURCE] = { "source", N_IMG, RO_MODE, IO_TEXT },
	[N_IMG_REF] = { "ref", N_IMG, RW_MODE, IO_CONFIG },
	[N_IMG_STATE] = { "state", N_IMG, RO_MODE, IO_TEXT },
	[N_IMG_CONFIG] = { "config", N_IMG, RO_MODE, IO_TEXT },
	[N_IMG_SIZE] = { "size", N_IMG, RO_MODE, IO_TEXT },
	[N_IMG_PROGRESS] = { "progress", N_IMG, RO_MODE, IO_TEXT },
	[N_IMG_MANIFEST] = { "manifest", N_IMG, RO_MODE, IO_TEXT },
	[N_IMG_DIGEST] = { "digest", N_IMG, RO_MODE, IO_TEXT },
	[N_IMG_LAYERS] = { "layers", N_IMG, RO_MODE, IO_TEXT },
	[N_IMG_ROOT] = { "root", N_IMG, LINK_MODE, IO_LINK },
	[N_IMG_ERR] = { "err", N_IMG, RO_MODE, IO_TEXT },
	[N_IMG_LOG] = { "log", N_IMG, RO_MODE, IO_LOG },
	[N_IMG_CTL] = { "ctl", N_IMG, RW_MODE, IO_CONTROL },

	[N_CTRS_INDEX] = { "index", N_CTRS, RO_MODE, IO_TEXT },
	[N_CTRS_CLONE] = { "clone", N_CTRS, RO_MODE, IO_CLONE },
	[N_CTRS_RUN] = { "run", N_CTRS, RW_MODE, IO_CONTROL },
	[N_CTRS_ERR] = { "err", N_CTRS, RO_MODE, IO_TEXT },
	[N_CTR] = { NULL, N_CTRS, DIR_MODE, IO_DIR },
	[N_CTR_CTL] = { "ctl", N_CTR, RW_MODE, IO_CONTROL },
	[N_CTR_IMAGE] = { "image", N_CTR, RW_MODE, IO_CONFIG },
	[N_CTR_CMD] = { "cmd", N_CTR, RW_MODE, IO_CONFIG },
	[N_CTR_ENV] = { "env", N_CTR, RW_MODE, IO_CONFIG },
	[N_CTR_LIMITS] = { "limits", N_CTR, RW_MODE, IO_CONFIG },
	[N_CTR_NET] = { "net", N_CTR, RW_MODE, IO_CONFIG },
	[N_CTR_PORTS] = { "ports", N_CTR, RW_MODE, IO_CONFIG },
	[N_CTR_MOUNTS] = { "mounts", N_CTR, RW_MODE, IO_CONFIG },
	[N_CTR_USER] = { "user", N_CTR, RW_MODE, IO_CONFIG },
	[N_CTR_WORKDIR] = { "workdir", N_CTR, RW_MODE, IO_CONFIG },
	[N_CTR_RESTART] = { "restart", N_CTR, RW_MODE, IO_CONFIG },
	[N_CTR_TTY] = { "tty", N_CTR, RW_MODE, IO_CONFIG },
	[N_CTR_STDIN] = { "stdin", N_CTR, RW_MODE, IO_CONFIG },
	[N_CTR_IN] = { "in", N_CTR, S_IFREG | 0200, IO_CTR_IN },
	[N_CTR_OUT] = { "out", N_CTR, RO_MODE, IO_CTR_OUT },
	[N_CTR_STATS] = { "stats", N_CTR, RO_MODE, IO_TEXT },
	[N_NET_BRIDGE] = { "bridge", N_NET, RO_MODE, IO_TEXT },
	[N_NET_LEASES] = { "leases", N_NET, RO_MODE, IO_TEXT },
	[N_CTR_STATE] = { "state", N_CTR, RO_MODE, IO_TEXT },
	[N_CTR_STATUS] = { "status", N_CTR, RO_MODE, IO_TEXT },
	[N_CTR_WAIT] = { "wait", N_CTR, RO_MODE, IO_WAIT },
	[N_CTR_LOG] = { "log", N_CTR, RO_MODE, IO_LOG },
	[N_CTR_PID] = { "pid", N_CTR, RO_MODE, IO_TEXT },
	[N_CTR_ROOT] = { "root", N_CTR, LINK_MODE, IO_LINK },
	[N_CTR_ERR] = { "err", N_CTR, RO_MODE, IO_TEXT },
	[N_CTR_EXEC] = { "exec", N_CTR, DIR_MODE, IO_DIR },
	[N_EXEC_CLONE] = { "clone", N_CTR_EXEC, RO_MODE, IO_EXEC_CLONE },
	[N_EXEC] = { NULL, N_CTR_EXEC, DIR_MODE, IO_DIR },
	[N_EXEC_CTL] = { "ctl", N_EXEC, RW_MODE, IO_CONTROL },
	[N_EXEC_OUT] = { "out", N_EXEC, RO_MODE, IO_EXEC_OUT },
	[N_EXEC_IN] = { "in", N_EXEC, S_IFREG | 0200, IO_EXEC_IN },
	[N_EXEC_WAIT] = { "wait", N_EXEC, RO_MODE, IO_EXEC_WAIT },

	[N_VOLS_INDEX] = { "index", N_VOLS, RO_MODE, IO_TEXT },
	[N_VOLS_ERR] = { "err", N_VOLS, RO_MODE, IO_TEXT },
	[N_VOL] = { NULL, N_VOLS, DIR_MODE, IO_DIR },
	[N_VOL_STATE] = { "state", N_VOL, RO_MODE, IO_TEXT },
	[N_VOL_CREATED] = { "created", N_VOL, RO_MODE, IO_TEXT },
	[N_VOL_USERS] = { "users", N_VOL, RO_MODE, IO_TEXT },
	[N_VOL_SIZE] = { "size", N_VOL, RO_MODE, IO_TEXT },
	[N_VOL_ROOT] = { "root", N_VOL, LINK_MODE, IO_LINK },
	[N_VOL_ERR] = { "err", N_VOL, RO_MODE, IO_TEXT },
};
