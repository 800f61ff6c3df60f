// lib/decode.cpp — the public entry points of brine/decode.hpp.
#include <string>

#include "brine/decode.hpp"
#include "machine.hpp"

namespace brine {
namespace {

// Decodes into `doc` (whose tables are empty) with `scratch`; false with `err` set on failure.
bool decode_into(std::span<const std::byte> pickle, const decode_options& options, std::shared_ptr<const void> keep_alive,
                 document& doc, detail::decode_scratch& scratch, brine::error& err) {
  auto& d = doc.mutable_data();
  if (keep_alive) d.owners.push_back(std::move(keep_alive));
  d.buffers.reserve(options.buffers.size());
  for (const auto& b : options.buffers) d.buffers.push_back({b.data.data(), b.data.size(), b.readonly});
  detail::machine m(pickle, options, d, scratch, true);
  if (!m.run()) {
    err = m.error();
    return false;
  }
  d.mark_dense_items();
  doc.set_root(m.root());
  return true;
}

// One-shot decodes on a thread share one decode_scratch (the stack, marks, memo and per-container
// room tables, which no document keeps), as a brine::decoder keeps its own: a small pickle's decode
// otherwise spent about a tenth of its time allocating and freeing them. A scratch that grew past
// `kept_entries` in any table is dropped after the decode, its large blocks going to the retained
// pool (lib/memory.cpp), so what a thread keeps here stays small. A decode that finds the scratch
// in use (none does today: decoding calls no user code) gets a fresh one.
class thread_scratch {
 public:
  static constexpr std::size_t kept_entries = std::size_t{1} << 16;
  // The kept tables are freed at thread exit straight to the allocator, never to the retained pool
  // (another thread_local, maybe destroyed first): they are under its 1 MiB threshold.
  static_assert(kept_entries * sizeof(std::uint32_t) < detail::retain_min_bytes);

  thread_scratch() : t_(this_thread()), leased_(!t_.busy) { t_.busy = true; }
  ~thread_scratch() {
    if (!leased_) return;
    auto& s = t_.scratch;
    if (s.stack.capacity() > kept_entries || s.dense.capacity() > kept_entries ||
        s.capacity.capacity() > kept_entries || s.marks.capacity() > kept_entries)
      s = detail::decode_scratch();
    else
      s.reset();
    t_.busy = false;
  }
  thread_scratch(const thread_scratch&) = delete;
  thread_scratch& operator=(const thread_scratch&) = delete;

  detail::decode_scratch& get() noexcept { return leased_ ? t_.scratch : fresh_; }
  static void release() noexcept {
    per_thread& t = this_thread();
    if (!t.busy) t.scratch = detail::decode_scratch();
  }

 private:
  struct per_thread {
    detail::decode_scratch scratch;
    bool busy = false;
  };
  static per_thread& this_thread() {
    thread_local per_thread t;
    return t;
  }
  per_thread& t_;
  const bool leased_;
  detail::decode_scratch fresh_;  // when the thread's is in use
};

result<document> run_decode(std::span<const std::byte> pickle, const decode_options& options,
                            std::shared_ptr<const void> keep_alive) {
  document doc;
  thread_scratch scratch;
  brine::error err;
  if (!decode_into(pickle, options, std::move(keep_alive), doc, scratch.get(), err)) return err;
  // A one-shot document gives back growth room, so it costs what it holds.
  doc.mutable_data().shrink();
  return doc;
}

}  // namespace

namespace detail {
void release_decode_scratch() noexcept { thread_scratch::release(); }
}  // namespace detail

result<document> decode(std::span<const std::byte> pickle, const decode_options& options,
                        std::shared_ptr<const void> keep_alive) {
  return run_decode(pickle, options, std::move(keep_alive));
}

result<document> decode(std::string_view pickle, const decode_options& options,
                        std::shared_ptr<const void> keep_alive) {
  return run_decode(std::as_bytes(std::span<const char>(pickle.data(), pickle.size())), options, std::move(keep_alive));
}

result<document> decode_owned(std::string&& pickle, const decode_options& options) {
  // The string moves to the heap once; its characters do not move again, so views stay valid.
  auto owned = std::make_shared<const std::string>(std::move(pickle));
  const auto bytes = std::as_bytes(std::span<const char>(owned->data(), owned->size()));
  return run_decode(bytes, options, owned);
}

partial_decode decode_partial(std::span<const std::byte> pickle, const decode_options& options,
                              std::shared_ptr<const void> keep_alive) {
  partial_decode out;
  detail::decode_scratch scratch;
  brine::error err;
  if (!decode_into(pickle, options, std::move(keep_alive), out.doc, scratch, err)) {
    out.doc.set_root(detail::no_node);
    out.doc.mutable_data().stop_offset = err.offset;
    out.error = std::move(err);
  }
  return out;
}

decoder::decoder(decode_options options)
    : options_(std::move(options)), scratch_(std::make_unique<detail::decode_scratch>()) {}
decoder::~decoder() = default;
decoder::decoder(decoder&&) noexcept = default;
decoder& decoder::operator=(decoder&&) noexcept = default;

void decoder::set_buffers(std::vector<oob_buffer> buffers) {
  options_.buffers = std::move(buffers);
  options_.buffers_given = true;
}

result<const document*> decoder::decode(std::span<const std::byte> pickle, std::shared_ptr<const void> keep_alive) {
  doc_.mutable_data().reset();
  scratch_->reset();
  brine::error err;
  if (!decode_into(pickle, options_, std::move(keep_alive), doc_, *scratch_, err)) return err;
  return &doc_;
}

result<const document*> decoder::decode(std::string_view pickle, std::shared_ptr<const void> keep_alive) {
  return decode(std::as_bytes(std::span<const char>(pickle.data(), pickle.size())), std::move(keep_alive));
}

result<validate_summary> validate(std::span<const std::byte> pickle, const decode_options& options) {
  detail::document_data d;
  detail::decode_scratch scratch;
  for (const auto& b : options.buffers) d.buffers.push_back({b.data.data(), b.data.size(), b.readonly});
  detail::machine m(pickle, options, d, scratch, false);
  if (!m.run()) return m.error();
  validate_summary s;
  s.protocol = d.protocol;
  s.stop_offset = d.stop_offset;
  s.opcodes = m.opcodes();
  s.memo_entries = m.memo_entries();
  s.warnings = std::move(d.warnings);
  return s;
}

result<validate_summary> validate(std::string_view pickle, const decode_options& options) {
  return validate(std::as_bytes(std::span<const char>(pickle.data(), pickle.size())), options);
}

}  // namespace brine
