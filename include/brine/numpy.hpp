// brine/numpy.hpp — numpy arrays, dtypes and scalars: typed views of decoded pickles, and C++
// arrays written as pickles that numpy loads.
//
// Decoding recognizes every form numpy writes (reference: CPython.md §7), without importing or
// executing anything; the callables are matched by name after fix_imports:
//
//   ndarray, protocol 5   numpy.core.numeric._frombuffer / numpy._core.numeric._frombuffer
//                         (buffer, dtype, shape, order) with order 'C' or 'F', or the newer
//                         (buffer, dtype, shape, 'K', axis_order); the buffer is an out-of-band
//                         buffer, or in-band bytes / bytearray.
//   ndarray, regular      numpy.core.multiarray._reconstruct / numpy._core.multiarray._reconstruct
//                         (and the pre-1.0 numpy.core._internal._reconstruct) of numpy.ndarray or
//                         of a plain-data subclass (numpy.matrix, numpy.memmap, numpy.recarray,
//                         numpy.chararray), then BUILD (version, shape, dtype, is_fortran, rawdata)
//                         or the 4-tuple without version. rawdata is bytes, a str holding one code
//                         point per byte (a Python 2 str decoded with py2_encoding::latin1, or an
//                         unfolded _codecs.encode(str, 'latin1')), or for object arrays a list in
//                         C order.
//   dtype                 numpy.dtype(typestr | numpy.record, align, copy) then BUILD with the
//                         5- to 9-item state: byte order, sub-array (base, shape), names, fields
//                         {name: (dtype, offset[, title])}, elsize, alignment, flags, datetime
//                         metadata ({}, (unit, count, 1, 1)).
//   scalar                numpy.core.multiarray.scalar / numpy._core.multiarray.scalar
//                         (dtype, raw bytes), or (dtype('O'), object): a 0-d view.
//
// Anything else — another callable, a missing or extra item, a size that does not add up, an
// unknown kind, a dtype that holds objects inside a structure — is a brine::error naming what was
// found, never a guess. Errors: errc::type_mismatch for pickle content that is not a numpy object
// brine reads (offset = the offending node's), errc::limit_exceeded for the limits below,
// errc::bad_argument for a caller's mistake (an element type that does not match, an index out of
// range, data not aligned for a zero-copy span).
//
// Views and lifetime: an `ndarray` views the document's bytes (in-band data, which stays inside the
// pickle input) or the caller's out-of-band buffer, without copying. It is valid while the
// document (and the buffers given to decode) live; only Python 2 str rawdata (latin-1 text) is
// converted into storage the view owns (shared between copies of the view). Object arrays keep
// node ids and hand out brine::value handles into the document. A default-constructed view is
// empty (0 elements, dtype |V0).
//
// Encoding (brine::codec<numpy::ndarray>, through brine::pickle or any typed_encoder): what numpy
// 1.24 on CPython 3.11 writes for the same array, byte for byte: at protocol 5
// `numpy.core.numeric._frombuffer(PickleBuffer, dtype, shape, 'C'|'F')`, the PickleBuffer going
// through the options' buffer callback (out-of-band: never copied) or in-band as bytearray (bytes
// when read-only); below protocol 5, and for datetime64 / timedelta64 (numpy exports no buffer
// for them) or data neither C- nor F-contiguous (a C-order copy), the `_reconstruct` form with
// bytes rawdata in array order. CPython's shared objects are shared as it shares them: numpy's
// cached builtin dtypes (one dtype object for every native float64 array in a list), 1-character
// strs ('C', '<', field names) and the 1-byte b'b'. One exception is CPython's own, not numpy's: a
// multi-character field name, or a 1-character one at protocols 0-2 (where it may coincide with
// the latin-1 text of b'b'), is shared or not depending on the interpreter's string interning
// history; brine shares 1-character names, as the conformance corpus shows.
// Module paths (encode_settings::paths): numpy.core.* loads in numpy 1.16 to 2.x (numpy 2 keeps
// numpy.core.multiarray._reconstruct and .scalar as silent aliases for old pickles and resolves
// numpy.core.numeric._frombuffer through its deprecation shim, which emits a DeprecationWarning);
// numpy._core.* is what numpy 2 writes and does not load in numpy 1.x (numpy 1.26 has no
// numpy._core.numeric; 1.24 no numpy._core at all). Object arrays cannot be encoded (there are
// no Python objects to write): the encode fails with errc::bad_argument.
//
// Limits (untrusted dtypes nest): `limits::max_dtype_depth` nested dtypes (fields, sub-arrays)
// stops stack exhaustion; `limits::max_dtype_fields` field entries counted with repetition (a dtype
// may reuse one sub-dtype in many fields, at every level) stops exponential walks;
// `limits::max_ndim` dimensions, numpy 2's NPY_MAXDIMS. Element counts and byte sizes are
// multiplied with overflow checks and must equal the data's length before any view exists.
//
// Byte order: views expose the data as stored. Typed accessors (`at`, `to_vector`,
// `native_bytes`) swap big-endian data to the host's order; zero-copy `values` requires native
// order. brine supports little-endian hosts only.
//
// Thread-safety: views are immutable values; any number of threads may read one.
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "brine/convert.hpp"
#include "brine/document.hpp"
#include "brine/error.hpp"

