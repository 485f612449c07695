# Generates a C++ source defining `const char* <SYMBOL>()` returning the
# bytes of FILE:  cmake -DIN=f -DOUT=f.cc -DSYMBOL=Name -P embed_file.cmake
file(READ "${IN}" content HEX)
string(LENGTH "${content}" n)
set(out "// Generated from ${IN} by embed_file.cmake.\n#include <string_view>\n")
string(APPEND out "namespace sms::server {\nnamespace {\nconst unsigned char kData[] = {")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
string(APPEND out "${bytes}0x00};\n}  // namespace\n")
math(EXPR len "${n} / 2")
string(APPEND out "std::string_view ${SYMBOL}() {\n  return std::string_view(reinterpret_cast<const char*>(kData), ${len});\n}\n}  // namespace sms::server\n")
file(WRITE "${OUT}.tmp" "${out}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
