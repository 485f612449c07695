#include "cli/cli_docs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace sms::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// A small command line with what the real ones use: a subcommand with
// positionals, a repeatable option, literal values, a flag, a nested
// subcommand with a required option, and hidden things.
class CliDocsTest : public ::testing::Test {
 protected:
  CliDocsTest() {
    app_.set_version_flag("--version", "tool 1.0");
    auto* copy = app_.add_subcommand("copy", "copy FROM to TO");
    copy->add_option("FROM", from_, "where from")->required()->type_name("DIR");
    copy->add_option("TO", to_, "where to")->type_name("DIR|URL");
    copy->add_option("--exclude", excludes_, "skip GLOB")->type_name("GLOB");
    copy->add_option("--mode", mode_, "how: `fast` or `slow`")
        ->type_name("fast|slow")
        ->check(CLI::IsMember({"fast", "slow"}));
    copy->add_option("--log", log_, "log to FILE")->type_name("FILE");
    copy->add_flag("--dry-run", dry_, "change nothing [really]");
    copy->add_option("--listen", log_, "where")->type_name("HOST:PORT");
    copy->add_option("--threads", threads_, "workers")
        ->type_name("N")
        ->check(CLI::Range(1, 8));
    copy->add_option("--secret", log_, "hidden")->group("");
    auto* admin = app_.add_subcommand("admin", "manage it");
    admin->add_option("--db", log_, "the database")->type_name("DB");
    auto* add = admin->add_subcommand("add-user", "add a user");
    add->add_option("--name", log_, "user's name")
        ->required()
        ->type_name("NAME");
    app_.add_subcommand("secret", "hidden command")->group("");
    AddGenerateDocsOption(
        app_, {{{"EXIT STATUS", "0 fine.\n\n    tool copy a b\n"}}});
  }

  std::string Docs(DocFormat f) {
    return GenerateDocs(app_, f, {{{"EXIT STATUS", "0 fine.\n"}}});
  }

  CLI::App app_{"tool: copies trees", "tool"};
  std::string from_, to_, mode_, log_;
  std::vector<std::string> excludes_;
  bool dry_ = false;
  int threads_ = 1;
};

TEST_F(CliDocsTest, DescribesVisibleCommandsOptionsAndArguments) {
  const CommandDoc root = DescribeApp(app_);
  EXPECT_EQ(root.description, "copies trees");
  ASSERT_EQ(root.subcommands.size(), 2u);  // "secret" is hidden
  const CommandDoc& copy = root.subcommands[0];
  EXPECT_EQ(copy.Name(), "tool copy");
  ASSERT_EQ(copy.positionals.size(), 2u);
  EXPECT_EQ(copy.positionals[0].value, OptionDoc::Value::kDir);
  EXPECT_TRUE(copy.positionals[0].required);
  EXPECT_FALSE(copy.positionals[1].required);
  std::vector<std::string> synopses;
  for (const auto& o : copy.options) synopses.push_back(o.Synopsis());
  EXPECT_THAT(synopses,
              ElementsAre("-h, --help", "--exclude GLOB", "--mode fast|slow",
                          "--log FILE", "--dry-run", "--listen HOST:PORT",
                          "--threads N"));
  EXPECT_TRUE(copy.options[1].repeatable);
  EXPECT_EQ(copy.options[2].value, OptionDoc::Value::kChoice);
  EXPECT_THAT(copy.options[2].choices, ElementsAre("fast", "slow"));
  EXPECT_EQ(copy.options[3].value, OptionDoc::Value::kFile);
  EXPECT_EQ(copy.options[4].value, OptionDoc::Value::kNone);
  EXPECT_EQ(copy.Usage(), "tool copy [OPTIONS] FROM [TO]");
  const CommandDoc& add = root.subcommands[1].subcommands[0];
  EXPECT_EQ(add.Usage(), "tool admin add-user --name NAME");
  EXPECT_EQ(root.subcommands[1].Usage(), "tool admin [OPTIONS] COMMAND");
}

