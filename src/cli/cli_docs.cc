#include "cli/cli_docs.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <string>
#include <utility>

#include "cli/version.h"

namespace sms::cli {
namespace {

bool IsHelp(const OptionDoc& o) {
  return !o.names.empty() && o.names.back() == "--help";
}

std::string Join(const std::vector<std::string>& words, std::string_view sep) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += sep;
    out += w;
  }
  return out;
}

std::string ReplaceAll(std::string s, std::string_view from,
                       std::string_view to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos;
       pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// "name: text" -> "text": the App descriptions open with the program's name.
std::string WithoutProgramPrefix(const std::string& description,
                                 const std::string& program) {
  const std::string prefix = program + ": ";
  return description.rfind(prefix, 0) == 0 ? description.substr(prefix.size())
                                           : description;
}

// The metavariable's kind (see the header's conventions).
void ClassifyValue(OptionDoc& o) {
  if (o.metavar.empty()) {
    o.value = OptionDoc::Value::kNone;
    return;
  }
  bool literal = o.metavar.find('|') != std::string::npos;
  for (char c : o.metavar) {
    if (isupper(static_cast<unsigned char>(c))) literal = false;
  }
  if (literal) {
    o.value = OptionDoc::Value::kChoice;
    size_t begin = 0;
    for (;;) {
      const size_t bar = o.metavar.find('|', begin);
      o.choices.push_back(o.metavar.substr(begin, bar - begin));
      if (bar == std::string::npos) break;
      begin = bar + 1;
    }
  } else if (o.metavar.find("DIR") != std::string::npos) {
    o.value = OptionDoc::Value::kDir;
  } else if (o.metavar.find("FILE") != std::string::npos ||
             o.metavar.find("PATH") != std::string::npos) {
    o.value = OptionDoc::Value::kFile;
  } else {
    o.value = OptionDoc::Value::kOther;
  }
}

OptionDoc DescribeOption(const CLI::Option& opt) {
  OptionDoc o;
  o.description = opt.get_description();
  o.required = opt.get_required();
  o.positional = !opt.nonpositional();
  o.repeatable = opt.get_items_expected_max() > 1;
  // CLI11's type name carries its validators' descriptions, each after a
  // ':'. get_validator(int) only reads, but is not const, and throws past
  // the last one.
  std::string type = opt.get_type_name();
  std::vector<std::string> suffixes;
  auto& mutable_opt = const_cast<CLI::Option&>(opt);
  for (int i = 0;; ++i) {
    const CLI::Validator* v = nullptr;
    try {
      v = mutable_opt.get_validator(i);
    } catch (const CLI::OptionNotFound&) {
    }
    if (v == nullptr) break;
    if (!v->get_description().empty())
      suffixes.push_back(":" + v->get_description());
  }
  for (auto it = suffixes.rbegin(); it != suffixes.rend(); ++it) {
    if (type.size() >= it->size() &&
        type.compare(type.size() - it->size(), it->size(), *it) == 0) {
      type.resize(type.size() - it->size());
    }
  }
  if (o.positional) {
    o.names = {opt.get_name()};
    // A positional shows its name; its type name (DIR, FILE) says what
    // completes it.
    o.metavar = opt.get_name();
    OptionDoc kind;
    kind.metavar = type;
    ClassifyValue(kind);
    o.value = kind.value == OptionDoc::Value::kChoice ? OptionDoc::Value::kOther
                                                      : kind.value;
    return o;
  }
  for (const auto& s : opt.get_snames()) o.names.push_back("-" + s);
  for (const auto& l : opt.get_lnames()) o.names.push_back("--" + l);
  if (opt.get_type_size_max() > 0 && opt.get_items_expected_max() > 0) {
    o.metavar = type.empty() ? "VALUE" : type;
  }
  ClassifyValue(o);
  return o;
}

CommandDoc DescribeCommand(const CLI::App& app, std::vector<std::string> path) {
  CommandDoc c;
  c.path = std::move(path);
  c.description = WithoutProgramPrefix(app.get_description(), c.path[0]);
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_group().empty()) continue;  // hidden
    OptionDoc o = DescribeOption(*opt);
    (o.positional ? c.positionals : c.options).push_back(std::move(o));
  }
  for (const CLI::App* sub :
       app.get_subcommands([](const CLI::App*) { return true; })) {
    // Option groups are nameless subcommands; hidden ones have no group.
    if (sub->get_name().empty() || sub->get_group().empty()) continue;
    std::vector<std::string> sub_path = c.path;
    sub_path.push_back(sub->get_name());
    c.subcommands.push_back(DescribeCommand(*sub, std::move(sub_path)));
  }
  return c;
}

