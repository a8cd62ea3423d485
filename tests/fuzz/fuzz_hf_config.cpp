// Hugging Face config.json import (attnio model --config): parse, then predict the model's layer
// and the whole stack (every mixer kind, MoE, tensor parallel), in prefill and decode.
#include "fuzz_common.hpp"

#include "attnio/model/hf_config.hpp"
#include "attnio/model/stack.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnio;
  try {
    const ModelConfig c = parse_hf_config(fuzz::text(data, size), "fuzz");
    Workload base;
    base.seq = 4096;
    const Workload w = c.apply(base);
    fuzz::try_predict(default_device(), w);
    Workload decode = base;
    decode.phase = Phase::decode;
    fuzz::try_predict(default_device(), c.apply(decode));
    for (std::uint64_t tp : {1, 2}) {
      for (const Workload& one : {c.apply(base), c.apply(decode)}) {
        if (fuzz::too_long(one)) continue;
        try {
          (void)evaluate_stack(default_device(), c, one, StackOptions{tp});
        } catch (const InputError&) {
        }
      }
    }
  } catch (const InputError&) {
  }
  return 0;
}
