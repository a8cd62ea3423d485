# Writes validation/published.csv into a C++ include as a raw string literal, so `attnio validate`
# runs from any folder. Run at build time with -DOUT=... -DCSV=...
file(READ ${CSV} _csv)
set(_text "// Generated from validation/published.csv by traces/embed_published.cmake; do not edit.\n")
string(APPEND _text "constexpr char kPublishedCsv[] = R\"attnio(${_csv})attnio\";\n")
file(WRITE ${OUT}.tmp "${_text}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
