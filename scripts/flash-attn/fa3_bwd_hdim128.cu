// FlashAttention-3's backward at d = 128 on sm90, fp16: the two configurations hopper/
// flash_bwd_launch_template.h's run_mha_bwd_hdim128 picks for Arch 90 (causal: 64 x 128 tiles;
// not causal: 80 x 128 with dQ_swapAB), for MHA (GQA false), not deterministic, not varlen: the
// kernels (preprocess, main, dQ postprocess) mha_bwd runs for the rows fa3_bench times. Instantiated
// here rather than through the library's flash_bwd_hdim128_fp16_sm90.cu, which also compiles the
// GQA and deterministic variants (four times the kernels); scripts/flash-attn/build-bench checks
// that the library's dispatch still names these template arguments before it builds this file.
#include "flash_bwd_launch_template.h"

void fa3_bwd_hdim128_fp16(Flash_bwd_params& params, cudaStream_t stream) {
  // run_flash_bwd<Arch, kHeadDim, kBlockM, kBlockN, Element, Is_causal, Is_local, Has_softcap, Varlen,
  //               Deterministic, GQA, Stages_dO, Stages_dS, SdP_swapAB, dKV_swapAB, dQ_swapAB,
  //               NumMmaWarpGroups, AtomLayoutMSdP, AtomLayoutNdKV, AtomLayoutMdQ, V_in_regs>
  if (params.is_causal) {
    run_flash_bwd<90, 128, 64, 128, cutlass::half_t, true, false, false, false, false, false, 2, 2, true, false, false, 2, 1, 2, 1,
                  false>(params, stream);
  } else {
    run_flash_bwd<90, 128, 80, 128, cutlass::half_t, false, false, false, false, false, false, 2, 2, true, false, true, 2, 1, 2, 1,
                  false>(params, stream);
  }
}
