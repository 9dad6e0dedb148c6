/*
 * engine.h: the engine's private state, shared by its files (never by fsd/).
 */
#ifndef BK_ENGINE_H
#define BK_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <jansson.h>

#include "bocker.h"
#include "parse/parse.h"
#include "net/net.h"
#include "store/store.h"
#include "proc/proc.h"
#include "model/model.h"
#include "ops/ops.h"

/* The engine: one part per layer. */
struct bk_engine {
	struct store store;
	struct model model;
	struct procs procs;
	struct network net;
	struct pull_config *registry; /* registry settings (pull.c), NULL: defaults */
	struct monitor monitor;
	struct spares spares;
	struct execs execs;
};

#endif
