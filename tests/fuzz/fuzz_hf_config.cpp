// Hugging Face config.json import (attnio model --config): parse, then predict the model's layer.
#include "fuzz_common.hpp"

#include "attnio/model/hf_config.hpp"

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
  } catch (const InputError&) {
  }
  return 0;
}
