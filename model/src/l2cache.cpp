#include "attnio/model/l2cache.hpp"

#include <bit>
#include <string>

#include "attnio/model/errors.hpp"

namespace attnio {

L2Cache::L2Cache(std::uint64_t capacity_bytes, std::uint32_t ways, std::uint32_t sample)
    : ways_(ways), sample_(sample) {
  if (ways == 0) throw InputError("--l2-ways must be at least 1");
  if (sample == 0 || !std::has_single_bit(sample)) throw InputError("L2 set sample must be a power of two");
  sets_ = capacity_bytes / (kLineBytes * ways);
  if (sets_ == 0) {
    throw InputError("L2 of " + std::to_string(capacity_bytes) + " bytes holds less than one set of " +
                     std::to_string(ways) + " 128-byte lines");
  }
  // Sampling keeps sets whose index is a multiple of `sample`; lines map to sets by their address
  // modulo the set count, so the sampled lines of a range are every `sample`-th line when the set
  // count is a multiple of it. Fall back to fewer samples otherwise.
  while (sample_ > 1 && sets_ % sample_ != 0) sample_ /= 2;
  ways_of_sampled_sets_.resize((sets_ / sample_) * ways_);
}

void L2Cache::touch_line(std::uint64_t line, std::uint8_t sectors, bool write, Traffic& t) {
  const std::uint64_t set = line % sets_;
  const std::uint64_t tag = line / sets_;
  Way* w = &ways_of_sampled_sets_[(set / sample_) * ways_];
  ++clock_;
  Way* victim = w;
  for (std::uint32_t i = 0; i < ways_; ++i) {
    if (w[i].stamp != 0 && w[i].tag == tag) {
      const std::uint8_t missing = sectors & ~w[i].valid;
      const int requested = std::popcount(static_cast<unsigned>(sectors));
      const int missed = write ? 0 : std::popcount(static_cast<unsigned>(missing));
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
    dram_write_bytes_ += static_cast<std::uint64_t>(std::popcount(static_cast<unsigned>(victim->dirty))) * kSectorBytes * sample_;
  }
  const int requested = std::popcount(static_cast<unsigned>(sectors));
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
  // The first sampled line at or after `first`.
  std::uint64_t line = first + (sample_ - first % sample_) % sample_;
  for (; line <= last; line += sample_) {
    const std::uint64_t lo = std::max(addr, line * kLineBytes), hi = std::min(end, (line + 1) * kLineBytes);
    const std::uint64_t s0 = (lo % kLineBytes) / kSectorBytes, s1 = ((hi - 1) % kLineBytes) / kSectorBytes;
    const auto sectors = static_cast<std::uint8_t>(((1u << (s1 + 1)) - 1) & ~((1u << s0) - 1));
    touch_line(line, sectors, write, t);
  }
  return t;
}

L2Cache::Traffic L2Cache::read(std::uint64_t addr, std::uint64_t bytes) { return access(addr, bytes, false); }
L2Cache::Traffic L2Cache::write(std::uint64_t addr, std::uint64_t bytes) { return access(addr, bytes, true); }

void L2Cache::flush() {
  for (Way& w : ways_of_sampled_sets_) {
    if (w.stamp != 0 && w.dirty != 0) {
      dram_write_bytes_ += static_cast<std::uint64_t>(std::popcount(static_cast<unsigned>(w.dirty))) * kSectorBytes * sample_;
      w.dirty = 0;
    }
  }
}

}  // namespace attnio
