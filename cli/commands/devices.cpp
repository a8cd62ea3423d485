// `attnio devices`: the built-in devices (and a --device-file); --format json prints the device-file
// schema.
#include "commands/commands.hpp"

#include <cstdint>
#include <iostream>

#include "attnio/model/device.hpp"
#include "attnio/model/record.hpp"
#include "command_util.hpp"
#include "output.hpp"

namespace attnio::cli {
namespace {

Record device_record(const Device& d) {
  Record r;
  r.emplace_back("key", d.key);
  r.emplace_back("name", d.name);
  r.emplace_back("sm_count", static_cast<std::uint64_t>(d.sm_count));
  r.emplace_back("clock_hz", d.clock_hz);
  r.emplace_back("hbm_bytes_per_s", d.hbm_bytes_per_s);
  r.emplace_back("hbm_capacity_bytes", d.hbm_capacity_bytes);
  r.emplace_back("l2_bytes", d.l2_bytes);
  r.emplace_back("l2_bytes_per_s", d.l2_bytes_per_s);
  r.emplace_back("smem_bytes_per_sm", d.smem_bytes_per_sm);
  r.emplace_back("sram_bytes_per_s", d.sram_bytes_per_s);
  r.emplace_back("register_file_bytes_per_sm", d.register_file_bytes_per_sm);
  r.emplace_back("bf16_tensor_flops_per_s", d.bf16_tensor_flops_per_s);
  r.emplace_back("fp16_tensor_flops_per_s", d.fp16_tensor_flops_per_s);
  r.emplace_back("fp8_tensor_flops_per_s", d.fp8_tensor_flops_per_s);
  r.emplace_back("tf32_tensor_flops_per_s", d.tf32_tensor_flops_per_s);
  r.emplace_back("fp32_flops_per_s", d.fp32_flops_per_s);
  r.emplace_back("sfu_ops_per_s", d.sfu_ops_per_s);
  r.emplace_back("nvlink_bytes_per_s", d.nvlink_bytes_per_s);
  r.emplace_back("launch_overhead_s", d.launch_overhead_s);
  r.emplace_back("fp32_lanes_per_sm", d.fp32_lanes_per_sm);
  r.emplace_back("locked_clock_hz", d.locked_clock_hz);  // 0: not locked
  r.emplace_back("measured_hbm_bytes_per_s", d.measured.hbm_bytes_per_s.value_or(0.0));
  r.emplace_back("measured_bf16_tensor_flops_per_s", d.measured.bf16_tensor_flops_per_s.value_or(0.0));
  r.emplace_back("sources", d.sources);
  return r;
}

}  // namespace

int cmd_devices(const std::vector<std::string>& args) {
  po::options_description desc("devices options");
  desc.add_options()("device-file", po::value<std::string>(), "also show a device loaded from a JSON file");
  po::variables_map vm;
  if (!parse("devices", "[--format table|csv|json] [--device-file F]", desc, args, vm)) return 0;
  std::vector<Device> devices = builtin_devices();
  if (vm.count("device-file")) devices.push_back(load_device_file(vm["device-file"].as<std::string>()));
  const Format f = format_of(vm);
  if (f == Format::json) {
    // The device-file schema itself, so any entry can be saved and edited as a --device-file.
    std::cout << devices_to_json(devices) << "\n";
    return 0;
  }
  auto printer = make_printer(f, std::cout,
                              {{"key", "key", 10, Kind::text},
                               {"name", "name", 29, Kind::text},
                               {"SMs", "sm_count", 4, Kind::count},
                               {"HBM", "hbm_bytes_per_s", 10, Kind::rate_bytes},
                               {"capacity", "hbm_capacity_bytes", 8, Kind::binary_bytes},
                               {"L2", "l2_bytes", 6, Kind::binary_bytes},
                               {"smem/SM", "smem_bytes_per_sm", 7, Kind::binary_bytes},
                               {"bf16 tensor", "bf16_tensor_flops_per_s", 14, Kind::rate_flops},
                               {"fp32", "fp32_flops_per_s", 13, Kind::rate_flops},
                               {"SFU", "sfu_ops_per_s", 13, Kind::rate_flops},
                               {"NVLink", "nvlink_bytes_per_s", 10, Kind::rate_bytes}},
                              false);
  for (const auto& d : devices) printer->row(device_record(d));
  printer->end();
  return 0;
}

}  // namespace attnio::cli
