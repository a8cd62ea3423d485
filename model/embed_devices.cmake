# Writes the built-in device files into a C++ include as raw string literals, in the order given,
# so `attnio` knows its devices from any directory. Run at build time with -DOUT=... -DDIR=...
# -DKEYS=key1,key2,... (commas: a CMake list would split on the command line).
string(REPLACE "," ";" _keys "${KEYS}")
set(_text "// Generated from model/devices/*.json by model/embed_devices.cmake; do not edit.\n")
string(APPEND _text "constexpr ShippedDevice kShippedDevices[] = {\n")
foreach(_key ${_keys})
  file(READ ${DIR}/${_key}.json _json)
  string(APPEND _text "    {\"model/devices/${_key}.json\", R\"attnio(${_json})attnio\"},\n")
endforeach()
string(APPEND _text "};\n")
file(WRITE ${OUT}.tmp "${_text}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