// Every command in pre-order.
void Flatten(const CommandDoc& c, std::vector<const CommandDoc*>& out) {
  out.push_back(&c);
  for (const auto& s : c.subcommands) Flatten(s, out);
}

// The paragraphs of a DocSection: ("text", false) or ("literal", true).
std::vector<std::pair<std::string, bool>> Paragraphs(const std::string& text) {
  std::vector<std::pair<std::string, bool>> out;
  size_t pos = 0;
  bool blank_before = true;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.find_first_not_of(' ') == std::string::npos) {
      blank_before = true;
      if (end == text.size()) break;
      continue;
    }
    const bool literal = line.rfind("    ", 0) == 0;
    const std::string body = literal ? line.substr(4) : line;
    if (!out.empty() && out.back().second == literal &&
        (literal || !blank_before)) {
      out.back().first += "\n" + body;
    } else {
      out.emplace_back(body, literal);
    }
    blank_before = false;
    if (end == text.size()) break;
  }
  return out;
}

// ---- man (roff) ----------------------------------------------------------

// Text for a roff line: backslashes escaped, `code` in bold, no line that
// starts with a control character.
std::string Roff(const std::string& text, bool code_in_bold = true) {
  std::string out;
  bool bold = false;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else if (c == '`' && code_in_bold) {
      out += bold ? "\\fR" : "\\fB";
      bold = !bold;
    } else {
      out += c;
    }
  }
  if (bold) out += "\\fR";
  out = ReplaceAll(out, "\n.", "\n\\&.");
  out = ReplaceAll(out, "\n'", "\n\\&'");
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

// A usage line with the command's words in bold.
std::string RoffUsage(const CommandDoc& c) {
  const std::string name = c.Name();
  return "\\fB" + Roff(name) + "\\fR" +
         Roff(c.Usage().substr(name.size()), false);
}

// "\fB\-\-dir\fR \fIDIR\fR"
std::string RoffOption(const OptionDoc& o) {
  if (o.positional) return "\\fI" + Roff(o.metavar) + "\\fR";
  std::string out;
  for (const auto& n : o.names) {
    if (!out.empty()) out += ", ";
    out += "\\fB" + Roff(n) + "\\fR";
  }
  if (!o.metavar.empty()) {
    out += " ";
    if (o.value == OptionDoc::Value::kChoice) {
      std::vector<std::string> words;
      for (const auto& c : o.choices)
        words.push_back("\\fB" + Roff(c) + "\\fR");
      out += Join(words, "|");
    } else {
      out += "\\fI" + Roff(o.metavar) + "\\fR";
    }
  }
  return out;
}

std::string OptionText(const OptionDoc& o) {
  std::string text = o.description;
  if (o.positional && !o.required) text += " (optional)";
  if (!o.positional && o.required) text += " (required)";
  if (o.repeatable && text.find("repeatable") == std::string::npos)
    text += "; repeatable";
  return text;
}

std::string Man(const CommandDoc& root, const DocExtras& extras) {
  const std::string& program = root.path[0];
  std::string upper;
  for (char c : program) upper += static_cast<char>(toupper(c));
  std::string out = ".\\\" Generated by `" + program +
                    " --generate-docs=man`: do not edit.\n";
  out += ".TH " + Roff(upper) + " 1 \"\" \"sms-consistency " +
         std::string(Version()) + "\" \"User Commands\"\n";
  out += ".SH NAME\n" + Roff(program) + " \\- " + Roff(root.description) + "\n";
  std::vector<const CommandDoc*> all;
  Flatten(root, all);
  out += ".SH SYNOPSIS\n";
  bool first = true;
  for (const CommandDoc* c : all) {
    if (c != &root && !c->subcommands.empty()) continue;
    if (!first) out += ".br\n";
    first = false;
    out += RoffUsage(*c) + "\n";
  }
  out += ".SH DESCRIPTION\n" + Roff(root.description) +
         ". Each command is described below with its options; every command "
         "also takes \\fB\\-h\\fR, \\fB\\-\\-help\\fR.\n";
  out += ".SH OPTIONS\n";
  for (const auto& o : root.options) {
    out += ".TP\n" + RoffOption(o) + "\n" + Roff(OptionText(o)) + "\n";
  }
  out += ".SH COMMANDS\n";
  for (const CommandDoc* c : all) {
    if (c == &root) continue;
    out += ".SS \"" + Roff(c->Name(), false) + "\"\n";
    out += RoffUsage(*c) + "\n.PP\n" + Roff(c->description) + "\n";
    for (const auto* list : {&c->positionals, &c->options}) {
      for (const auto& o : *list) {
        if (IsHelp(o)) continue;
        out += ".TP\n" + RoffOption(o) + "\n" + Roff(OptionText(o)) + "\n";
      }
    }
    if (!c->subcommands.empty()) {
      std::vector<std::string> names;
      for (const auto& s : c->subcommands) names.push_back(s.path.back());
      out += ".PP\nCommands: " + Roff(Join(names, ", ")) + ".\n";
    }
  }
  for (const auto& s : extras.sections) {
    out += ".SH " + Roff(s.title, false) + "\n";
    bool first_paragraph = true;
    for (const auto& [text, literal] : Paragraphs(s.text)) {
      if (!first_paragraph) out += ".PP\n";
      first_paragraph = false;
      if (literal) {
        out += ".nf\n.RS 4\n" + Roff(text, false) + "\n.RE\n.fi\n";
      } else {
        out += Roff(text) + "\n";
      }
    }
  }
  return out;
}

