#include "server/static_files.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <utility>

namespace sms::server {

namespace {

constexpr off_t kMaxFileBytes = 16 << 20;

struct MimeType {
  std::string_view extension;
  std::string_view type;
};
constexpr std::array<MimeType, 8> kTypes = {{
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
}};

// The pages need nothing from another origin; blob: is how an export is
// handed to the browser as a download.
constexpr std::string_view kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

std::optional<std::string_view> TypeOf(std::string_view name) {
  for (const auto& t : kTypes) {
    if (name.size() > t.extension.size() &&
        name.substr(name.size() - t.extension.size()) == t.extension)
      return t.type;
  }
  return std::nullopt;
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return "";
  return buf;
}

// "js/app.js" -> true; "", "a//b", "../x", ".git/x", "tests/x" -> false.
bool IsServablePath(std::string_view rel) {
  if (rel.empty() || rel.find('\0') != std::string_view::npos ||
      rel.find('\\') != std::string_view::npos ||
      rel.find('%') != std::string_view::npos)
    return false;
  size_t start = 0;
  bool first = true;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string_view seg = rel.substr(start, end - start);
    if (seg.empty() || seg.front() == '.') return false;
    if (first && (seg == "node_modules" || seg == "tests")) return false;
    first = false;
    start = end + 1;
  }
  return true;
}

HttpResponse Status(int status) {
  HttpResponse r;
  r.status = status;
  return r;
}

}  // namespace

StaticFiles::StaticFiles(std::string root, std::string prefix)
    : root_([&] {
        std::string real = RealPath(root);
        return real.empty() ? root : real;
      }()),
      prefix_(std::move(prefix)) {}

std::optional<HttpResponse> StaticFiles::Serve(std::string_view method,
                                               std::string_view path) const {
  if (path.substr(0, prefix_.size()) != prefix_) return std::nullopt;
  std::string_view rest = path.substr(prefix_.size());
  if (!rest.empty() && rest.front() != '/') return std::nullopt;  // /consolex
  if (method != "GET") return Status(405);
  if (rest.empty()) {
    HttpResponse r = Status(301);
    r.headers.push_back({"Location", prefix_ + "/"});
    return r;
  }
  std::string_view rel = rest.substr(1);
  if (rel.empty()) rel = "index.html";
  auto type = TypeOf(rel);
  if (!type || !IsServablePath(rel)) return Status(404);

  // The file must resolve inside the root even through symlinks.
  std::string real = RealPath(root_ + "/" + std::string(rel));
  if (real.empty() || real.compare(0, root_.size() + 1, root_ + "/") != 0)
    return Status(404);
  int fd = open(real.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status(404);
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size > kMaxFileBytes) {
    close(fd);
    return Status(404);
  }
  std::string body(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < body.size()) {
    ssize_t n = read(fd, body.data() + got, body.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  body.resize(got);

  HttpResponse r;
  r.status = 200;
  r.headers = {{"Content-Type", std::string(*type)},
               {"Cache-Control", "no-cache"},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"}};
  if (type->substr(0, 9) == "text/html") {
    r.headers.push_back({"Content-Security-Policy", std::string(kCsp)});
    r.headers.push_back({"X-Frame-Options", "DENY"});
  }
  r.body = std::move(body);
  return r;
}

std::string DefaultConsoleDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string exe(buf, static_cast<size_t>(n));
  std::string dir = exe.substr(0, exe.rfind('/'));
  for (const char* rel :
       {"/../../web/console", "/../share/sms-server/console"}) {
    std::string candidate = dir + rel;
    struct stat st {};
    if (stat((candidate + "/index.html").c_str(), &st) == 0 &&
        S_ISREG(st.st_mode)) {
      std::string real = RealPath(candidate);
      return real.empty() ? candidate : real;
    }
  }
  return "";
}

}  // namespace sms::server
