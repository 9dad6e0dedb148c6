/*
 * compiler.h: attributes the compiler checks for us.  Header-only.
 */
#ifndef BK_COMMON_COMPILER_H
#define BK_COMMON_COMPILER_H

/* The result says whether it worked: dropping it is a compile error (-Werror). */
#define must_check __attribute__((warn_unused_result))

/*
 * Not instrumented by the sanitizers: code that runs in a child sharing the
 * parent's memory (CLONE_VM), where ASan's per-thread state is the parent's.
 */
#define no_sanitize_child __attribute__((no_sanitize("address", "undefined")))

#endif
