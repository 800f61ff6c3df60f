// lib/decode.cpp — the public entry points of brine/decode.hpp.
#include <string>

#include "brine/decode.hpp"
#include "machine.hpp"
#include "thread_scratch.hpp"

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
// room tables, which no document keeps; lib/thread_scratch.hpp), as a brine::decoder keeps its
// own. A scratch with a table of the retention size or more is dropped after the decode (its
// large tables join the retained pool), so what a thread keeps here stays under 1 MiB. Decoding
// calls no user code, so no decode finds the thread's scratch in use.
using thread_decode_scratch = detail::thread_scratch<detail::decode_scratch>;

result<document> run_decode(std::span<const std::byte> pickle, const decode_options& options,
                            std::shared_ptr<const void> keep_alive) {
  document doc;
  thread_decode_scratch scratch;
  brine::error err;
  if (!decode_into(pickle, options, std::move(keep_alive), doc, scratch.get(), err)) return err;
  // A one-shot document gives back growth room, so it costs what it holds.
  doc.mutable_data().shrink();
  return doc;
}

}  // namespace

namespace detail {
void release_decode_scratch() noexcept { thread_decode_scratch::release(); }
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
