#include "testing/temp_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sms::testing {

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl =
      std::string(base && *base ? base : "/tmp") + "/sms-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) abort();
  path_ = tmpl;
}

TempDir::~TempDir() { RemoveAll(path_); }

std::string TempDir::Join(std::string_view rel) const {
  return path_ + "/" + std::string(rel);
}

void MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
}

void WriteFile(const std::string& path, std::string_view content,
               int64_t mtime_sec) {
  MakeDirs(std::filesystem::path(path).parent_path());
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) abort();
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n <= 0) abort();
    done += static_cast<size_t>(n);
  }
  if (mtime_sec >= 0) {
    struct timespec ts[2] = {{mtime_sec, 0}, {mtime_sec, 0}};
    futimens(fd, ts);
  }
  close(fd);
}

void MakeSymlink(const std::string& target, const std::string& path) {
  MakeDirs(std::filesystem::path(path).parent_path());
  if (symlink(target.c_str(), path.c_str()) != 0) abort();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void RemoveAll(const std::string& path) {
  // Make unreadable directories removable first (tests chmod 000 some).
  std::string cmd =
      "chmod -R u+rwx '" + path + "' 2>/dev/null; rm -rf '" + path + "'";
  RunShell(cmd);
}

int RunShell(const std::string& command) {
  int status = system(command.c_str());
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

}  // namespace sms::testing
