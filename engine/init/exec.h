/*
 * exec.h: bockerfs-init's exec-session mode (see exec.c).
 */
#ifndef BK_INIT_EXEC_H
#define BK_INIT_EXEC_H

int exec_main(int argc, char **argv);

#endif