TEST_F(CliDocsTest, ManPageHasEveryCommandAndOptionEscaped) {
  const std::string man = Docs(DocFormat::kMan);
  EXPECT_THAT(man, HasSubstr(".TH TOOL 1"));
  EXPECT_THAT(man, HasSubstr(".SH NAME\ntool \\- copies trees\n"));
  EXPECT_THAT(man, HasSubstr(".SS \"tool admin add\\-user\"\n"));
  EXPECT_THAT(man, HasSubstr("\\fB\\-\\-mode\\fR \\fBfast\\fR|\\fBslow\\fR\n"
                             "how: \\fBfast\\fR or \\fBslow\\fR\n"));
  EXPECT_THAT(man, HasSubstr("\\fB\\-\\-exclude\\fR \\fIGLOB\\fR\nskip GLOB; "
                             "repeatable\n"));
  EXPECT_THAT(man, HasSubstr("\\fB\\-\\-version\\fR"));
  EXPECT_THAT(man, HasSubstr(".SH EXIT STATUS\n0 fine.\n"));
  EXPECT_THAT(man, Not(HasSubstr("secret")));
  EXPECT_THAT(man, Not(HasSubstr("generate\\-docs")));
  EXPECT_THAT(man, HasSubstr("\\fBtool copy\\fR [OPTIONS] FROM [TO]\n"));
}

TEST_F(CliDocsTest, MarkdownTablesEscapeBars) {
  const std::string md = Docs(DocFormat::kMarkdown);
  EXPECT_THAT(md, HasSubstr("### `tool copy`\n\ncopy FROM to TO\n\n"
                            "| option | meaning |\n|---|---|\n"
                            "| `FROM` | where from |\n"
                            "| `TO` | where to (optional) |\n"));
  EXPECT_THAT(md,
              HasSubstr("| `--mode fast\\|slow` | how: `fast` or `slow` |"));
  EXPECT_THAT(md, HasSubstr("| `--name NAME` | user's name (required) |"));
  EXPECT_THAT(md, HasSubstr("    tool copy [OPTIONS] FROM [TO]\n"));
}

TEST_F(CliDocsTest, CompletionScriptsNameEveryCommandAndOption) {
  const std::string bash = Docs(DocFormat::kBash);
  EXPECT_THAT(bash, HasSubstr("\"\") cmds=\"copy admin\""));
  EXPECT_THAT(bash, HasSubstr("\" copy --mode\")\n      COMPREPLY=($(compgen "
                              "-W \"fast slow\""));
  EXPECT_THAT(bash, HasSubstr("complete -F _tool tool\n"));
  const std::string zsh = Docs(DocFormat::kZsh);
  EXPECT_THAT(zsh, HasSubstr("#compdef tool\n"));
  EXPECT_THAT(zsh, HasSubstr("'--mode=[how: `fast` or `slow`]:fast|slow:(fast "
                             "slow)'"));
  EXPECT_THAT(zsh, HasSubstr("'*--exclude=[skip GLOB]:GLOB: '"));
  EXPECT_THAT(zsh, HasSubstr("'--dry-run[change nothing \\[really\\]]'"));
  EXPECT_THAT(zsh, HasSubstr("':FROM:_files -/'"));
  EXPECT_THAT(zsh, HasSubstr("add-user) _tool_admin_add_user ;;"));
}

TEST_F(CliDocsTest, TheHiddenOptionPrintsAndEndsTheParseBeforeRequirements) {
  app_.require_subcommand(1);
  testing::internal::CaptureStdout();
  EXPECT_THROW(app_.parse("--generate-docs=zsh", false), CLI::Success);
  EXPECT_THAT(testing::internal::GetCapturedStdout(),
              HasSubstr("#compdef tool"));
  EXPECT_THROW(app_.parse("--generate-docs=pdf", false), CLI::ValidationError);
}

TEST(DocFormatTest, Names) {
  EXPECT_EQ(ParseDocFormat("man"), DocFormat::kMan);
  EXPECT_EQ(ParseDocFormat("markdown"), DocFormat::kMarkdown);
  EXPECT_EQ(ParseDocFormat("html"), std::nullopt);
}

}  // namespace
}  // namespace sms::cli
