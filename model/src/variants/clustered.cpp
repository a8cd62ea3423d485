// Clustered attention (Vyas, Katharopoulos & Fleuret 2020, "Fast Transformers with Clustered
// Attention", §3.2): the queries are hashed with B random hyperplanes, grouped into C clusters by
// K-means in Hamming space, and attention is computed once per cluster centroid and broadcast to
// the cluster's queries: O(N·C·d) instead of O(N²·d). Counted as the authors' library runs it
// (idiap/fast-transformers: attention/clustered_attention.py ClusteredAttention.forward,
// hashing/hash_cuda.cu, clustering/hamming/cluster_cuda.cu, aggregate/clustered_aggregate_cuda.cu),
// PyTorch eager around its CUDA extensions, inference (dropout off).
#include <algorithm>

#include "common.hpp"

namespace attnio::detail {

namespace {

const ParamSpec kClusters{
    .key = "clusters", .default_value = 100, .default_text = "100", .unit = "clusters",
    .help = "clustered: query clusters C (one attention row per cluster)",
    .source = "Vyas et al. 2020 §4.1: clustered-100 on WSJ and Switchboard"};
const ParamSpec kIterations{
    .key = "iterations", .default_value = 10, .default_text = "10", .min = 0, .max = 1000, .unit = "iterations",
    .help = "clustered: Lloyd iterations of the Hamming K-means",
    .source = "fast-transformers clustered_attention.py: iterations=10"};
const ParamSpec kHashBits{
    .key = "hash_bits", .default_value = 63, .default_text = "63", .max = 63, .unit = "bits",
    .help = "clustered: LSH hash bits per query (at most 63: one int64)",
    .source = "fast-transformers AttentionRegistry 'clustered': bits=63"};

u64 clusters_of(const Workload& w) { return w.count("clusters"); }

// torch.sort along a dimension of at most 4096 elements sorts each row in shared memory in one
// pass (ATen/native/cuda/Sort.cpp should_use_small_sort, sortKeyValueInplace); longer rows go to
// cub's segmented radix sort, one pass per 8-bit digit of the key, keys and values read and
// written in each.
u64 sort_passes(u64 row, u64 key_bytes) { return row <= 4096 ? 1 : key_bytes; }

// Hopper SMs issue INT32 at half the FP32 lane rate (16 of 32 lanes per sub-partition; NVIDIA H100
// whitepaper, SM architecture): an integer instruction costs two FP32-pipe lane slots.
constexpr u64 kIntCost = 2;
// Per (query, centroid) pair in assign_clusters_kernel: XOR, POPC, the compare and the select.
constexpr u64 kAssignInstr = 4;
// Per (query, bit) in bit_count_kernel: the bit test and the select of +1/-1 (then an atomicAdd).
constexpr u64 kBitCountInstr = 2;

void clustered(Evaluator& ev) {
  const Shape s = ev.shape();
  const Workload& w = ev.w();
  const u64 e = ev.e(), C = clusters_of(w), I = w.count("iterations"), bits = w.count("hash_bits");
  const Count bh = Count(s.batch) * s.heads;
  const Count q = bh * s.n, keys = bh * s.nk;  // query rows; key rows (one K/V head per query head)
  // permute(0, 2, 1, 3).contiguous() of queries, keys and values, and of the output at the end.
  KernelCost& perm = rowwise(ev, "permute_copies", q * s.d + keys * (s.d + s.dv) + q * s.dv);
  perm.launches = 4;
  const Count perm_bytes = (q * s.d + keys * (s.d + s.dv) + q * s.dv) * e;
  Evaluator::read_direct(perm, perm_bytes);
  Evaluator::write_direct(perm, perm_bytes);
  // normal_(planes) of bits x (E + 1), then compute_hashes: a sign bit per plane (bias as the last
  // coordinate), 2·(E + 1) FLOPs per bit, one int64 per query.
  const Count planes = Count(bits) * (s.d + 1) * e;
  KernelCost& hash = rowwise(ev, "compute_hashes", q);
  hash.launches = 2;
  hash.fp32_flops = q * bits * 2 * (s.d + 1);
  Evaluator::write_direct(hash, planes);
  Evaluator::read_direct(hash, q * s.d * e + planes);
  Evaluator::write_direct(hash, q * 8);
  // cluster(): centroids start as the first C hashes of each sequence.
  KernelCost& init = rowwise(ev, "kmeans_init", bh * C);
  Evaluator::read_direct(init, bh * C * 8);
  Evaluator::write_direct(init, bh * C * 8);
  // I Lloyd iterations (assign, zero the counts, bit counts, means) and a final assign + count.
  const u64 blocks_per_seq = ceil_div(s.n, 1024);  // kmeans(): one CTA per 1024 queries
  KernelCost& assign = ev.add("kmeans_assign", bh * blocks_per_seq * (I + 1), kSmallCtasPerSm);
  assign.launches = I + 1;
  assign.fp32_instr = q * C * kAssignInstr * kIntCost * (I + 1);
  Evaluator::read_direct(assign, (q * 8 + bh * blocks_per_seq * C * 8) * (I + 1));  // hashes; centroids per CTA
  Evaluator::write_direct(assign, q * 8 * (I + 1));  // labels and distances (int32 each)
  const Count bit_counts = bh * C * (bits + 1) * 4;  // cluster_bit_counts and counts, int32
  KernelCost& zero = rowwise(ev, "kmeans_zero", Count(bit_counts.v / 4));
  zero.launches = 2 * (I + 1);
  Evaluator::write_direct(zero, bit_counts * (I + 1));
  KernelCost& count = rowwise(ev, "kmeans_bit_count", q * (I + 1));
  count.launches = I + 1;
  count.fp32_instr = q * bits * kBitCountInstr * kIntCost * (I + 1);
  Evaluator::read_direct(count, q * 12 * (I + 1));  // label and hash
  // One 4-byte atomicAdd per bit and one per count: read-modify-writes in L2, where the counts
  // (bh·C·(bits + 1) int32) stay; with --l2 off every one goes to DRAM.
  const Count atomics = q * (bits + 1) * 4 * (I + 1);
  count.l2_read += atomics;
  count.l2_write += atomics;
  count.hbm_read += ev.filtered(Count(0), atomics, bit_counts.d());
  count.hbm_write += ev.filtered(Count(0), atomics, bit_counts.d());
  if (I > 0) {
    KernelCost& means = rowwise(ev, "kmeans_means", bh * C * I);
    means.launches = I;
    means.fp32_instr = bh * C * bits * kIntCost * I;
    Evaluator::read_direct(means, bit_counts * I);
    Evaluator::write_direct(means, bh * C * 8 * I);
  }
  // torch.sort(clusters) (int32 labels, int64 indices out) and at the end argsort of the int64
  // indices.
  const u64 p32 = sort_passes(s.n, 4), p64 = sort_passes(s.n, 8);
  KernelCost& sorts = rowwise(ev, "sorts", q * 2);
  sorts.launches = 2;
  Evaluator::read_direct(sorts, q * 4 + q * 12 * (p32 - 1) + q * 8 + q * 16 * (p64 - 1));
  Evaluator::write_direct(sorts, q * 12 * p32 + q * 16 * p64);
  // index_select of the queries into cluster order, and of the broadcast values back.
  KernelCost& gather = rowwise(ev, "index_select", q * (s.d + s.dv));
  gather.launches = 2;
  Evaluator::read_direct(gather, q * 16 + q * (s.d + s.dv) * e);
  Evaluator::write_direct(gather, q * (s.d + s.dv) * e);
  // clustered_aggregate: each centroid the mean of its queries (1/count factors).
  KernelCost& agg = rowwise(ev, "clustered_aggregate", q * s.d);
  agg.fp32_flops = q * s.d * 2;
  Evaluator::read_direct(agg, q * s.d * e + q * 4 + bh * C * 4);
  Evaluator::write_direct(agg, bh * C * s.d * e);
  // QK = einsum(Q_grouped, K): C x S per head; + the key-length mask; softmax_temp * QK; softmax.
  gemm(ev, "gemm_centroids_k", bh.v, C, s.nk, s.d, e);
  const Count scores = bh * C * s.nk;
  KernelCost& sm_prep = rowwise(ev, "add_mask_scale", scores);
  sm_prep.launches = 2;
  sm_prep.fp32_flops = scores * 2;
  Evaluator::read_direct(sm_prep, scores * e * 2);
  // The additive key-length mask (B x Nk), broadcast over heads and clusters.
  sm_prep.l2_read += bh * s.nk * e;
  sm_prep.hbm_read += ev.filtered(Count(s.batch) * s.nk * e, bh * s.nk * e, (Count(s.batch) * s.nk * e).d());
  Evaluator::write_direct(sm_prep, scores * e * 2);
  KernelCost& sm = rowwise(ev, "softmax", scores);
  Evaluator::read_direct(sm, scores * e);
  Evaluator::write_direct(sm, scores * e);
  sm.sfu_ops = scores;
  sm.fp32_flops = scores * 4;  // as standard attention's softmax: max-subtract FFMA, sum, normalize
  gemm(ev, "gemm_attn_v", bh.v, C, s.dv, s.nk, e);
  // clustered_broadcast: every query takes its centroid's output row.
  KernelCost& bc = rowwise(ev, "clustered_broadcast", q * s.dv);
  // Each centroid's row comes from DRAM once; the other reads of it hit in L2.
  bc.l2_read += q * s.dv * e + q * 4;
  bc.hbm_read += ev.filtered(bh * C * s.dv * e + q * 4, q * s.dv * e + q * 4, (Count(C) * s.dv * e).d());
  Evaluator::write_direct(bc, q * s.dv * e);
  ev.out().extra_memory_bytes += scores * e * 2 + q * (8 + 8 + 16) + bh * C * (s.d + s.dv) * e + bit_counts;
}

constexpr const ParamSpec* kParams[] = {&kClusters, &kIterations, &kHashBits};
const VariantDescriptor kDesc{
    .name = "clustered",
    .summary = "queries grouped by LSH + Hamming K-means, attention once per cluster centroid (clustered attention)",
    .sources = "Vyas, Katharopoulos & Fleuret 2020, Fast Transformers with Clustered Attention §3.2; idiap/fast-transformers "
               "clustered_attention.py, hashing/hash_cuda.cu, clustering/hamming/cluster_cuda.cu",
    .params = kParams, .decode = false, .masked = false,
    .check = [](const Workload& w, const Device&) {
      if (w.kv_heads != w.heads) {
        throw InputError("clustered: fast-transformers gives every query head its own keys and values; give --kv-heads equal to --heads");
      }
      if (clusters_of(w) > w.seq) {
        throw InputError("--clusters " + num(clusters_of(w)) + " exceeds the " + num(w.seq) + " queries (K-means starts from the first C hashes)");
      }
    },
    .evaluate = clustered,
    .cache_bytes = attended_kv_bytes,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(N·C·d) attention, Θ(N·C·iterations) clustering"; },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "clusters", num(clusters_of(p.workload)));
      put(s, "iterations", num(p.workload.count("iterations")));
      put(s, "hash_bits", num(p.workload.count("hash_bits")));
      return s;
    },
    .no_schedule = "clustered has no tile schedule: which queries a centroid gathers and broadcasts to is decided by the "
                   "K-means at run time; use predict",
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      const u64 C = clusters_of(w);
      return "Clustered attention (Vyas et al. 2020 §3.2, fast-transformers): each query is hashed to " + num(w.count("hash_bits")) +
             " bits by random hyperplanes, " + num(w.count("iterations")) + " Lloyd iterations of K-means in Hamming space group the " +
             num(w.seq) + " queries of a head into C = " + num(C) +
             " clusters (XOR and popcount against every centroid, then per-bit atomic counts in L2), the queries are sorted by "
             "cluster and averaged into centroids, and attention runs for the centroids only: a C x Nk score matrix per head "
             "(written and read by PyTorch's mask, scale and softmax kernels) instead of N x Nk, so the score bytes shrink by "
             "N/C = " + fmt("%.1f", static_cast<double>(w.seq) / static_cast<double>(C)) +
             ". Each query then takes its centroid's output. The library has no causal mask (it asserts a full one) and no "
             "decode path.\n";
    }};

}  // namespace

const VariantDescriptor& clustered_variant() { return kDesc; }

}  // namespace attnio::detail