// ---- Markdown ------------------------------------------------------------

std::string MarkdownCell(std::string text) {
  return ReplaceAll(std::move(text), "|", "\\|");
}

std::string Markdown(const CommandDoc& root, const DocExtras& extras) {
  const std::string& program = root.path[0];
  std::string out = "## " + program + "\n\n" + root.description + ".\n\n";
  std::vector<const CommandDoc*> all;
  Flatten(root, all);
  for (const CommandDoc* c : all) {
    if (c != &root && !c->subcommands.empty()) continue;
    out += "    " + c->Usage() + "\n";
  }
  out += "\nEvery command also takes `-h`, `--help`.\n";
  for (const CommandDoc* c : all) {
    out += "\n### `" + c->Name() + "`\n\n";
    if (c != &root) out += c->description + "\n\n";
    out += "| option | meaning |\n|---|---|\n";
    bool any = false;
    for (const auto* list : {&c->positionals, &c->options}) {
      for (const auto& o : *list) {
        if (IsHelp(o) && c != &root) continue;
        any = true;
        out += "| `" + MarkdownCell(o.Synopsis()) + "` | " +
               MarkdownCell(OptionText(o)) + " |\n";
      }
    }
    if (!any) out.resize(out.rfind("| option"));
    if (!c->subcommands.empty()) {
      if (any) out += "\n";
      std::vector<std::string> names;
      for (const auto& s : c->subcommands)
        names.push_back("`" + s.path.back() + "`");
      out += "Commands: " + Join(names, ", ") + ".\n";
    }
  }
  for (const auto& s : extras.sections) {
    out += "\n### " + program + ": " + s.title + "\n\n";
    bool first = true;
    for (const auto& [text, literal] : Paragraphs(s.text)) {
      if (!first) out += "\n";
      first = false;
      if (literal) {
        out += "    " + ReplaceAll(text, "\n", "\n    ") + "\n";
      } else {
        out += text + "\n";
      }
    }
  }
  return out;
}

// ---- bash ----------------------------------------------------------------

// "sms-server admin" -> "_sms_server_admin"
std::string FunctionName(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& p : path) {
    out += "_";
    for (char c : p) out += isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return out;
}

std::string ShellWords(const std::vector<std::string>& words) {
  return "\"" + Join(words, " ") + "\"";
}

// The command's path after the program: "" or " admin create-user".
std::string PathKey(const CommandDoc& c) {
  std::string key;
  for (size_t i = 1; i < c.path.size(); ++i) key += " " + c.path[i];
  return key;
}

