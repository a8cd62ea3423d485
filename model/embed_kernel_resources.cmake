# Writes kernels/resources.csv (ptxas's resource report for attnio's kernels, written by
# scripts/kernel-resources) into a C++ include as a raw string literal, so the `attnio` profile
# knows its kernels' registers without a CUDA toolkit. Run at build time with -DOUT=... -DCSV=...
file(READ ${CSV} _csv)
set(_text "// Generated from kernels/resources.csv by model/embed_kernel_resources.cmake; do not edit.\n")
string(APPEND _text "constexpr std::string_view kKernelResourcesCsv = R\"attnio(${_csv})attnio\";\n")
file(WRITE ${OUT}.tmp "${_text}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
