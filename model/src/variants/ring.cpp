// Ring attention (Liu, Zaharia, Abbeel 2023, "Ring Attention with Blockwise Transformers for
// Near-Infinite Context", §3): P devices each hold N/P queries and keys and pass K/V blocks around
// a ring over NVLink while each computes one block with the flash2 kernel.
#include "flash.hpp"

namespace attnio::detail {

const ParamSpec kGpus{
    .key = "gpus", .default_value = 8, .default_text = "8", .unit = "GPUs", .help = "ring: GPUs P (default 8)",
    .source = "one 8-GPU NVLink node (DGX H100)"};

namespace {


// Liu et al. 2023 §3: P devices each hold N/P queries and N/P keys; in each of P steps a device
// computes one block with the flash2 kernel while sending its current K/V block to the next device,
// and merges the block's output into its running O and log-sum-exp (kept in fp32). The P - 1 full
// steps overlap compute with the transfer, so they form one kernel whose time is the larger of the
// two. Counts are for one device, the busiest: with a causal mask the last device computes P
// blocks while the first computes one, so causal ring attention is not faster than non-causal.
void ring(Evaluator& ev) {
  const Shape s = ev.shape();
  const u64 gpus = ev.w().count("gpus");
  Shape blk = s;
  blk.n = s.n / gpus;
  blk.nk = s.nk / gpus;
  const Count block_kv = kv_heads_bytes(blk, blk.nk, ev.e());
  const Count merge = Count(s.batch) * s.heads * blk.n * (s.dv + 1) * kStatBytes;
  if (gpus > 1) {
    const int first = ev.out().kernel_count();
    flash_passes(ev, blk, Mask{}, {}, false);
    KernelCost& step = ev.out().kernels[first];
    step.link_bytes = block_kv;
    Evaluator::read_direct(step, merge);
    Evaluator::write_direct(step, merge);
    for (int i = first; i < ev.out().kernel_count(); ++i) scale_kernel(ev.out().kernels[i], gpus - 1);
  }
  Mask diag;  // the device's own block: square, so the causal diagonal has offset 0
  if (ev.w().causal) diag.kind = MaskKind::causal;
  flash_passes(ev, blk, diag, {}, false);
  ev.out().extras.link_bytes_per_step = block_kv;
  ev.out().extra_memory_bytes += merge + block_kv;  // running output and the K/V block in flight
}

constexpr const ParamSpec* kParams[] = {&kBlockM, &kBlockN, &kClaShare, &kGpus};
const VariantDescriptor kDesc{
    .name = "ring",
    .summary = "ring attention over P GPUs, K/V blocks passed over NVLink (Liu et al. 2023)",
    .sources = "Liu et al. 2023, Ring Attention with Blockwise Transformers, §3",
    .params = kParams, .decode = false,
    .check = [](const Workload& w, const Device& device) {
      check_block_tiles(w);
      const u64 gpus = w.count("gpus");
      if (device.nvlink_bytes_per_s <= 0) throw InputError("ring: device '" + device.key + "' has no NVLink bandwidth");
      if (device.nvlink_gpus > 0 && static_cast<double>(gpus) > device.nvlink_gpus) {
        throw InputError("ring: device '" + device.key + "' joins " + std::to_string(static_cast<int>(device.nvlink_gpus)) +
                         " GPUs by NVLink (nvlink_gpus: its bridge); --gpus " + std::to_string(gpus) +
                         " would pass K/V over PCIe, which is not modelled");
      }
      if (w.seq % gpus != 0 || w.kv_len % gpus != 0) {
        throw InputError("ring: --seq and --kv-len must be divisible by --gpus " + std::to_string(gpus));
      }
    },
    .evaluate = ring,
    .cache_bytes = [](const Workload& w) { return kv_cache_tokens(w, w.kv_len / w.count("gpus")); },  // this device's share
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ((N/P)²·d²/M) per step + Θ(N·d/P) over the link"; },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "gpus", std::to_string(p.workload.count("gpus")));
      put(s, "link_bytes_per_step", std::to_string(p.extras.link_bytes_per_step.v));
      return s;
    },
    .no_schedule = "ring spans several GPUs; simulate one device with flash2 on N/P tokens instead",
    .derivation = [](const Prediction& p) -> std::string {
      return "Ring attention (Liu et al. §3): " + num(p.workload.count("gpus")) + " GPUs hold N/P tokens each; each of P steps computes "
             "one block while passing K/V to the next GPU over NVLink; the transfer hides when a block's compute takes "
             "longer than its bytes over the link. Counts are for the busiest GPU.\n";
    }};

}  // namespace

const VariantDescriptor& ring_variant() { return kDesc; }

}  // namespace attnio::detail