std::string Bash(const CommandDoc& root) {
  const std::string program = root.path[0];
  const std::string fn = FunctionName({program});
  std::vector<const CommandDoc*> all;
  Flatten(root, all);
  std::string out = "# bash completion for " + program + ". Generated by `" +
                    program + " --generate-docs=bash`: do not edit.\n\n";
  out += "# " + fn +
         "_spec PATH: sets cmds, opts, valopts (the options that take a "
         "value)\n# and files (1: its arguments are paths) for the command "
         "PATH (\" verify\").\n";
  out += fn + "_spec() {\n  case $1 in\n";
  for (const CommandDoc* c : all) {
    std::vector<std::string> cmds, opts, valopts;
    for (const auto& s : c->subcommands) cmds.push_back(s.path.back());
    for (const auto& o : c->options) {
      for (const auto& n : o.names) {
        opts.push_back(n);
        if (!o.metavar.empty()) valopts.push_back(n);
      }
    }
    bool files = false;
    for (const auto& p : c->positionals) {
      files = files || p.value == OptionDoc::Value::kFile ||
              p.value == OptionDoc::Value::kDir;
    }
    out += "    " + ShellWords({PathKey(*c)}) + ") cmds=" + ShellWords(cmds) +
           " opts=" + ShellWords(opts) + " valopts=" + ShellWords(valopts) +
           " files=" + (files ? "1" : "0") + " ;;\n";
  }
  out += "  esac\n}\n\n";
  out += "# " + fn + "_value PATH OPTION: completes the value of OPTION.\n";
  out += fn + "_value() {\n  local IFS=$' \\t\\n'\n  case \"$1 $2\" in\n";
  for (const CommandDoc* c : all) {
    for (const auto& o : c->options) {
      if (o.metavar.empty() || o.value == OptionDoc::Value::kOther) continue;
      std::vector<std::string> keys;
      for (const auto& n : o.names)
        keys.push_back("\"" + PathKey(*c) + " " + n + "\"");
      out += "    " + Join(keys, "|") + ")\n      ";
      if (o.value == OptionDoc::Value::kChoice) {
        out += "COMPREPLY=($(compgen -W " + ShellWords(o.choices) +
               " -- \"$cur\")) ;;\n";
      } else {
        out += std::string("compopt -o filenames 2>/dev/null\n      ") +
               "COMPREPLY=($(compgen " +
               (o.value == OptionDoc::Value::kDir ? "-d" : "-f") +
               " -- \"$cur\")) ;;\n";
      }
    }
  }
  out += "    *) COMPREPLY=() ;;\n  esac\n}\n\n";
  out += fn +
         "() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} path=\"\" expect=\"\" i w\n"
         "  local cmds opts valopts files IFS=$'\\n'\n"
         "  COMPREPLY=()\n"
         "  " +
         fn +
         "_spec \"\"\n"
         "  # COMP_WORDBREAKS splits --opt=value into --opt, =, value.\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    w=${COMP_WORDS[i]}\n"
         "    [[ $w == \"=\" ]] && continue\n"
         "    if [[ -n $expect ]]; then expect=\"\"; continue; fi\n"
         "    if [[ \" $valopts \" == *\" $w \"* ]]; then expect=$w; continue; "
         "fi\n"
         "    if [[ \" $cmds \" == *\" $w \"* ]]; then\n"
         "      path=\"$path $w\"\n"
         "      " +
         fn +
         "_spec \"$path\"\n"
         "    fi\n"
         "  done\n"
         "  [[ $cur == \"=\" ]] && cur=\"\"\n"
         "  if [[ -n $expect ]]; then\n"
         "    " +
         fn +
         "_value \"$path\" \"$expect\"\n"
         "  elif [[ $cur == -* ]]; then\n"
         "    IFS=' ' COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
         "  elif [[ -n $cmds ]]; then\n"
         "    IFS=' ' COMPREPLY=($(compgen -W \"$cmds\" -- \"$cur\"))\n"
         "  elif [[ $files == 1 ]]; then\n"
         "    compopt -o filenames 2>/dev/null\n"
         "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
         "  fi\n"
         "}\n"
         "complete -F " +
         fn + " " + program + "\n";
  return out;
}

// ---- zsh -----------------------------------------------------------------

