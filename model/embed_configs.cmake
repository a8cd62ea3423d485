# Writes the shipped model configs into a C++ include as raw string literals, so `attnio models`
# works from any directory. Run at build time with -DOUT=... -DDIR=...
set(_names llama-3-8b:kLlama3_8b mistral-7b:kMistral7b deepseek-v2:kDeepseekV2 gpt2-medium:kGpt2Medium mamba-2.8b:kMamba2_8b mixtral-8x7b:kMixtral8x7b
           llama-3-70b:kLlama3_70b qwen2-7b:kQwen2_7b gemma-2-9b:kGemma2_9b deepseek-v3:kDeepseekV3 mamba2-2.7b:kMamba2_2_7b jamba-v0.1:kJambaV01 nemotron-h-8b:kNemotronH8b gpt2:kGpt2)
set(_text "// Generated from model/configs/*.json by model/embed_configs.cmake; do not edit.\n")
foreach(_pair ${_names})
  string(REPLACE ":" ";" _parts ${_pair})
  list(GET _parts 0 _file)
  list(GET _parts 1 _var)
  file(READ ${DIR}/${_file}.json _json)
  string(APPEND _text "constexpr std::string_view ${_var} = R\"attnio(${_json})attnio\";\n")
endforeach()
file(WRITE ${OUT}.tmp "${_text}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
