#include "attnio/model/record.hpp"

#include <charconv>

#include "attnio/model/errors.hpp"

namespace attnio {

Record to_record(const Device& device, const Prediction& p) {
  const Workload& w = p.workload;
  Record r;
  r.reserve(64);
  auto put = [&r](const char* key, Value v) { r.emplace_back(key, std::move(v)); };
  put("device", device.key);
  put("variant", std::string(to_string(w.variant)));
  put("phase", std::string(to_string(w.phase)));
  put("pass", std::string(to_string(w.pass)));
  put("batch", w.batch);
  put("seq", w.query_len());
  put("kv_len", w.kv_len);
  put("heads", w.heads);
  put("kv_heads", w.kv_heads);
  put("head_dim", w.head_dim);
  put("v_head_dim", w.v_head_dim);
  put("dtype", std::string(to_string(w.dtype)));
  put("causal", w.causal);
  put("layers", w.layers);
  put("flops", p.flops().v);
  put("tensor_flops", p.tensor_flops.v);
  put("fp32_flops", p.fp32_flops.v);
  put("sfu_flops", p.sfu_flops.v);
  put("hbm_read_bytes", p.hbm_read_bytes.v);
  put("hbm_write_bytes", p.hbm_write_bytes.v);
  put("hbm_bytes", p.hbm_bytes().v);
  put("l2_read_bytes", p.l2_read_bytes.v);
  put("l2_write_bytes", p.l2_write_bytes.v);
  put("l2_bytes", p.l2_bytes().v);
  put("sram_read_bytes", p.sram_read_bytes.v);
  put("sram_write_bytes", p.sram_write_bytes.v);
  put("sram_bytes", p.sram_bytes().v);
  put("link_bytes", p.link_bytes.v);
  put("extra_memory_bytes", p.extra_memory_bytes.v);
  put("kv_cache_bytes", p.kv_cache_bytes.v);
  put("arithmetic_intensity", p.arithmetic_intensity);
  put("bound", std::string(p.memory_bound() ? "memory" : "compute"));
  put("binding_ceiling", std::string(to_string(p.binding_ceiling)));
  put("predicted_time_s", p.predicted_time_s);
  put("impl", std::string(p.impl ? p.impl->key : ""));
  put("limited_by", std::string(to_string(p.bound)));
  put("roofline_time_s", p.roofline_time_s);
  for (int c = 0; c < kCeilingCount; ++c) {
    r.emplace_back("time_" + std::string(to_string(static_cast<Ceiling>(c))) + "_s", p.ceiling_time_s[c]);
  }
  put("time_launch_s", p.launch_time_s);
  // Launch overhead outweighs every roofline ceiling: tiny grids (decode at batch 1) live here.
  put("latency_bound", p.bound == Bound::launch || p.bound == Bound::latency);
  put("launches", p.launches.v);
  put("ctas", p.ctas.v);
  put("wave_efficiency", p.wave_efficiency);
  put("block_m", p.block_m);
  put("block_n", p.block_n);
  put("sram_capacity_bytes", w.sram_bytes);
  put("l2_model", w.l2);
  put("l2_start", std::string(w.dirty_l2 ? "dirty" : "clean"));
  put("grads", std::string(w.accumulate_grads ? "accumulate" : "fresh"));
  put("params", params_text(p));
  put("io_complexity", std::string(p.io_complexity));
  return r;
}

namespace {

std::uint64_t parse_uint(const std::string& flag, std::string_view s, bool allow_zero = false) {
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    throw InputError("--" + flag + ": '" + std::string(s) + "' is not a whole number");
  }
  if (v == 0 && !allow_zero) throw InputError("--" + flag + " must be at least 1");
  return v;
}

}  // namespace

std::vector<std::uint64_t> parse_uint_list(const std::string& flag, const std::string& text,
                                           std::size_t max_values, bool allow_zero) {
  std::vector<std::uint64_t> out;
  auto push = [&](std::uint64_t v) {
    if (out.size() == max_values) {
      throw InputError("--" + flag + ": more than " + std::to_string(max_values) + " values");
    }
    out.push_back(v);
  };
  std::string_view rest = text;
  if (rest.empty()) throw InputError("--" + flag + ": empty value");
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const auto c1 = item.find(':');
    if (c1 == std::string_view::npos) {
      push(parse_uint(flag, item, allow_zero));
    } else {
      const auto c2 = item.find(':', c1 + 1);
      if (c2 == std::string_view::npos) {
        throw InputError("--" + flag + ": range '" + std::string(item) + "' needs start:end:step (x2 or +64)");
      }
      const std::uint64_t lo = parse_uint(flag, item.substr(0, c1), allow_zero);
      const std::uint64_t hi = parse_uint(flag, item.substr(c1 + 1, c2 - c1 - 1), allow_zero);
      const std::string_view step = item.substr(c2 + 1);
      if (lo > hi) throw InputError("--" + flag + ": range '" + std::string(item) + "' runs backwards");
      if (step.size() < 2 || (step[0] != 'x' && step[0] != '+')) {
        throw InputError("--" + flag + ": step '" + std::string(step) + "' must be xK (multiply) or +K (add)");
      }
      const std::uint64_t k = parse_uint(flag, step.substr(1));
      if (step[0] == 'x' && k < 2) throw InputError("--" + flag + ": multiplying step must be at least x2");
      if (step[0] == 'x' && lo == 0) throw InputError("--" + flag + ": a multiplying range cannot start at 0");
      for (std::uint64_t v = lo; v <= hi;) {
        push(v);
        const std::uint64_t next = step[0] == 'x' ? v * k : v + k;
        if ((step[0] == 'x' && next / k != v) || next < v) break;  // past 2^64: the range is done
        v = next;
      }
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return out;
}

}  // namespace attnio