namespace brine::numpy {

/// Limits applied to untrusted numpy descriptions (see the header comment).
struct limits {
  static constexpr std::size_t max_dtype_depth = 32;
  static constexpr std::size_t max_dtype_fields = 65536;
  static constexpr std::size_t max_ndim = 64;
};

/// numpy's byte-order character.
enum class byte_order : char {
  little = '<',
  big = '>',
  not_applicable = '|',  ///< one-byte, bytes, void, object and structured dtypes
};

/// Memory order of an array's elements.
enum class memory_order : char { c = 'C', fortran = 'F' };

struct dtype_field;

/// A numpy dtype as its pickle describes it. Plain data: copy, compare, build your own.
struct dtype {
  /// numpy's dtype.kind: 'b' bool, 'i' signed, 'u' unsigned, 'f' float, 'c' complex, 'm'
  /// timedelta64, 'M' datetime64, 'O' object, 'S' bytes, 'U' unicode (UCS-4), 'V' void/structured.
  char kind = 'V';
  /// Bytes per element ('U': 4 per character).
  std::size_t itemsize = 0;
  byte_order order = byte_order::not_applicable;
  /// Structured dtypes: the fields in `names` order.
  std::vector<dtype_field> fields;
  /// Sub-array dtypes, dtype(('<f8', (2, 3))): the element dtype and the shape (else null/empty).
  std::shared_ptr<const dtype> subarray_base;
  std::vector<std::size_t> subarray_shape;
  /// datetime64 / timedelta64 unit ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps",
  /// "fs", "as" or "generic") and multiplier: '<M8[2s]' is unit "s", count 2.
  std::string datetime_unit;
  std::int64_t datetime_count = 1;
  /// As pickled: the alignment for flexible kinds ('S', 'U', 'V'), -1 for the others.
  std::int64_t alignment = -1;
  /// numpy's dtype flags as pickled (a signed char: NEEDS_INIT 8, NEEDS_PYAPI 16, object 63,
  /// ALIGNED_STRUCT 0x80).
  std::int64_t flags = 0;
  /// The scalar type was numpy.record (numpy.rec arrays) rather than a typestr.
  bool record = false;

  /// numpy's dtype.str: '<f8', '|b1', '<U3', '|S5', '|V9', '<M8[ns]', '|O'.
  std::string str() const;
  /// The typestr numpy's reduce passes: 'f8', 'b1', 'U3' (characters), 'V9', 'M8', 'O8'.
  std::string typestr() const;
  bool structured() const noexcept { return !fields_empty(); }
  bool has_subarray() const noexcept { return subarray_base != nullptr; }
  /// True when no element, field or sub-array element is big-endian.
  bool native() const noexcept;
  /// True when the dtype is or contains the object kind.
  bool holds_objects() const noexcept;
  /// Structural equality (kind, size, order, fields, sub-array, unit), not flags/alignment.
  bool operator==(const dtype& other) const noexcept;

