#include "attnio/model/l2cache.hpp"

#include <bit>
#include <string>

#include "attnio/model/errors.hpp"

namespace attnio {

L2Cache::L2Cache(std::uint64_t capacity_bytes, std::uint32_t ways, std::uint32_t sample)
    : ways_(ways), sample_(sample) {
  if (ways == 0) throw InputError("--l2-ways must be at least 1");
  if (sample == 0 || sample > 65536) throw InputError("--l2-sample must be between 1 and 65536");
  sets_ = capacity_bytes / (kLineBytes * ways);
  if (sets_ == 0) {
    throw InputError("L2 of " + std::to_string(capacity_bytes) + " bytes holds less than one set of " +
                     std::to_string(ways) + " 128-byte lines");
  }
  // Sampling keeps the lines whose number is a multiple of `sample` in a cache scaled down by the
  // same factor (as SHARDS, Waldspurger et al. 2015, scales its cache to its sampling rate). A prime
  // sample does not alias with the power-of-two strides of tensor rows.
  sampled_sets_ = std::max<std::uint64_t>(1, sets_ / sample_);
  ways_of_sampled_sets_.resize(sampled_sets_ * ways_);
}

namespace {
// Sector counts of a 4-bit mask (the build targets no particular x86 level, so no popcnt).
constexpr int kSectors[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
}  // namespace

// `set` is the line's set among the simulated ones, kept incrementally by the caller; the tag is the
// whole line number.
void L2Cache::touch_line(std::uint64_t line, std::uint64_t set, std::uint8_t sectors, bool write, Traffic& t) {
  const std::uint64_t tag = line;
  Way* w = &ways_of_sampled_sets_[set * ways_];
  ++clock_;
  Way* victim = w;
  for (std::uint32_t i = 0; i < ways_; ++i) {
    if (w[i].stamp != 0 && w[i].tag == tag) {
      const std::uint8_t missing = sectors & ~w[i].valid;
      const int requested = kSectors[sectors];
      const int missed = write ? 0 : kSectors[missing];
      t.hit_sectors += static_cast<std::uint64_t>(requested - missed) * sample_;
      t.miss_sectors += static_cast<std::uint64_t>(missed) * sample_;
      if (!write) dram_read_bytes_ += static_cast<std::uint64_t>(missed) * kSectorBytes * sample_;
      w[i].valid |= sectors;
      if (write) w[i].dirty |= sectors;
      w[i].stamp = clock_;
      return;
    }
    if (w[i].stamp < victim->stamp) victim = &w[i];
  }
  // Miss: replace the least recently used way (an invalid one first: its stamp is 0).
  if (victim->stamp != 0 && victim->dirty != 0) {
    dram_write_bytes_ += static_cast<std::uint64_t>(kSectors[victim->dirty]) * kSectorBytes * sample_;
  }
  const int requested = kSectors[sectors];
  if (write) {
    t.hit_sectors += 0;
    t.miss_sectors += static_cast<std::uint64_t>(requested) * sample_;
  } else {
    t.miss_sectors += static_cast<std::uint64_t>(requested) * sample_;
    dram_read_bytes_ += static_cast<std::uint64_t>(requested) * kSectorBytes * sample_;
  }
  *victim = Way{tag, clock_, sectors, static_cast<std::uint8_t>(write ? sectors : 0)};
}

L2Cache::Traffic L2Cache::access(std::uint64_t addr, std::uint64_t bytes, bool write) {
  Traffic t;
  if (bytes == 0) return t;
  const std::uint64_t end = addr + bytes;
  const std::uint64_t first = addr / kLineBytes, last = (end - 1) / kLineBytes;
  // The first sampled line at or after `first`; sampled line l lives in set (l / sample) mod sets.
  std::uint64_t line = (first + sample_ - 1) / sample_ * sample_;
  if (line > last) return t;
  std::uint64_t set = (line / sample_) % sampled_sets_;
  for (; line <= last; line += sample_) {
    const std::uint64_t lo = std::max(addr, line * kLineBytes), hi = std::min(end, (line + 1) * kLineBytes);
    const std::uint64_t s0 = (lo % kLineBytes) / kSectorBytes, s1 = ((hi - 1) % kLineBytes) / kSectorBytes;
    const auto sectors = static_cast<std::uint8_t>(((1u << (s1 + 1)) - 1) & ~((1u << s0) - 1));
    touch_line(line, set, sectors, write, t);
    if (++set == sampled_sets_) set = 0;
  }
  return t;
}

L2Cache::Traffic L2Cache::access_rows(std::uint64_t addr, std::uint64_t bytes, std::uint64_t rows, std::uint64_t stride,
                                      bool write) {
  Traffic t;
  auto add = [&t](const Traffic& x) {
    t.hit_sectors += x.hit_sectors;
    t.miss_sectors += x.miss_sectors;
  };
  if (sample_ == 1 || stride % kLineBytes != 0) {
    for (std::uint64_t r = 0; r < rows; ++r) add(access(addr + r * stride, bytes, write));
    return t;
  }
  // Rows start at the same offset in their lines and move stride/128 lines apart. Row r holds a
  // sampled line when its first line's residue modulo the sample, res0 + r·step, is 0 or within
  // `span` of the sample: solve for r modulo the sample (step is invertible when coprime to it,
  // always so for a prime sample unless step is a multiple) and visit just those rows.
  const std::int64_t k = sample_;
  const std::uint64_t span = (addr % kLineBytes + bytes - 1) / kLineBytes;  // lines past the first
  const std::int64_t step = static_cast<std::int64_t>((stride / kLineBytes) % sample_);
  const std::int64_t res0 = static_cast<std::int64_t>((addr / kLineBytes) % sample_);
  // Extended Euclid: inv·step ≡ 1 (mod k), if gcd(step, k) = 1. Tiles of one tensor share a
  // stride, so the last answer is kept.
  if (step != inverse_of_) {
    std::int64_t old_r = step, r = k, old_s = 1, s_ = 0;
    while (r != 0) {
      const std::int64_t q = old_r / r;
      old_r -= q * r;
      std::swap(old_r, r);
      old_s -= q * s_;
      std::swap(old_s, s_);
    }
    inverse_of_ = step;
    inverse_ = (step != 0 && old_r == 1) ? ((old_s % k) + k) % k : -1;
  }
  if (inverse_ < 0 || span + 1 >= static_cast<std::uint64_t>(k)) {
    std::uint64_t residue = static_cast<std::uint64_t>(res0);
    for (std::uint64_t row = 0; row < rows; ++row) {
      if (residue == 0 || residue + span >= sample_) add(access(addr + row * stride, bytes, write));
      residue = (residue + static_cast<std::uint64_t>(step)) % sample_;
    }
    return t;
  }
  const std::int64_t inv = inverse_;
  for (std::uint64_t j = 0; j <= span; ++j) {
    // Target residue: 0, or k - j for the rows whose later lines reach a multiple of the sample.
    const std::int64_t target = j == 0 ? 0 : k - static_cast<std::int64_t>(j);
    const std::int64_t first = (((target - res0) % k + k) % k) * inv % k;
    for (auto row = static_cast<std::uint64_t>(first); row < rows; row += sample_) add(access(addr + row * stride, bytes, write));
  }
  return t;
}

L2Cache::Traffic L2Cache::read(std::uint64_t addr, std::uint64_t bytes) { return access(addr, bytes, false); }
L2Cache::Traffic L2Cache::write(std::uint64_t addr, std::uint64_t bytes) { return access(addr, bytes, true); }

void L2Cache::flush() {
  for (Way& w : ways_of_sampled_sets_) {
    if (w.stamp != 0 && w.dirty != 0) {
      dram_write_bytes_ += static_cast<std::uint64_t>(kSectors[w.dirty]) * kSectorBytes * sample_;
      w.dirty = 0;
    }
  }
}

}  // namespace attnio
