// A GPU L2 cache: 128-byte lines of four 32-byte sectors, set-associative with LRU replacement,
// write-back and write-allocate (a write fills its sectors without fetching them). DRAM traffic is
// counted in sectors: a read fetches the requested sectors that are not valid, an eviction writes
// back the dirty ones.
//
// Sampling (set sampling, Kessler, Hill & Wood 1991; with the cache scaled to the sampling rate as
// in SHARDS, Waldspurger et al. 2015): with sample k > 1 only the lines whose number is a multiple
// of k are simulated, in a cache of 1/k the sets, and their traffic is scaled by k. Large kernels
// touch hundreds of millions of lines; the sample sees a representative share at 1/k of the cost.
// sample = 1 is exact (lines map to set line mod sets).
#pragma once

#include <cstdint>
#include <vector>

namespace attnio {

class L2Cache {
public:
  static constexpr std::uint64_t kLineBytes = 128;
  static constexpr std::uint64_t kSectorBytes = 32;

  // Throws InputError when ways is 0 or the capacity holds less than one set of `ways` lines.
  L2Cache(std::uint64_t capacity_bytes, std::uint32_t ways, std::uint32_t sample = 1);

  struct Traffic {
    std::uint64_t hit_sectors = 0, miss_sectors = 0;  // requested sectors (scaled by the sample)
  };
  // One contiguous range. Returns the requested sectors found and missed.
  Traffic read(std::uint64_t addr, std::uint64_t bytes);
  Traffic write(std::uint64_t addr, std::uint64_t bytes);
  // `rows` ranges of `bytes`, `stride` apart (a tile of a row-major tensor). With set sampling,
  // only the rows that hold a sampled line are visited.
  Traffic access_rows(std::uint64_t addr, std::uint64_t bytes, std::uint64_t rows, std::uint64_t stride, bool write);
  // Writes every dirty sector back (end of a kernel sequence).
  void flush();

  std::uint64_t dram_read_bytes() const { return dram_read_bytes_; }
  std::uint64_t dram_write_bytes() const { return dram_write_bytes_; }
  std::uint64_t sets() const { return sets_; }
  std::uint32_t ways() const { return ways_; }
  std::uint32_t sample() const { return sample_; }

private:
  Traffic access(std::uint64_t addr, std::uint64_t bytes, bool write);
  struct Way {
    std::uint64_t tag = 0;
    std::uint64_t stamp = 0;  // last use; 0 = invalid line
    std::uint8_t valid = 0;   // sector bits
    std::uint8_t dirty = 0;
  };
  void touch_line(std::uint64_t line, std::uint64_t set, std::uint8_t sectors, bool write, Traffic& t);

  std::uint64_t sets_;
  std::uint64_t sampled_sets_;
  std::uint32_t ways_;
  std::uint32_t sample_;
  std::vector<Way> ways_of_sampled_sets_;  // (sets / sample) x ways
  std::uint64_t clock_ = 0;
  std::int64_t inverse_of_ = -1, inverse_ = -1;  // access_rows: the last row step and its inverse
  std::uint64_t dram_read_bytes_ = 0, dram_write_bytes_ = 0;
};

}  // namespace attnio