  /// The dtype of a C++ element type: bool 'b1', signed / unsigned integers 'i' / 'u' of their
  /// size, float 'f4', double 'f8', std::complex<float> 'c8', std::complex<double> 'c16'; native
  /// (little-endian) byte order.
  template <class T> static dtype of();
  /// A simple dtype from its string: an optional byte order ('<', '>', '|', '=') then
  /// 'b1' 'i1'..'i8' 'u1'..'u8' 'f2' 'f4' 'f8' 'f16' 'c8' 'c16' 'c32' 'S<n>' 'U<n>' 'V<n>' 'O',
  /// or 'M8[unit]' / 'm8[unit]' with an optional count ('m8[2s]'). Structured dtypes are built
  /// with `structured`.
  static result<dtype> parse(std::string_view s);
  /// A structured dtype of the given fields (name, dtype, offset, optional title) and itemsize,
  /// with numpy's flags and alignment (`aligned` is numpy's align=True: ALIGNED_STRUCT).
  static result<dtype> structured_of(std::vector<dtype_field> fields, std::size_t itemsize, bool aligned = false);
  /// A sub-array dtype: `shape` elements of `base` (numpy's dtype((base, shape))).
  static dtype subarray_of(const dtype& base, std::vector<std::size_t> shape);

 private:
  bool fields_empty() const noexcept;
};

/// One field of a structured dtype.
struct dtype_field {
  std::string name;
  /// Shared: a pickle may use one dtype object for many fields.
  std::shared_ptr<const dtype> type;
  std::size_t offset = 0;
  /// numpy's field title (dtype([(('title', 'name'), 'i4')])), which numpy also accepts as a key.
  std::optional<std::string> title;
};

/// How a view's data reached it.
enum class data_source : std::uint8_t {
  in_band,      ///< bytes / bytearray inside the pickle input
  out_of_band,  ///< a PEP 574 buffer given to decode (`buffer_index`)
  converted,    ///< latin-1 text turned into bytes; owned by the view
  caller,       ///< C++ memory passed to ndarray::of
  none,         ///< object arrays and empty views
};

/// Which module names an encoded pickle uses (see the header comment).
enum class module_paths : std::uint8_t {
  numpy_core,   ///< numpy.core.* — numpy 1.x's names; loads in numpy 1.16 and later, 2.x included
  numpy__core,  ///< numpy._core.* — numpy 2's names; does not load in numpy 1.x
};

/// How an ndarray is written.
struct encode_settings {
  module_paths paths = module_paths::numpy_core;
  /// At protocol 5, the PickleBuffer (`_frombuffer`) form where numpy would use it. False writes
  /// the `_reconstruct` form at every protocol (always in-band; loads warning-free in every numpy).
  bool pickle_buffer = true;
  /// Mark the PickleBuffer read-only: bytes in-band, NEXT_BUFFER + READONLY_BUFFER out-of-band,
  /// and numpy's array read-only. numpy writes writable arrays' buffers writable (the default).
  bool readonly = false;
};

/// A view of one numpy array (or 0-d scalar) — see the header comment for lifetime.
class ndarray {
 public:
  ndarray();

  /// A view over C++ memory for encoding (and the typed accessors): `data` holds the elements in
  /// `order`, `shape`'s product must equal data.size() (errc::bad_argument). The memory must
  /// outlive the view and the encode.
  template <class T>
  static result<ndarray> of(std::span<const T> data, std::vector<std::size_t> shape, memory_order order = memory_order::c) {
    return of_bytes(std::as_bytes(data), dtype::of<T>(), std::move(shape), order);
  }
  /// A 1-D view.
  template <class T> static ndarray of(std::span<const T> data) { return *of(data, {data.size()}); }
  /// A view over raw bytes of any non-object dtype (`data.size()` must be itemsize * elements).
  static result<ndarray> of_bytes(std::span<const std::byte> data, dtype type, std::vector<std::size_t> shape,
                                  memory_order order = memory_order::c);

