/* empty_root_exec [--old-kernel] ROOT PROGRAM [ARGS...]
 *
 * Runs PROGRAM (a path inside ROOT) with ROOT as its root directory: the
 * static agent's tests give it a root holding only itself and the trees, so
 * it can find no shared library, NSS module or /proc there.
 *
 * --old-kernel: the system calls Linux added after 3.10 (every x86-64 number
 * above 313, finit_module: getrandom, statx, rseq, clone3, close_range,
 * io_uring_* ...) fail with ENOSYS, as on such a kernel (seccomp), and
 * uname(2) reports an old version (the UNAME26 personality: "2.6.x", the
 * only old version the kernel can fake; OpenSSL reads it to decide how to
 * wait for entropy without getrandom). Only the system call table and the
 * version are emulated, not older semantics of the calls kept.
 *
 * Exits 125 when it cannot set this up (not root, no seccomp). */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { kLastSyscallOfLinux310 = 313 /* finit_module */ };

static int Refuse(const char* what) {
  fprintf(stderr, "empty_root_exec: %s: %s\n", what, strerror(errno));
  return 125;
}

static int FilterNewSyscalls(void) {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, kLastSyscallOfLinux310, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};
  if (personality(PER_LINUX | UNAME26) == -1) return -1;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) return -1;
  /* The filter must be in force: io_uring_setup (425) now says ENOSYS. */
  if (syscall(425, 1, NULL) != -1 || errno != ENOSYS) {
    errno = EINVAL;
    return -1;
  }
  return 0;
}

int main(int argc, char** argv) {
  int arg = 1;
  int old_kernel = 0;
  if (arg < argc && strcmp(argv[arg], "--old-kernel") == 0) {
    old_kernel = 1;
    ++arg;
  }
  if (argc - arg < 2) {
    fprintf(stderr,
            "usage: empty_root_exec [--old-kernel] ROOT PROGRAM [ARGS...]\n");
    return 125;
  }
  if (chroot(argv[arg]) != 0) return Refuse(argv[arg]);
  if (chdir("/") != 0) return Refuse("chdir /");
  if (old_kernel && FilterNewSyscalls() != 0) return Refuse("seccomp");
  execv(argv[arg + 1], argv + arg + 1);
  return Refuse(argv[arg + 1]);
}
