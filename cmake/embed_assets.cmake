# Writes OUT, a C++ file holding every file of DIR (the dashboard and the
# API's description) as bytes, and weft::http::find_asset over them.
file(GLOB files RELATIVE ${DIR} ${DIR}/*)
list(SORT files)
set(body "// Generated from web/ by cmake/embed_assets.cmake.\n")
string(APPEND body "#include \"weft/actors/http_api.hpp\"\n\n")
string(APPEND body "#include <cstring>\n\nnamespace weft::http {\n\nnamespace {\n\n")
set(table "")
set(i 0)
foreach(name IN LISTS files)
  file(READ ${DIR}/${name} hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "const unsigned char file_${i}[] = {${bytes}0};\n")
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.json$")
    set(type "application/json")
  elseif(name MATCHES "\\.svg$")
    set(type "image/svg+xml")
  else()
    set(type "application/octet-stream")
  endif()
  string(APPEND table "  {\"${name}\", \"${type}\", file_${i}, ${size}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "\nstruct entry {\n  const char* name;\n  const char* type;\n"
                   "  const unsigned char* bytes;\n  size_t size;\n};\n\n"
                   "const entry entries[] = {\n${table}  {nullptr, nullptr, nullptr, 0},\n};\n\n"
                   "} // namespace\n\n"
                   "std::optional<asset> find_asset(const std::string& name) {\n"
                   "  for (const auto* e = entries; e->name; ++e)\n"
                   "    if (name == e->name)\n"
                   "      return asset{e->type, std::string_view{reinterpret_cast<const char*>(e->bytes), e->size}};\n"
                   "  return std::nullopt;\n}\n\n} // namespace weft::http\n")
file(WRITE ${OUT}.tmp "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
