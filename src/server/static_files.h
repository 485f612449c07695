// StaticFiles: serves the web console (web/console) under /console/ from a
// directory on disk, read per request, so the files ship beside the binary
// and no separate web server is needed.
//
// Only regular files with a known extension below the root are served: no
// directory listings, no dot-files, nothing through a symlink that leaves the
// root, and the console's own development folders (node_modules, tests) stay
// private. Pages get a strict Content-Security-Policy (scripts, styles and
// connections from this origin only).
// Thread-safety: immutable after construction; Serve() is safe to call
// concurrently.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "server/api.h"

namespace sms::server {

class StaticFiles final {
 public:
  // `root` is the console directory (it holds index.html); `prefix` is the
  // URL path it is served at, without a trailing slash.
  explicit StaticFiles(std::string root, std::string prefix = "/console");

  // Returns the response for a request to `path` (no query string) when the
  // path is the prefix or below it, std::nullopt otherwise. Not-found answers
  // have status 404 and an empty body, other methods than GET 405
  // (the Api gives both its usual error body).
  std::optional<HttpResponse> Serve(std::string_view method,
                                    std::string_view path) const;

  const std::string& root() const { return root_; }

 private:
  const std::string root_;  // canonical (realpath) when it exists
  const std::string prefix_;
};

// The console directory used when none is configured: the first of
//   <directory of this executable>/../../web/console   (a build in the repo:
//                                                      build/bin/sms-server)
//   <directory of this executable>/../share/sms-server/console  (installed)
// that holds an index.html; "" when neither does.
std::string DefaultConsoleDir();

}  // namespace sms::server