  const numpy::dtype& type() const noexcept { return *type_; }
  std::span<const std::size_t> shape() const noexcept { return shape_; }
  /// Byte strides, one per dimension (never negative here).
  std::span<const std::ptrdiff_t> strides() const noexcept { return strides_; }
  std::size_t ndim() const noexcept { return shape_.size(); }
  /// Number of elements (1 for 0-d, 0 when any dimension is 0).
  std::size_t size() const noexcept { return size_; }
  std::size_t nbytes() const noexcept { return size_ * type_->itemsize; }
  /// numpy's flags.c_contiguous / flags.f_contiguous (dimensions of length 1 ignored).
  bool c_contiguous() const noexcept;
  bool f_contiguous() const noexcept;
  /// A numpy scalar (numpy.core.multiarray.scalar), seen as a 0-d view.
  bool is_scalar() const noexcept { return scalar_; }
  /// The ndarray subclass named by `_reconstruct` ("ndarray", "matrix", ...; "ndarray" otherwise).
  std::string_view subclass() const noexcept { return subclass_; }
  /// The bytes the view spans, starting at element 0 (empty for object arrays).
  std::span<const std::byte> data() const noexcept { return {base_, extent_}; }
  data_source source() const noexcept { return source_; }
  /// The out-of-band buffer's index (source() == out_of_band).
  std::size_t buffer_index() const noexcept { return buffer_index_; }
  /// Whether numpy's array would be read-only (in-band bytes, read-only out-of-band buffers).
  bool readonly() const noexcept { return readonly_; }

  /// Zero-copy typed span over the elements in `order`. Requires T to match the dtype (see
  /// dtype::of; int64 also reads datetime64 / timedelta64 counts), native byte order, the data
  /// contiguous in `order` (1-D and single-element arrays are both), and the first element aligned
  /// for T: in-band data sits wherever the pickle put it, usually unaligned — use `to_vector`, or
  /// out-of-band buffers (aligned by their owner). The span views the input or the buffer.
  template <class T> result<std::span<const T>> values(memory_order order = memory_order::c) const {
    auto p = check_span(kind_of<T>(), sizeof(T), alignof(T), order);
    if (!p) return p.error();
    return std::span<const T>(reinterpret_cast<const T*>(*p), size_);  // bools checked to be 0 or 1
  }
  /// The elements in `order`, copied and swapped to native order (any layout and alignment).
  template <class T> result<std::vector<T>> to_vector(memory_order order = memory_order::c) const {
    if (auto e = check_type(kind_of<T>(), sizeof(T))) return *e;
    if constexpr (std::is_same_v<T, bool>) {
      std::vector<std::byte> raw(size_);
      copy_elements(order, raw.data(), true);
      std::vector<bool> out(size_);
      for (std::size_t i = 0; i < size_; ++i) out[i] = raw[i] != std::byte{0};
      return out;
    } else {
      std::vector<T> out(size_);
      copy_elements(order, reinterpret_cast<std::byte*>(out.data()), true);
      return out;
    }
  }
  /// One element by index (one per dimension; {} for 0-d), swapped to native order.
  template <class T> result<T> at(std::span<const std::size_t> index) const {
    if (auto e = check_type(kind_of<T>(), sizeof(T))) return *e;
    auto p = element(index);
    if (!p) return p.error();
    if constexpr (std::is_same_v<T, bool>) {
      return **p != std::byte{0};  // numpy's bool is any non-zero byte; a C++ bool must be 0 or 1
    } else {
      T out;
      read_element(*p, reinterpret_cast<std::byte*>(&out));
      return out;
    }
  }
  template <class T> result<T> at(std::initializer_list<std::size_t> index) const {
    return at<T>(std::span<const std::size_t>(index.begin(), index.size()));
  }
  /// One element of kind 'b', 'i', 'u' or 'f' (half, single, double) as a double.
  result<double> at_double(std::span<const std::size_t> index) const;
  result<double> at_double(std::initializer_list<std::size_t> index) const {
    return at_double(std::span<const std::size_t>(index.begin(), index.size()));
  }
  /// One element of kind 'U' as UTF-8, or 'S' as its bytes, without numpy's trailing NULs.
  result<std::string> at_text(std::span<const std::size_t> index) const;
  result<std::string> at_text(std::initializer_list<std::size_t> index) const {
    return at_text(std::span<const std::size_t>(index.begin(), index.size()));
  }
  /// All element bytes in `order`, every field swapped to native order (numpy's
  /// `a.astype(a.dtype.newbyteorder('=')).tobytes(order)`). Empty for object arrays.
  std::vector<std::byte> native_bytes(memory_order order = memory_order::c) const;
  /// A strided view of one field of a structured array, by name or title; a sub-array field adds
  /// its dimensions (numpy's a['name']).
  result<ndarray> field(std::string_view name) const;

