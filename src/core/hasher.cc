#include "core/hasher.h"

#include <openssl/evp.h>
#include <xxhash.h>
// libxxhash's runtime dispatch: the AVX2 / AVX-512 kernels where the CPU
// has them (the plain entry points are SSE2 only).
#include <xxh_x86dispatch.h>

#include <cstdlib>
#include <cstring>

namespace sms::core {

std::string_view HashAlgorithmName(HashAlgorithm algorithm) {
  return algorithm == HashAlgorithm::kSha256 ? "sha256" : "xxh128";
}

std::optional<HashAlgorithm> ParseHashAlgorithm(std::string_view name) {
  if (name == "xxh128") return HashAlgorithm::kXxh128;
  if (name == "sha256") return HashAlgorithm::kSha256;
  return std::nullopt;
}

namespace {

const EVP_MD* Sha256() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

Digest FromXxh(XXH128_hash_t h) {
  Digest d;
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  std::memcpy(d.bytes.data(), c.digest, 16);
  d.size = 16;
  return d;
}

}  // namespace

// One incremental digest of the chosen algorithm.
class ContentHasher::Engine {
 public:
  explicit Engine(HashAlgorithm algorithm) : algorithm_(algorithm) {
    if (algorithm_ == HashAlgorithm::kXxh128) {
      xxh_ = XXH3_createState();
      if (xxh_ == nullptr) abort();
    } else {
      md_ = EVP_MD_CTX_new();
      if (md_ == nullptr) abort();
    }
    Reset();
  }
  ~Engine() {
    if (xxh_ != nullptr) XXH3_freeState(xxh_);
    if (md_ != nullptr) EVP_MD_CTX_free(md_);
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void Reset() {
    if (xxh_ != nullptr) {
      XXH3_128bits_reset(xxh_);
    } else {
      EVP_DigestInit_ex(md_, Sha256(), nullptr);
    }
  }
  void Update(const uint8_t* data, size_t n) {
    if (xxh_ != nullptr) {
      XXH3_128bits_update(xxh_, data, n);
    } else {
      EVP_DigestUpdate(md_, data, n);
    }
  }
  Digest Finish() {
    if (xxh_ != nullptr) return FromXxh(XXH3_128bits_digest(xxh_));
    Digest d;
    unsigned int len = 0;
    EVP_DigestFinal_ex(md_, d.bytes.data(), &len);
    d.size = static_cast<uint8_t>(len);
    return d;
  }

 private:
  const HashAlgorithm algorithm_;
  XXH3_state_t* xxh_ = nullptr;
  EVP_MD_CTX* md_ = nullptr;
};

ContentHasher::ContentHasher(HashAlgorithm algorithm, uint64_t chunk_size)
    : algorithm_(algorithm),
      chunk_size_(chunk_size == 0 ? kDefaultChunkSize : chunk_size),
      chunk_(std::make_unique<Engine>(algorithm)),
      outer_(std::make_unique<Engine>(algorithm)) {}

ContentHasher::~ContentHasher() = default;

void ContentHasher::Reset() {
  chunk_->Reset();
  outer_->Reset();
  in_chunk_ = 0;
  chunks_done_ = 0;
}

void ContentHasher::Update(std::span<const uint8_t> data) {
  const uint8_t* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    if (in_chunk_ == chunk_size_) {
      Digest d = chunk_->Finish();
      outer_->Update(d.bytes.data(), d.size);
      chunk_->Reset();
      in_chunk_ = 0;
      ++chunks_done_;
    }
    size_t n =
        static_cast<size_t>(std::min<uint64_t>(left, chunk_size_ - in_chunk_));
    chunk_->Update(p, n);
    in_chunk_ += n;
    p += n;
    left -= n;
  }
}

Digest ContentHasher::Finish() {
  Digest last = chunk_->Finish();
  if (chunks_done_ == 0) return last;
  outer_->Update(last.bytes.data(), last.size);
  return outer_->Finish();
}

Digest ContentHasher::HashWhole(std::span<const uint8_t> data) {
  if (data.size() <= chunk_size_ && algorithm_ == HashAlgorithm::kXxh128) {
    return FromXxh(XXH3_128bits(data.data(), data.size()));
  }
  Reset();
  Update(data);
  return Finish();
}

}  // namespace sms::core