// Text inside a single-quoted _arguments spec's [description].
std::string ZshDescription(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else if (c == '[' || c == ']' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::string ZshAction(const OptionDoc& o) {
  switch (o.value) {
    case OptionDoc::Value::kChoice:
      return "(" + Join(o.choices, " ") + ")";
    case OptionDoc::Value::kDir:
      return "_files -/";
    case OptionDoc::Value::kFile:
      return "_files";
    default:
      return " ";
  }
}

std::string ZshMessage(const std::string& metavar) {
  return ReplaceAll(metavar, ":", "\\:");
}

std::string ZshSpecs(const CommandDoc& c) {
  std::string out;
  for (const auto& o : c.options) {
    const std::string desc = "[" + ZshDescription(o.description) + "]";
    const std::string value =
        o.metavar.empty() ? ""
                          : ":" + ZshMessage(o.metavar) + ":" + ZshAction(o);
    if (o.names.size() > 1) {
      out += "    '(" + Join(o.names, " ") + ")'{" + Join(o.names, ",") + "}'" +
             desc + value + "' \\\n";
      continue;
    }
    const std::string eq = o.metavar.empty() ? "" : "=";
    out += "    '" + std::string(o.repeatable ? "*" : "") + o.names[0] + eq +
           desc + value + "' \\\n";
  }
  return out;
}

void Zsh(const CommandDoc& c, std::string& out) {
  for (const auto& s : c.subcommands) Zsh(s, out);
  const std::string fn = FunctionName(c.path);
  out += fn + "() {\n";
  if (c.subcommands.empty()) {
    out += "  _arguments -s -S \\\n" + ZshSpecs(c);
    for (const auto& p : c.positionals) {
      out += "    '" + std::string(p.repeatable ? "*" : "") +
             (p.required ? ":" : "::") + ZshMessage(p.metavar) + ":" +
             ZshAction(p) + "' \\\n";
    }
    out += "    && return 0\n}\n\n";
    return;
  }
  out +=
      "  local curcontext=\"$curcontext\" state line\n"
      "  typeset -A opt_args\n"
      "  _arguments -C -S \\\n" +
      ZshSpecs(c) +
      "    '1: :->command' \\\n"
      "    '*:: :->argument' && return 0\n"
      "  case $state in\n"
      "    command)\n"
      "      local -a commands\n"
      "      commands=(\n";
  for (const auto& s : c.subcommands) {
    out += "        '" + ZshDescription(s.path.back()) + ":" +
           ZshDescription(ReplaceAll(s.description, ":", "\\:")) + "'\n";
  }
  out +=
      "      )\n"
      "      _describe -t commands 'command' commands ;;\n"
      "    argument)\n"
      "      case $words[1] in\n";
  for (const auto& s : c.subcommands) {
    out += "        " + s.path.back() + ") " + FunctionName(s.path) + " ;;\n";
  }
  out += "      esac ;;\n  esac\n}\n\n";
}

std::string ZshScript(const CommandDoc& root) {
  const std::string& program = root.path[0];
  std::string out = "#compdef " + program + "\n# zsh completion for " +
                    program + ". Generated by `" + program +
                    " --generate-docs=zsh`: do not edit.\n\n";
  Zsh(root, out);
  out += FunctionName(root.path) + " \"$@\"\n";
  return out;
}

}  // namespace

std::string OptionDoc::Synopsis() const {
  if (positional) return metavar;
  std::string out = Join(names, ", ");
  if (!metavar.empty()) out += " " + metavar;
  return out;
}

std::string CommandDoc::Name() const { return Join(path, " "); }

std::string CommandDoc::Usage() const {
  std::string out = Name();
  bool optional = false;
  for (const auto& o : options) {
    if (o.required) {
      out += " " + o.Synopsis();
    } else if (!IsHelp(o)) {
      optional = true;
    }
  }
  if (optional) out += " [OPTIONS]";
  for (const auto& p : positionals) {
    const std::string word = p.metavar + (p.repeatable ? "..." : "");
    out += p.required ? " " + word : " [" + word + "]";
  }
  if (!subcommands.empty()) out += " COMMAND";
  return out;
}

std::optional<DocFormat> ParseDocFormat(std::string_view name) {
  if (name == "man") return DocFormat::kMan;
  if (name == "bash") return DocFormat::kBash;
  if (name == "zsh") return DocFormat::kZsh;
  if (name == "markdown") return DocFormat::kMarkdown;
  return std::nullopt;
}

CommandDoc DescribeApp(const CLI::App& app) {
  return DescribeCommand(app, {app.get_name()});
}

std::string GenerateDocs(const CLI::App& app, DocFormat format,
                         const DocExtras& extras) {
  const CommandDoc root = DescribeApp(app);
  switch (format) {
    case DocFormat::kMan:
      return Man(root, extras);
    case DocFormat::kBash:
      return Bash(root);
    case DocFormat::kZsh:
      return ZshScript(root);
    case DocFormat::kMarkdown:
      return Markdown(root, extras);
  }
  return "";
}

void AddGenerateDocsOption(CLI::App& app, DocExtras extras) {
  CLI::App* self = &app;
  app.add_option_function<std::string>(
         "--generate-docs",
         [self, extras = std::move(extras)](const std::string& name) {
           const std::string text =
               GenerateDocs(*self, *ParseDocFormat(name), extras);
           fwrite(text.data(), 1, text.size(), stdout);
           throw CLI::Success();
         },
         "print the documentation generated from these definitions")
      ->check(CLI::IsMember({"man", "bash", "zsh", "markdown"}))
      ->group("");
}

}  // namespace sms::cli