  /// Object arrays (kind 'O'): the element at `index`, a value of the document.
  result<value> object_at(std::span<const std::size_t> index) const;
  result<value> object_at(std::initializer_list<std::size_t> index) const {
    return object_at(std::span<const std::size_t>(index.begin(), index.size()));
  }
  /// Object arrays: every element in C order.
  std::vector<value> objects() const;

  const encode_settings& settings() const noexcept { return settings_; }
  ndarray& set_settings(const encode_settings& s) noexcept { settings_ = s; return *this; }

  // Element kinds for the typed accessors ('\0' for an unsupported T).
  template <class T> static constexpr char kind_of() {
    using U = std::remove_cv_t<T>;
    if constexpr (std::is_same_v<U, bool>) return 'b';
    else if constexpr (std::is_same_v<U, char> || std::is_same_v<U, wchar_t> || std::is_same_v<U, char8_t> ||
                       std::is_same_v<U, char16_t> || std::is_same_v<U, char32_t>) return '\0';
    else if constexpr (std::is_integral_v<U>) return std::is_signed_v<U> ? 'i' : 'u';
    else if constexpr (std::is_same_v<U, float> || std::is_same_v<U, double>) return 'f';
    else if constexpr (std::is_same_v<U, std::complex<float>> || std::is_same_v<U, std::complex<double>>) return 'c';
    else return '\0';
  }

 private:
  friend struct detail_access;
  std::optional<brine::error> check_type(char kind, std::size_t size) const;
  result<const std::byte*> check_span(char kind, std::size_t size, std::size_t align, memory_order order) const;
  result<const std::byte*> element(std::span<const std::size_t> index) const;
  void read_element(const std::byte* p, std::byte* out) const;
  void copy_elements(memory_order order, std::byte* out, bool to_native) const;

  std::shared_ptr<const numpy::dtype> type_;
  std::vector<std::size_t> shape_;
  std::vector<std::ptrdiff_t> strides_;
  std::size_t size_ = 0;
  const std::byte* base_ = nullptr;
  std::size_t extent_ = 0;
  std::shared_ptr<const std::vector<std::byte>> owned_;
  const document* doc_ = nullptr;
  std::vector<std::uint32_t> objects_;  // object arrays: node ids in C order
  std::string subclass_ = "ndarray";
  data_source source_ = data_source::none;
  std::size_t buffer_index_ = 0;
  bool readonly_ = false;
  bool scalar_ = false;
  encode_settings settings_;
};

/// What a value is, as far as numpy goes (a cheap check of the callable's name; no validation).
enum class object_kind : std::uint8_t { none, array, scalar, dtype };
object_kind recognize(value v) noexcept;

/// Read an ndarray (any form above) or a numpy scalar as a view.
result<ndarray> to_ndarray(value v);
/// Read a numpy.dtype object.
result<dtype> to_dtype(value v);

/// Write a dtype / an array (with the array's settings()) as numpy pickles it. Failures (object
/// arrays, inconsistent views) are reported by the enclosing brine::pickle as errc::bad_argument.
void encode_dtype(typed_encoder& e, const dtype& t);
void encode_array(typed_encoder& e, const ndarray& a);

// ------------------------------------------------------------------------------------------------
// Implementation details below.

template <class T> dtype dtype::of() {
  constexpr char k = ndarray::kind_of<T>();
  static_assert(k != '\0', "no numpy dtype for this C++ type");
  dtype d;
  d.kind = k;
  d.itemsize = sizeof(T);
  d.order = sizeof(T) == 1 ? byte_order::not_applicable : byte_order::little;
  return d;
}

}  // namespace brine::numpy

namespace brine {

/// numpy arrays through brine::pickle / brine::from_value. The view must outlive the encode; a
/// decoded view must not outlive its document.
template <>
struct codec<numpy::ndarray> {
  static void encode(typed_encoder& e, const numpy::ndarray& a) { numpy::encode_array(e, a); }
  static result<numpy::ndarray> decode(value v) { return numpy::to_ndarray(v); }
};

/// numpy dtypes (always written as numpy.dtype, whatever the module paths).
template <>
struct codec<numpy::dtype> {
  static void encode(typed_encoder& e, const numpy::dtype& t) { numpy::encode_dtype(e, t); }
  static result<numpy::dtype> decode(value v) { return numpy::to_dtype(v); }
};

}  // namespace brine
