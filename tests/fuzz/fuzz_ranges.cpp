// SPDX-License-Identifier: Apache-2.0
// HTTP byte ranges, both directions:
//  - http_range: the appliance serving a stored binary (Model C,
//    GET /v1/binaries/{token}): plan_ranges on a Range (and If-Range) header,
//    then range_body for a 206. Input layout: byte 0 picks the object size
//    from kSizes; the rest is "Range\nIf-Range\ncontent type" (missing lines:
//    no If-Range header, content type "application/octet-stream").
//  - lea_range: the client side (delivery worker, enclave-lea-sim's
//    fetcher): parse_content_range, parse_unsatisfied_range, is_strong_etag
//    and parse_https_url on the same text.
#include <array>
#include <cstdio>
#include <limits>

#include "appliance/http_range.hpp"
#include "delivery/lea_client_range.hpp"
#include "delivery/lea_client_url.hpp"
#include "fuzz_harness.hpp"

using namespace enclave;
using namespace enclave::fuzz;

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
constexpr std::array<std::uint64_t, 12> kSizes = {0,       1,          2,         10,       100,      1000,
                                                  65536,   1ull << 32, kMax / 2,  kMax - 1, kMax,     4097};

std::string_view next_line(std::string_view& rest, bool& present) {
    present = !rest.empty();
    const auto nl = rest.find('\n');
    const auto line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    return line;
}

void check_body(const appliance::RangePlan& plan, std::uint64_t size, std::string_view content_type,
                const char* name) {
    auto body = appliance::range_body(plan, content_type, size, appliance::make_boundary());
    if (!body) {
        // malformed_input: the content type; too_large: a multipart body
        // longer than 2^64-1 bytes (only for absurd object sizes).
        const auto code = body.error().code();
        if (code != crypto::Errc::malformed_input && code != crypto::Errc::too_large) {
            std::fprintf(stderr, "range_body: %s\n", body.error().message().c_str());
        }
        fuzz_require(code == crypto::Errc::malformed_input || code == crypto::Errc::too_large, name,
                     "range_body refused a partial plan for another reason than the content type or size");
        (void)outcome(body, name);
        return;
    }
    std::uint64_t total = 0;
    for (const auto& s : body->segments) {
        if (s.from_object) {
            fuzz_require(s.length > 0 && s.offset < size && s.length - 1 <= size - 1 - s.offset, name,
                         "a body segment outside the object");
        } else {
            fuzz_require(s.length == s.literal.size(), name, "a literal segment with the wrong length");
        }
        total += s.length;
    }
    fuzz_require(total == body->content_length, name, "content_length is not the sum of the segments");
}

}  // namespace

extern "C" int enclave_fuzz_http_range(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "http_range";
    if (size == 0) return kRejected;
    const std::uint64_t object_size = kSizes[data[0] % kSizes.size()];
    std::string_view rest = as_text(data + 1, size - 1);
    bool has_range = false, has_if_range = false, has_type = false;
    const std::string range(next_line(rest, has_range));
    const std::string if_range(next_line(rest, has_if_range));
    std::string_view content_type = next_line(rest, has_type);
    if (!has_type) content_type = "application/octet-stream";

    const std::string etag = appliance::strong_etag(std::string(64, 'a'));
    const auto plan = appliance::plan_ranges(&range, has_if_range ? &if_range : nullptr, etag, object_size);
    switch (plan.outcome) {
        case appliance::RangeOutcome::full:
            fuzz_require(plan.ranges.empty(), kName, "a full plan with ranges");
            fuzz_require(plan.ignored != appliance::RangeIgnored::none, kName,
                         "a Range header answered in full without a reason");
            return kRejected;
        case appliance::RangeOutcome::unsatisfiable:
            fuzz_require(plan.ranges.empty(), kName, "an unsatisfiable plan with ranges");
            return kRejected;
        case appliance::RangeOutcome::partial:
            break;
    }
    fuzz_require(!plan.ranges.empty() && plan.ranges.size() <= appliance::RangeLimits{}.max_ranges, kName,
                 "a partial plan with no ranges or too many");
    for (const auto& r : plan.ranges) {
        fuzz_require(r.first <= r.last && r.last < object_size, kName, "a planned range outside the object");
    }
    check_body(plan, object_size, content_type, kName);
    return kAccepted;
}

extern "C" int enclave_fuzz_lea_range(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "lea_range";
    const auto text = as_text(data, size);
    int result = kRejected;
    if (auto cr = delivery::parse_content_range(text); cr) {
        fuzz_require(cr->first <= cr->last, kName, "Content-Range first after last");
        fuzz_require(!cr->complete_length || cr->last < *cr->complete_length, kName,
                     "Content-Range ends past its length");
        result = kAccepted;
    } else {
        (void)outcome(cr, kName);
    }
    if (auto un = delivery::parse_unsatisfied_range(text); un) {
        result = kAccepted;
    } else {
        (void)outcome(un, kName);
    }
    (void)delivery::is_strong_etag(text);
    if (auto url = delivery::parse_https_url(text); url) {
        // The canonical form parses to the same URL.
        auto again = delivery::parse_https_url(url->to_string());
        fuzz_require(again.has_value() && again->to_string() == url->to_string(), kName,
                     "HttpsUrl::to_string does not parse back to the same URL");
        result = kAccepted;
    } else {
        (void)outcome(url, kName);
    }
    return result;
}
