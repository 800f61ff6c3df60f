// lib/thread_scratch.hpp — per-thread tables that one-shot decodes and encodes reuse. Not part of
// the API.
//
// A one-shot brine::decode or brine::encode needs working tables no result keeps (the decoder's
// stack and memo, the encoder's memo and task stack). Allocating them per call cost a small
// pickle about a tenth of its time, and a large one the page faults of fresh memory. A call
// leases its thread's set for its duration; a call that finds the set in use (a sink or codec
// that encodes again from inside an encode) gets a fresh one. After the call, a set whose tables
// grew beyond what the thread keeps (`Scratch::oversized()`) is dropped: its blocks of
// retain_min_bytes and more go to the retained pool (brine/detail/pod_vector.hpp), the rest back
// to the allocator. brine::release_retained_memory() drops the thread's sets.
#pragma once

namespace brine::detail {

/// `Scratch` has `bool oversized() const` and `void reset()` (empties the tables, keeps their
/// capacity) and is default-constructible.
template <class Scratch>
class thread_scratch {
 public:
  thread_scratch() : t_(this_thread()), leased_(!t_.busy) { t_.busy = true; }
  ~thread_scratch() {
    if (!leased_) return;
    if (t_.scratch.oversized()) t_.scratch = Scratch();
    else t_.scratch.reset();
    t_.busy = false;
  }
  thread_scratch(const thread_scratch&) = delete;
  thread_scratch& operator=(const thread_scratch&) = delete;

  Scratch& get() noexcept { return leased_ ? t_.scratch : fresh_; }
  /// Drops the thread's set unless a call holds it.
  static void release() noexcept {
    per_thread& t = this_thread();
    if (!t.busy) t.scratch = Scratch();
  }

 private:
  struct per_thread {
    Scratch scratch;
    bool busy = false;
  };
  static per_thread& this_thread() {
    thread_local per_thread t;
    return t;
  }
  per_thread& t_;
  const bool leased_;
  Scratch fresh_;  // when the thread's set is in use
};

}  // namespace brine::detail
