#include "attnio/model/device.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "attnio/model/errors.hpp"
#include "attnio/model/files.hpp"

namespace attnio {

namespace {

constexpr double KiB = 1024.0;
constexpr double MiB = 1024.0 * 1024.0;
constexpr double GiB = 1024.0 * 1024.0 * 1024.0;

// Shared memory serves 32 banks x 4 bytes per clock per SM (CUDA C++ Programming Guide, "Shared
// Memory" in the compute capability 8.x/9.0 sections).
constexpr double kSmemBytesPerClockPerSm = 128.0;
// MUFU throughput: 16 results per clock per SM for exp2/rcp/rsqrt/sin/cos on compute capability
// 8.0, 8.6, 8.9 and 9.0 (CUDA C++ Programming Guide, "Arithmetic Instructions" throughput table).
constexpr double kSfuOpsPerClockPerSm = 16.0;
// A few microseconds from host launch to the kernel's first instruction (PHYSICS.md "Wave
// quantization"); an assumption until `attnio ceilings` measures it.
constexpr double kLaunchOverheadS = 3e-6;

Device make_h100_sxm() {
  Device d;
  d.key = "h100-sxm";
  d.name = "NVIDIA H100 SXM5 80GB";
  d.sm_count = 132;                        // H100 whitepaper v1.03, Table 3
  d.clock_hz = 1.83e9;                     // clock of the datasheet tensor peaks: 989.4e12 / (132 SM x 4096 FLOP/clk)
  d.hbm_bytes_per_s = 3.35e12;             // H100 datasheet: HBM3 3.35 TB/s
  d.hbm_capacity_bytes = 80 * GiB;         // H100 datasheet: 80 GB (5 HBM3 stacks x 16 GiB)
  d.l2_bytes = 50 * MiB;                   // H100 whitepaper: 50 MB L2
  d.l2_bytes_per_s = 7.2e12;               // estimate: 5.5 TB/s measured on H100 PCIe (Chips and Cheese 2023), scaled by SMs x clock
  d.smem_bytes_per_sm = 228 * KiB;         // H100 whitepaper: 228 KB shared memory per SM
  d.sram_bytes_per_s = 132 * kSmemBytesPerClockPerSm * d.clock_hz;
  d.register_file_bytes_per_sm = 256 * KiB;  // H100 whitepaper Table 3: 64K 32-bit registers per SM
  d.bf16_tensor_flops_per_s = 989.4e12;    // H100 datasheet, dense (1979 with sparsity)
  d.fp16_tensor_flops_per_s = 989.4e12;    // H100 datasheet, dense
  d.fp8_tensor_flops_per_s = 1978.9e12;    // H100 datasheet, dense
  d.tf32_tensor_flops_per_s = 494.7e12;    // H100 datasheet, dense
  d.fp32_flops_per_s = 66.9e12;            // H100 datasheet (132 SM x 128 FP32 lanes x 2 x 1.98 GHz)
  d.sfu_ops_per_s = 132 * kSfuOpsPerClockPerSm * d.clock_hz;  // 3.9e12, as FlashAttention-3 §3 quotes
  d.nvlink_bytes_per_s = 450e9;            // H100 datasheet: NVLink 900 GB/s bidirectional
  d.launch_overhead_s = kLaunchOverheadS;
  d.sources = "NVIDIA H100 Tensor Core GPU datasheet and architecture whitepaper v1.03; "
              "CUDA C++ Programming Guide (smem banks, MUFU rate); L2 bandwidth estimated from "
              "Chips and Cheese, 'Nvidia's H100: Funny L2, and Tons of Bandwidth' (2023)";
  return d;
}

Device make_h100_pcie() {
  Device d;
  d.key = "h100-pcie";
  d.name = "NVIDIA H100 PCIe 80GB";
  d.sm_count = 114;                        // H100 whitepaper v1.03, Table 3
  d.clock_hz = 1.62e9;                     // clock of the datasheet tensor peaks: 756.5e12 / (114 SM x 4096 FLOP/clk)
  d.hbm_bytes_per_s = 2.0e12;              // H100 datasheet: HBM2e 2 TB/s
  d.hbm_capacity_bytes = 80 * GiB;         // H100 datasheet: 80 GB
  d.l2_bytes = 50 * MiB;                   // H100 whitepaper: 50 MB L2
  d.l2_bytes_per_s = 5.5e12;               // estimate: measured by Chips and Cheese (2023) on H100 PCIe
  d.smem_bytes_per_sm = 228 * KiB;         // H100 whitepaper
  d.sram_bytes_per_s = 114 * kSmemBytesPerClockPerSm * d.clock_hz;
  d.register_file_bytes_per_sm = 256 * KiB;  // H100 whitepaper Table 3
  d.bf16_tensor_flops_per_s = 756.5e12;    // H100 datasheet, dense (1513 with sparsity)
  d.fp16_tensor_flops_per_s = 756.5e12;    // H100 datasheet, dense
  d.fp8_tensor_flops_per_s = 1513e12;      // H100 datasheet, dense
  d.tf32_tensor_flops_per_s = 378e12;      // H100 datasheet, dense
  d.fp32_flops_per_s = 51.2e12;            // H100 datasheet
  d.sfu_ops_per_s = 114 * kSfuOpsPerClockPerSm * d.clock_hz;
  d.nvlink_bytes_per_s = 300e9;            // H100 datasheet: NVLink bridge 600 GB/s bidirectional
  d.launch_overhead_s = kLaunchOverheadS;
  d.sources = "NVIDIA H100 Tensor Core GPU datasheet and architecture whitepaper v1.03; "
              "CUDA C++ Programming Guide; L2 bandwidth: Chips and Cheese (2023) measurement";
  return d;
}

Device make_h200() {
  Device d = make_h100_sxm();  // same GH100 die and clocks (H200 datasheet lists the H100 SXM compute peaks)
  d.key = "h200";
  d.name = "NVIDIA H200 SXM 141GB";
  d.hbm_bytes_per_s = 4.8e12;              // H200 datasheet: HBM3e 4.8 TB/s
  d.hbm_capacity_bytes = 141 * GiB;        // H200 datasheet: 141 GB (binary, as H100's 80 GB; nvidia-smi shows 143771 MiB)
  d.sources = "NVIDIA H200 Tensor Core GPU datasheet (memory, NVLink); compute, L2 and SM figures "
              "as H100 SXM5 (same GH100 die); L2 bandwidth estimated as for H100 SXM5";
  return d;
}

Device make_a100(bool eighty) {
  Device d;
  d.key = eighty ? "a100-80gb" : "a100-40gb";
  d.name = eighty ? "NVIDIA A100 SXM4 80GB" : "NVIDIA A100 SXM4 40GB";
  d.sm_count = 108;                        // A100 whitepaper, Table 1
  d.clock_hz = 1.41e9;                     // A100 whitepaper: boost clock 1410 MHz
  d.hbm_bytes_per_s = eighty ? 2.039e12 : 1.555e12;  // A100 datasheet: HBM2e 2039 GB/s; HBM2 1555 GB/s
  d.hbm_capacity_bytes = (eighty ? 80 : 40) * GiB;   // A100 datasheet
  d.l2_bytes = 40 * MiB;                   // A100 whitepaper: 40 MB L2
  d.l2_bytes_per_s = 4.8e12;               // estimate: whitepaper's 2.3x V100 L2 bandwidth x 2.1 TB/s measured on V100 (Jia et al. 2018)
  d.smem_bytes_per_sm = 164 * KiB;         // A100 whitepaper: up to 164 KB shared memory per SM
  d.sram_bytes_per_s = 108 * kSmemBytesPerClockPerSm * d.clock_hz;
  d.register_file_bytes_per_sm = 256 * KiB;  // A100 whitepaper Table 1
  d.bf16_tensor_flops_per_s = 312e12;      // A100 datasheet, dense
  d.fp16_tensor_flops_per_s = 312e12;      // A100 datasheet, dense
  d.fp8_tensor_flops_per_s = 0;            // no FP8 tensor path on sm_80
  d.tf32_tensor_flops_per_s = 156e12;      // A100 datasheet, dense
  d.fp32_flops_per_s = 19.5e12;            // A100 datasheet
  d.sfu_ops_per_s = 108 * kSfuOpsPerClockPerSm * d.clock_hz;
  d.nvlink_bytes_per_s = 300e9;            // A100 datasheet: NVLink 600 GB/s bidirectional
  d.launch_overhead_s = kLaunchOverheadS;
  d.sources = "NVIDIA A100 datasheet and Ampere architecture whitepaper; CUDA C++ Programming "
              "Guide; L2 bandwidth estimated from the whitepaper ratio and Jia et al., "
              "'Dissecting the NVIDIA Volta GPU Architecture via Microbenchmarking' (2018)";
  return d;
}

Device make_ada(bool l40s) {
  Device d;
  d.key = l40s ? "l40s" : "rtx4090";
  d.name = l40s ? "NVIDIA L40S 48GB" : "NVIDIA GeForce RTX 4090 24GB";
  d.sm_count = l40s ? 142 : 128;           // L40S datasheet (18176 CUDA cores / 128); Ada whitepaper Appendix A
  d.clock_hz = 2.52e9;                     // boost clock, L40S datasheet / Ada whitepaper
  d.hbm_bytes_per_s = l40s ? 864e9 : 1008e9;  // GDDR6 864 GB/s (L40S datasheet); GDDR6X 1008 GB/s (Ada whitepaper)
  d.hbm_capacity_bytes = (l40s ? 48 : 24) * GiB;
  d.l2_bytes = (l40s ? 96 : 72) * MiB;     // Ada whitepaper: 96 MB on full AD102 (L40S), 72 MB on RTX 4090
  d.l2_bytes_per_s = l40s ? 5.5e12 : 5.0e12;  // estimate: ~5 TB/s measured on RTX 4090 (Chips and Cheese 2022), scaled by SMs
  d.smem_bytes_per_sm = 100 * KiB;         // CUDA C++ Programming Guide, compute capability 8.9: 100 KB per SM
  d.sram_bytes_per_s = d.sm_count * kSmemBytesPerClockPerSm * d.clock_hz;
  d.register_file_bytes_per_sm = 256 * KiB;  // Ada whitepaper: 64K 32-bit registers per SM
  // Tensor rates with FP32 accumulate, dense. GeForce parts run FP32-accumulate at half the FP16-
  // accumulate rate (Ada whitepaper Appendix A, Table 2); L40S does not.
  d.bf16_tensor_flops_per_s = l40s ? 362.05e12 : 165.2e12;
  d.fp16_tensor_flops_per_s = l40s ? 362.05e12 : 165.2e12;
  d.fp8_tensor_flops_per_s = l40s ? 733e12 : 330.3e12;
  d.tf32_tensor_flops_per_s = l40s ? 183e12 : 82.6e12;
  d.fp32_flops_per_s = l40s ? 91.6e12 : 82.6e12;
  d.sfu_ops_per_s = d.sm_count * kSfuOpsPerClockPerSm * d.clock_hz;
  d.nvlink_bytes_per_s = 0;                // neither has NVLink
  d.launch_overhead_s = kLaunchOverheadS;
  d.sources = l40s ? "NVIDIA L40S datasheet; NVIDIA Ada GPU architecture whitepaper; CUDA C++ "
                     "Programming Guide; L2 bandwidth estimated (Chips and Cheese RTX 4090 figure, scaled)"
                   : "NVIDIA Ada GPU architecture whitepaper, Appendix A (RTX 4090); CUDA C++ "
                     "Programming Guide; L2 bandwidth estimated from Chips and Cheese (2022)";
  return d;
}

namespace json = boost::json;

// Keys of the device JSON schema, in output order.
struct NumberField {
  const char* key;
  double Device::*member;
  bool required;
  bool may_be_zero;
  double max;   // beyond any real GPU by orders of magnitude; keeps later integer casts exact
  bool whole;   // a byte count
};
constexpr double kMaxRate = 1e20;  // per second: 100 EFLOP/s or 100 EB/s
constexpr NumberField kNumberFields[] = {
    {"clock_hz", &Device::clock_hz, true, false, 1e11, false},
    {"hbm_bytes_per_s", &Device::hbm_bytes_per_s, true, false, kMaxRate, false},
    {"hbm_capacity_bytes", &Device::hbm_capacity_bytes, true, false, 0x1p50, true},
    {"l2_bytes", &Device::l2_bytes, true, false, 0x1p40, true},
    {"l2_bytes_per_s", &Device::l2_bytes_per_s, true, false, kMaxRate, false},
    {"smem_bytes_per_sm", &Device::smem_bytes_per_sm, true, false, 0x1p32, true},
    {"sram_bytes_per_s", &Device::sram_bytes_per_s, true, false, kMaxRate, false},
    {"register_file_bytes_per_sm", &Device::register_file_bytes_per_sm, true, false, 0x1p32, true},
    {"bf16_tensor_flops_per_s", &Device::bf16_tensor_flops_per_s, true, false, kMaxRate, false},
    {"fp16_tensor_flops_per_s", &Device::fp16_tensor_flops_per_s, true, false, kMaxRate, false},
    {"fp8_tensor_flops_per_s", &Device::fp8_tensor_flops_per_s, false, true, kMaxRate, false},
    {"tf32_tensor_flops_per_s", &Device::tf32_tensor_flops_per_s, true, false, kMaxRate, false},
    {"fp32_flops_per_s", &Device::fp32_flops_per_s, true, false, kMaxRate, false},
    {"sfu_ops_per_s", &Device::sfu_ops_per_s, true, false, kMaxRate, false},
    {"nvlink_bytes_per_s", &Device::nvlink_bytes_per_s, false, true, kMaxRate, false},
    {"launch_overhead_s", &Device::launch_overhead_s, true, true, 1.0, false},
};

struct MeasuredField {
  const char* key;
  std::optional<double> MeasuredCeilings::*member;
};
constexpr MeasuredField kMeasuredFields[] = {
    {"hbm_bytes_per_s", &MeasuredCeilings::hbm_bytes_per_s},
    {"l2_bytes_per_s", &MeasuredCeilings::l2_bytes_per_s},
    {"bf16_tensor_flops_per_s", &MeasuredCeilings::bf16_tensor_flops_per_s},
    {"fp16_tensor_flops_per_s", &MeasuredCeilings::fp16_tensor_flops_per_s},
    {"fp8_tensor_flops_per_s", &MeasuredCeilings::fp8_tensor_flops_per_s},
    {"tf32_tensor_flops_per_s", &MeasuredCeilings::tf32_tensor_flops_per_s},
    {"fp32_flops_per_s", &MeasuredCeilings::fp32_flops_per_s},
    {"sfu_ops_per_s", &MeasuredCeilings::sfu_ops_per_s},
};

double positive_number(const json::value& v, std::string_view origin, std::string_view key,
                       bool may_be_zero) {
  double x;
  if (v.is_double()) {
    x = v.get_double();
  } else if (v.is_int64()) {
    x = static_cast<double>(v.get_int64());
  } else if (v.is_uint64()) {
    x = static_cast<double>(v.get_uint64());
  } else {
    throw InputError(std::string(origin) + ": key '" + std::string(key) + "' must be a number");
  }
  if (!std::isfinite(x) || x < 0 || (x == 0 && !may_be_zero)) {
    throw InputError(std::string(origin) + ": key '" + std::string(key) + "' must be " +
                     (may_be_zero ? "zero or positive" : "positive") + ", got " +
                     json::serialize(v));
  }
  return x;
}

std::string string_field(const json::value& v, std::string_view origin, std::string_view key) {
  if (!v.is_string() || v.get_string().empty()) {
    throw InputError(std::string(origin) + ": key '" + std::string(key) +
                     "' must be a non-empty string");
  }
  return std::string(v.get_string());
}

json::object to_object(const Device& d) {
  json::object o;
  o["key"] = d.key;
  o["name"] = d.name;
  o["sm_count"] = d.sm_count;
  for (const auto& f : kNumberFields) o[f.key] = d.*f.member;
  json::object m;
  for (const auto& f : kMeasuredFields) {
    if (const auto& x = d.measured.*f.member) m[f.key] = *x;
  }
  if (!m.empty()) o["measured"] = std::move(m);
  o["sources"] = d.sources;
  return o;
}

}  // namespace

double Device::tensor_rate(Dtype dtype) const {
  switch (dtype) {
    case Dtype::fp32: return measured.tf32_tensor_flops_per_s.value_or(tf32_tensor_flops_per_s);
    case Dtype::fp16: return measured.fp16_tensor_flops_per_s.value_or(fp16_tensor_flops_per_s);
    case Dtype::bf16: return measured.bf16_tensor_flops_per_s.value_or(bf16_tensor_flops_per_s);
    case Dtype::fp8: return measured.fp8_tensor_flops_per_s.value_or(fp8_tensor_flops_per_s);
  }
  return 0;
}

const std::vector<Device>& builtin_devices() {
  static const std::vector<Device> devices = {make_h100_sxm(), make_h100_pcie(), make_h200(),
                                              make_a100(false),  make_a100(true), make_ada(true),
                                              make_ada(false)};
  return devices;
}

const Device& default_device() { return builtin_devices().front(); }

const Device& find_device(std::string_view key) {
  std::string known;
  for (const auto& d : builtin_devices()) {
    if (d.key == key) return d;
    known += known.empty() ? d.key : ", " + d.key;
  }
  throw InputError("unknown device '" + std::string(key) + "' (known: " + known +
                   "; or give --device-file)");
}

Device device_from_json(std::string_view text, std::string_view origin) {
  json::value root;
  try {
    root = json::parse(text);
  } catch (const std::exception& e) {
    throw InputError(std::string(origin) + ": not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object()) throw InputError(std::string(origin) + ": top level must be a JSON object");
  const json::object& o = root.get_object();

  for (const auto& kv : o) {
    const std::string_view k = kv.key();
    bool known = k == "key" || k == "name" || k == "sm_count" || k == "measured" || k == "sources";
    for (const auto& f : kNumberFields) known = known || k == f.key;
    if (!known) throw InputError(std::string(origin) + ": unknown key '" + std::string(k) + "'");
  }

  Device d;
  const auto* name = o.if_contains("name");
  if (!name) throw InputError(std::string(origin) + ": missing key 'name'");
  d.name = string_field(*name, origin, "name");
  const auto* key = o.if_contains("key");
  d.key = key ? string_field(*key, origin, "key") : d.name;

  const auto* sms = o.if_contains("sm_count");
  if (!sms) throw InputError(std::string(origin) + ": missing key 'sm_count'");
  const double sm_count = positive_number(*sms, origin, "sm_count", false);
  if (sm_count != std::floor(sm_count) || sm_count > 100000) {
    throw InputError(std::string(origin) + ": key 'sm_count' must be a whole number up to 100000");
  }
  d.sm_count = static_cast<int>(sm_count);

  for (const auto& f : kNumberFields) {
    const auto* v = o.if_contains(f.key);
    if (!v) {
      if (f.required) throw InputError(std::string(origin) + ": missing key '" + f.key + "'");
      continue;
    }
    const double x = positive_number(*v, origin, f.key, f.may_be_zero);
    if (x > f.max) {
      throw InputError(std::string(origin) + ": key '" + f.key + "' is " + json::serialize(*v) + ", above the " +
                       json::serialize(json::value(f.max)) + " attnio accepts");
    }
    if (f.whole && x != std::floor(x)) {
      throw InputError(std::string(origin) + ": key '" + f.key + "' must be a whole number of bytes");
    }
    d.*f.member = x;
  }

  if (const auto* m = o.if_contains("measured")) {
    if (!m->is_object()) throw InputError(std::string(origin) + ": key 'measured' must be an object");
    for (const auto& kv : m->get_object()) {
      const MeasuredField* field = nullptr;
      for (const auto& f : kMeasuredFields) {
        if (kv.key() == f.key) field = &f;
      }
      if (!field) {
        throw InputError(std::string(origin) + ": unknown key 'measured." + std::string(kv.key()) + "'");
      }
      const double x = positive_number(kv.value(), origin, std::string("measured.") + field->key, false);
      if (x > kMaxRate) {
        throw InputError(std::string(origin) + ": key 'measured." + field->key + "' is above the 1e20 per second attnio accepts");
      }
      d.measured.*field->member = x;
    }
  }
  if (const auto* s = o.if_contains("sources")) {
    if (!s->is_string()) throw InputError(std::string(origin) + ": key 'sources' must be a string");
    d.sources = std::string(s->get_string());
  }
  return d;
}

Device load_device_file(const std::string& path) {
  return device_from_json(read_input_file(path, "device file", 16u << 20), "device file '" + path + "'");
}

std::string device_to_json(const Device& device) { return json::serialize(to_object(device)); }

std::string devices_to_json(const std::vector<Device>& devices) {
  json::array a;
  for (const auto& d : devices) a.push_back(to_object(d));
  return json::serialize(a);
}

}  // namespace attnio
