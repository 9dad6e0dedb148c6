/*
 * compiler.h: attributes the compiler checks for us.  Header-only.
 */
#ifndef BK_COMMON_COMPILER_H
#define BK_COMMON_COMPILER_H

/* The result says whether it worked: dropping it is a compile error (-Werror). */
#define must_check __attribute__((warn_unused_result))

#endif
