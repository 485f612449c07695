# SMS_STATIC_AGENT=ON: this configuration builds one target, sms-agent,
# linked fully statically (bin/sms-agent-static): no shared library, no
# dynamic loader, so the one file runs on any x86-64 Linux from kernel 3.2
# (glibc 2.36's floor) whatever its libc. Debian ships static archives of
# everything the agent links: glibc, libstdc++, OpenSSL, Boost.JSON, c-ares,
# xxHash, liburing. fmt has none (libfmt-dev ships libfmt.so only): it is
# used header-only here. The server and the tests are not built.
#
# The normal build makes this configuration in BUILD_DIR/static-agent
# (SMS_BUILD_STATIC_AGENT, the top-level CMakeLists.txt) and copies the
# stripped binary to BUILD_DIR/bin/sms-agent-static.

set(SMS_BUILD_TESTS OFF CACHE BOOL "" FORCE)
set(SMS_BUILD_BENCH OFF CACHE BOOL "" FORCE)
set(SMS_BUILD_SERVER OFF CACHE BOOL "" FORCE)
set(SMS_BUILD_STATIC_AGENT OFF CACHE BOOL "" FORCE)
if(SMS_SANITIZE OR SMS_TSAN)
  message(FATAL_ERROR "SMS_STATIC_AGENT cannot be combined with sanitizers")
endif()

# Every find_library (pkg-config's imported targets included) takes the
# static archive.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(Boost_USE_STATIC_LIBS ON)
set(OPENSSL_USE_STATIC_LIBS TRUE)

# fmt, header-only, under the name the libraries link (fmt::fmt).
find_path(SMS_FMT_INCLUDE_DIR fmt/format.h REQUIRED)
add_library(fmt::fmt INTERFACE IMPORTED)
set_target_properties(fmt::fmt PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${SMS_FMT_INCLUDE_DIR}"
  INTERFACE_COMPILE_DEFINITIONS "FMT_HEADER_ONLY=1")
