// StaticFiles: what the console directory serves, and what it never does.
#include "server/static_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/temp_dir.h"

namespace sms::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

std::string Header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sms::testing::WriteFile(dir_.Join("console/index.html"), "<!doctype html>");
    sms::testing::WriteFile(dir_.Join("console/js/app.js"), "export {};");
    sms::testing::WriteFile(dir_.Join("console/css/console.css"), "body{}");
    sms::testing::WriteFile(dir_.Join("console/.env"), "secret");
    sms::testing::WriteFile(dir_.Join("console/package.json"), "{}");
    sms::testing::WriteFile(dir_.Join("console/tests/run.sh"), "#!/bin/sh");
    sms::testing::WriteFile(dir_.Join("console/tests/seed.js"), "x");
    sms::testing::WriteFile(dir_.Join("console/node_modules/x/index.js"), "x");
    sms::testing::WriteFile(dir_.Join("outside.js"), "secret");
    sms::testing::MakeSymlink(dir_.Join("outside.js"),
                              dir_.Join("console/js/escape.js"));
    sms::testing::MakeSymlink("app.js", dir_.Join("console/js/alias.js"));
  }

  int StatusOf(std::string_view path, std::string_view method = "GET") {
    auto r = files_.Serve(method, path);
    return r ? r->status : 0;
  }

  sms::testing::TempDir dir_;
  StaticFiles files_{dir_.Join("console")};
};

TEST_F(StaticFilesTest, ServesTheIndexWithAStrictPolicy) {
  auto r = files_.Serve("GET", "/console/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "<!doctype html>");
  EXPECT_EQ(Header(*r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(Header(*r, "Content-Security-Policy"),
              HasSubstr("default-src 'self'"));
  EXPECT_EQ(Header(*r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(files_.Serve("GET", "/console/index.html")->body,
            "<!doctype html>");
}

TEST_F(StaticFilesTest, ServesModulesAndStylesWithTheirTypes) {
  auto js = files_.Serve("GET", "/console/js/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->body, "export {};");
  EXPECT_EQ(Header(*js, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(
      Header(*files_.Serve("GET", "/console/css/console.css"), "Content-Type"),
      "text/css; charset=utf-8");
  // A symlink that stays inside the root is fine.
  EXPECT_EQ(files_.Serve("GET", "/console/js/alias.js")->body, "export {};");
}

TEST_F(StaticFilesTest, RedirectsThePrefixToItsSlash) {
  auto r = files_.Serve("GET", "/console");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 301);
  EXPECT_EQ(Header(*r, "Location"), "/console/");
}

TEST_F(StaticFilesTest, LeavesOtherPathsToTheApi) {
  EXPECT_FALSE(files_.Serve("GET", "/v3/tasks"));
  EXPECT_FALSE(files_.Serve("GET", "/consoles/index.html"));
  EXPECT_FALSE(files_.Serve("GET", "/"));
}

TEST_F(StaticFilesTest, NeverServesWhatIsNotThePage) {
  for (const char* path : {
           "/console/missing.js",
           "/console/../outside.js",
           "/console/js/../../outside.js",
           "/console/%2e%2e/outside.js",
           "/console/js/escape.js",  // symlink out of the root
           "/console/.env",
           "/console/package.json",  // not a served type
           "/console/tests/seed.js",
           "/console/node_modules/x/index.js",
           "/console/js/",  // no listings
           "/console/js//app.js",
           "/console/js",
       }) {
    EXPECT_EQ(StatusOf(path), 404) << path;
  }
}

TEST_F(StaticFilesTest, OnlyGet) {
  EXPECT_EQ(StatusOf("/console/", "POST"), 405);
  EXPECT_EQ(StatusOf("/console/js/app.js", "DELETE"), 405);
}

TEST_F(StaticFilesTest, AMissingRootServesNothing) {
  StaticFiles none(dir_.Join("no-such-dir"));
  auto r = none.Serve("GET", "/console/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

}  // namespace
}  // namespace sms::server
