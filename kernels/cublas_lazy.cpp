// cuBLAS, loaded on first use. Linking libcublas (and the libcublasLt it pulls in) made every
// `attnio` process pay for loading it, GPU command or not: 0.32 s of the 0.33 s an `attnio devices`
// took on the 2-core build machine (perf stat, 2026-12-05: 27,000 page faults; perf record: 41 % of
// the samples in libcublasLt's own start-up code, 46 % in the kernel mapping its pages), against
// 0.012 s for the same command built without CUDA. Only `kernels`, `profile` and `ceilings` run a
// GEMM, so the kernels library defines the five cuBLAS entry points it calls here, each opening
// the toolkit's libcublas.so.<major> with dlopen on the first call and forwarding to the real
// function (dlsym); the declarations are the toolkit's own (cublas_v2.h), so the signatures cannot
// drift. A library that cannot be opened makes every call return CUBLAS_STATUS_NOT_INITIALIZED,
// and cublas_load_error() says why (dlerror's text), for the callers' messages.
#include "attnio/kernels/cublas_lazy.hpp"

#include <cublas_v2.h>
#include <dlfcn.h>

#include <mutex>

#define ATTNIO_CUBLAS_STR2(x) #x
#define ATTNIO_CUBLAS_STR(x) ATTNIO_CUBLAS_STR2(x)

namespace {

// The soname of the toolkit the kernels were compiled against (cublas_api.h CUBLAS_VER_MAJOR).
constexpr const char* kLibrary = "libcublas.so." ATTNIO_CUBLAS_STR(CUBLAS_VER_MAJOR);

struct Library {
  void* handle = nullptr;
  std::string error;
};

const Library& library() {
  static Library lib;
  static std::once_flag once;
  std::call_once(once, [] {
    lib.handle = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (lib.handle == nullptr) {
      const char* why = dlerror();
      lib.error = std::string(kLibrary) + " could not be loaded: " + (why ? why : "unknown error");
    }
  });
  return lib;
}

// The real entry point, or nullptr when the library or the symbol is missing.
template <class F>
F real(const char* name) {
  const Library& lib = library();
  return lib.handle != nullptr ? reinterpret_cast<F>(dlsym(lib.handle, name)) : nullptr;
}

}  // namespace

namespace attnio::kernels {

std::string cublas_load_error() { return library().error; }

std::string cublas_reason() {
  const std::string& why = library().error;
  return why.empty() ? std::string() : ": " + why;
}

bool cublas_loaded() { return dlopen(kLibrary, RTLD_NOW | RTLD_NOLOAD) != nullptr; }

}  // namespace attnio::kernels

// The entry points (cublas_v2.h maps cublasCreate, cublasDestroy and cublasSetStream to the _v2
// names). Each resolves its target once. The GEMMs' pointer types are spelled out: the header also
// declares C++ overloads of both that take the older cudaDataType compute type.
using GemmEx = cublasStatus_t(CUBLASWINAPI*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                             const void*, const void*, cudaDataType, int, const void*, cudaDataType, int,
                                             const void*, void*, cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
using GemmBatchedEx = cublasStatus_t(CUBLASWINAPI*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                                    const void*, const void* const[], cudaDataType, int,
                                                    const void* const[], cudaDataType, int, const void*, void* const[],
                                                    cudaDataType, int, int, cublasComputeType_t, cublasGemmAlgo_t);

extern "C" {

cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t* handle) {
  static const auto f = real<decltype(&cublasCreate_v2)>("cublasCreate_v2");
  return f ? f(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasDestroy_v2(cublasHandle_t handle) {
  static const auto f = real<decltype(&cublasDestroy_v2)>("cublasDestroy_v2");
  return f ? f(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  static const auto f = real<decltype(&cublasSetStream_v2)>("cublasSetStream_v2");
  return f ? f(handle, stream) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                         int n, int k, const void* alpha, const void* A, cudaDataType Atype, int lda,
                                         const void* B, cudaDataType Btype, int ldb, const void* beta, void* C,
                                         cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                                         cublasGemmAlgo_t algo) {
  static const auto f = real<GemmEx>("cublasGemmEx");
  return f ? f(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc, computeType, algo)
           : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasGemmBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                                int m, int n, int k, const void* alpha, const void* const Aarray[],
                                                cudaDataType Atype, int lda, const void* const Barray[], cudaDataType Btype,
                                                int ldb, const void* beta, void* const Carray[], cudaDataType Ctype, int ldc,
                                                int batchCount, cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
  static const auto f = real<GemmBatchedEx>("cublasGemmBatchedEx");
  return f ? f(handle, transa, transb, m, n, k, alpha, Aarray, Atype, lda, Barray, Btype, ldb, beta, Carray, Ctype, ldc,
               batchCount, computeType, algo)
           : CUBLAS_STATUS_NOT_INITIALIZED;
}

}  // extern "C"
