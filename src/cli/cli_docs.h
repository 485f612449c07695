// The documentation of a command line, generated from its CLI11 definitions
// (the same App objects that print --help, so the two cannot drift): a man
// page, bash and zsh completion scripts, and a Markdown reference.
//
// Both binaries add a hidden `--generate-docs=man|bash|zsh|markdown`
// (AddGenerateDocsOption); the build runs it (cmake/cli_docs.cmake) into
// BUILD_DIR/share/, and docs/cli.md is its Markdown (docs/cli.md says how it
// is kept current).
//
// Conventions read from the definitions:
// - an option's value name (CLI11's type_name) is its metavariable: upper
//   case words are placeholders (DIR, FILE), lower case words separated by
//   '|' are the literal values it takes ("hash|quick"); a placeholder naming
//   a DIR completes directories, one naming a FILE or PATH completes files;
// - options and subcommands in the empty group are hidden, as in --help.
// Thread-safety: pure functions of their arguments.
#pragma once

#include <CLI/App.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sms::cli {

enum class DocFormat { kMan, kBash, kZsh, kMarkdown };

// "man", "bash", "zsh" or "markdown"; nullopt for anything else.
std::optional<DocFormat> ParseDocFormat(std::string_view name);

// A section the CLI11 definitions do not hold (EXIT STATUS, ENVIRONMENT,
// FILES, EXAMPLES, SEE ALSO): paragraphs separated by blank lines; lines
// indented by four spaces are literal text (commands, examples).
struct DocSection {
  std::string title;
  std::string text;
};

struct DocExtras {
  // The manual's sections after COMMANDS, in this order (also in Markdown).
  std::vector<DocSection> sections;
};

// One option or positional argument, as the documentation shows it.
struct OptionDoc {
  enum class Value { kNone, kChoice, kFile, kDir, kOther };
  std::vector<std::string> names;  // "-h", "--help"; a positional: its name
  std::string metavar;             // "" for a flag; a positional: its name
  std::string description;
  bool positional = false;
  bool required = false;
  bool repeatable = false;
  Value value = Value::kNone;
  std::vector<std::string> choices;  // Value::kChoice

  // "--dir DIR", "-h, --help", "SOURCE".
  std::string Synopsis() const;
};

// A command and, recursively, its subcommands.
struct CommandDoc {
  std::vector<std::string> path;  // {"sms-server", "admin", "create-user"}
  std::string description;
  std::vector<OptionDoc> positionals;
  std::vector<OptionDoc> options;  // -h/--help included
  std::vector<CommandDoc> subcommands;

  // "sms-server admin create-user"
  std::string Name() const;
  // "sms-server admin create-user --domain DOMAIN ... [OPTIONS] NAME"
  std::string Usage() const;
};

// The visible commands, options and arguments of `app`, which must have a
// name (CLI::App{description, name}).
CommandDoc DescribeApp(const CLI::App& app);

// The documentation of `app` in `format`.
std::string GenerateDocs(const CLI::App& app, DocFormat format,
                         const DocExtras& extras);

// Adds the hidden option --generate-docs=man|bash|zsh|markdown to `app`:
// when given, it prints GenerateDocs(app, ...) on stdout and ends the parse
// with CLI::Success (exit 0), before any required subcommand or option is
// checked. `app` must outlive the parse.
void AddGenerateDocsOption(CLI::App& app, DocExtras extras);

}  // namespace sms::cli
