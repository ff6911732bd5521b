// SPDX-License-Identifier: Apache-2.0
#pragma once
// HTTP range requests (RFC 9110 section 14, If-Range 13.1.5) for serving
// stored binary objects (issue #6, Model C: GET /v1/binaries/{token}).
//
// A pure planning library, no Beast/Asio: from the request's Range and
// If-Range values, the object's size and its strong ETag, plan_ranges()
// decides 200 (full) / 206 (partial) / 416 (unsatisfiable); range_body()
// describes the 206 body as literal bytes and slices of the object, so the
// server can stream it (decrypting only the blob chunks a slice touches).
// Holds no secret. Header values are never echoed into errors.
//
// Decisions (each is a rule the tests pin down):
//  1. Range is ignored (outcome full, RangeIgnored says why) when:
//     - its value is longer than RangeLimits::max_header_bytes (too_long);
//     - its unit is not "bytes" (compared case-insensitively; unit);
//     - it is not a syntactically valid ranges-specifier (malformed). This
//       covers: no '=', a unit that is not a token ("bytes =0-1"), no range
//       at all ("bytes=", "bytes=,"), any element that is not first-last,
//       first- or -suffix ("bytes=-", "bytes=--5", "+1-2", "0x1-2", a NUL, a
//       space or tab inside an element), and first-last with last < first
//       ("bytes=5-3"; RFC 9110 14.1.1 calls it invalid). One bad element makes
//       the whole header ignored, not just that element.
//     - it has more than RangeLimits::max_ranges list elements (too_many);
//     - two of its satisfiable ranges overlap (overlap): RFC 9110 14.2 lets a
//       server ignore such a header as a likely denial of service; we do so
//       for any overlap, not only "more than two". Adjacent ranges (0-4,5-9)
//       do not overlap and are served as asked (not coalesced).
//  2. Syntax details. Leading/trailing OWS (SP, HTAB) of the field value and
//     OWS around each list element (so around commas, and after '=') are
//     allowed. Empty list elements ("bytes=0-1,,5-6", "bytes=,0-1,") are
//     tolerated and skipped (RFC 9110 5.6.1 asks recipients to), but they
//     count towards max_ranges, so a value cannot carry unbounded empties.
//     Numbers are 1*DIGIT: no sign, no spaces; leading zeros allowed. A number
//     too large for uint64 never wraps: it saturates, so a first-pos becomes
//     "beyond any size" (that range unsatisfiable), a last-pos clamps to the
//     last byte and a suffix-length means the whole object. last < first is
//     judged on the exact decimal values, not on the saturated ones.
//  3. Satisfiable (RFC 9110 14.1.2): first- and first-last when first < size
//     (last clamped to size-1); -N when N > 0 (N >= size means the whole
//     object). Unsatisfiable ranges are dropped; the others are kept in
//     request order. None satisfiable: unsatisfiable (416, send
//     unsatisfied_content_range()).
//  4. A zero-length object: no int-range is satisfiable, and -0 is not.
//     A -N with N > 0 is satisfiable per RFC 9110 14.1.2 but selects no byte,
//     and a 206 cannot say "zero bytes" in Content-Range; so such a header is
//     ignored (full: a 200 with the empty object; RangeIgnored::empty_object).
//     Otherwise (only int-ranges or -0): unsatisfiable.
//  5. If-Range (13.1.5) is looked at only when Range is present. It holds
//     only when its value (OWS-trimmed) is byte-for-byte our strong ETag.
//     A weak tag (W/"...") never holds (weak validators are not allowed
//     here); an HTTP-date never holds (we send no Last-Modified, so no date
//     can be a strong validator for us); anything else never holds. When it
//     does not hold the Range is ignored (full, RangeIgnored::if_range).
//  6. Left to the caller (the serving code): RFC 9110 14.2 defines range
//     handling for GET only, so for HEAD pass range = nullptr (a 200 with
//     the whole Content-Length); Range and If-Range are singleton fields, so a
//     request carrying one of them twice should be answered as if Range were
//     absent (Request::header returns only the first); send
//     "Accept-Ranges: bytes" and the ETag on 200 and 206, and
//     unsatisfied_content_range() with a 416.
//  7. Body of a 206 (range_body): one range gives a plain body (the object's
//     content type, a Content-Range header). Several give
//     multipart/byteranges (RFC 9110 14.6, RFC 2046 5.1.1) with no preamble:
//       "--B\r\n"   Content-Type/Content-Range part headers "\r\n" bytes
//       "\r\n--B\r\n" ... next part ...
//       "\r\n--B--\r\n"            (close delimiter; CRLF = empty epilogue)
//     Each part header block is "Content-Type: T\r\nContent-Range: bytes
//     a-b/size\r\n\r\n"; no Content-Range in the response header section.
//     An empty object content type is sent as application/octet-stream; a
//     content type with a control character (CR, LF, NUL...) is refused.
//     The boundary is random (make_boundary), 128 bits, so it does not occur
//     in the object except with negligible probability (RFC 2046 asks that it
//     does not; we do not scan the object for it).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.hpp"

