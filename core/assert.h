#pragma once
// Programmer errors crash loudly, in every build type. Operating errors are values or typed
// exceptions; never use CLUBOS_ASSERT for anything the outside world can cause.
#include <cstdio>
#include <cstdlib>

#define CLUBOS_ASSERT(cond, msg)                                                         \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "assertion failed: %s (%s) at %s:%d\n", #cond, msg, __FILE__, \
                   __LINE__);                                                            \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
