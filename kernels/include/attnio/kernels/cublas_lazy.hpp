// cuBLAS opened on first use (cublas_lazy.cpp): why it could not be, and whether it is loaded.
#pragma once

#include <string>

namespace attnio::kernels {

// Empty while the library loads (or has not been asked for yet); else dlerror's reason.
std::string cublas_load_error();
// ": <that reason>" for a failed call's message, or "" when the library loaded.
std::string cublas_reason();
// Whether libcublas is mapped into this process (tests: the CLI must not load it at start-up).
bool cublas_loaded();

}  // namespace attnio::kernels