namespace enclave::appliance {

/// Inclusive byte positions; in a plan, first <= last < size.
struct ByteRange {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    [[nodiscard]] std::uint64_t length() const noexcept { return last - first + 1; }
    friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

enum class RangeOutcome {
    full,           ///< 200: the whole object (no Range, or Range ignored)
    partial,        ///< 206: RangePlan::ranges
    unsatisfiable,  ///< 416 with Content-Range: bytes */size
};

/// Why a plan is `full` (none for partial / unsatisfiable). For logs and
/// metrics: too_many and overlap are the denial-of-service refusals.
enum class RangeIgnored {
    none,          ///< the Range header was used
    absent,        ///< no Range header
    if_range,      ///< If-Range present and did not hold
    too_long,      ///< Range value over max_header_bytes
    unit,          ///< a range unit other than bytes
    malformed,     ///< not a valid bytes ranges-specifier
    too_many,      ///< more list elements than max_ranges
    overlap,       ///< two satisfiable ranges overlap
    empty_object,  ///< zero-length object and a satisfiable -N (decision 4)
};

/// "none", "absent", "if-range", "too-long", "unit", "malformed",
/// "too-many", "overlap", "empty-object".
std::string_view range_ignored_name(RangeIgnored why) noexcept;

struct RangeLimits {
    std::size_t max_header_bytes = 4096;  ///< longer Range values are ignored
    std::size_t max_ranges = 32;          ///< more list elements: ignored
};

struct RangePlan {
    RangeOutcome outcome = RangeOutcome::full;
    std::vector<ByteRange> ranges;  ///< partial only: satisfiable ranges, request order
    RangeIgnored ignored = RangeIgnored::none;
};

/// Plans the answer to a GET for an object of `size` bytes whose strong ETag
/// is `etag` (with its quotes, as strong_etag() makes it). `range` and
/// `if_range` are the header values, nullptr when absent. Never throws
/// except std::bad_alloc.
RangePlan plan_ranges(const std::string* range, const std::string* if_range, std::string_view etag,
                      std::uint64_t size, const RangeLimits& limits = {});

/// Whether an If-Range value holds for our strong `etag` (decision 5).
/// false when `etag` itself is not a strong entity-tag ("\"...\"").
bool if_range_holds(std::string_view if_range, std::string_view etag) noexcept;

/// "\"sha256-<hex>\"". Requires 64 lowercase hex digits (a broken invariant
/// otherwise: throws std::invalid_argument).
std::string strong_etag(std::string_view sha256_hex);

/// "bytes 0-99/1000". Requires r.first <= r.last < size (throws
/// std::invalid_argument otherwise: we never emit an invalid header).
std::string content_range(const ByteRange& r, std::uint64_t size);

/// "bytes */1000", for a 416.
std::string unsatisfied_content_range(std::uint64_t size);

/// 32 lowercase hex characters from the CSPRNG (randombytes_buf): a valid
/// RFC 2046 boundary and an HTTP token (no quoting needed).
std::string make_boundary();

/// A piece of a response body: either `literal` bytes, or `length` bytes of
/// the object starting at `offset` (from_object). `length` is the segment's
/// byte count in both cases (literal.size() for a literal; offset is 0).
struct BodySegment {
    std::string literal;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    bool from_object = false;
};

struct RangeBody {
    std::string content_type;           ///< of the response
    std::vector<BodySegment> segments;  ///< the body, in order
    std::uint64_t content_length = 0;   ///< the exact sum of the segments' lengths
    /// Extra response headers: Content-Range for a single range, none for
    /// multipart (RFC 9110 14.6 forbids it there).
    std::vector<std::pair<std::string, std::string>> headers;
};

/// The body of a 206 for `plan` (decision 7). `boundary` is used (and
/// checked) only for several ranges. Errors: invalid_argument for a plan that
/// is not partial, a range outside [0, size), or a multipart boundary that is
/// not 1-70 characters of [0-9A-Za-z'+_.-] (RFC 2046 bchars that are also
/// HTTP tchars, so never quoted); malformed_input for an object content type
/// with a control character (anything below 0x20 but HTAB, and 0x7f).
crypto::Result<RangeBody> range_body(const RangePlan& plan, std::string_view object_content_type,
                                     std::uint64_t size, const std::string& boundary);

}  // namespace enclave::appliance
