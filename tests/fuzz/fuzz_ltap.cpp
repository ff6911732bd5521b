// SPDX-License-Identifier: Apache-2.0
// LTAP XML (draft-ietf-ltans-ltap-03, archive/schemas/ltap.xsd) as the
// archive service reads requests and its clients read responses:
// archive::parse_request and archive::parse_response on the same bytes,
// with the real limits (LtapLimits{}) and the real compiled schema.
// Extra rules: an accepted request names each object (at most one of
// RawData / Artifact / DataReference, else a MessageImprint); a rejection
// or grantedWithMods carries its GeneralErrorNotice; every accepted
// message renders again and parses back to the same value.
#include "archive/ltap.hpp"
#include "fuzz_harness.hpp"

using namespace enclave;
using namespace enclave::fuzz;

namespace {

constexpr const char* kName = "ltap";

void check_request(const archive::Request& r) {
    fuzz_require(!r.data.empty() && r.data.size() <= archive::kMaxLtapDataItems, kName, "Data count out of bounds");
    for (const auto& d : r.data) {
        const int named = (d.raw_data ? 1 : 0) + (d.artifact ? 1 : 0) + (d.data_reference ? 1 : 0);
        fuzz_require(named <= 1, kName, "a request Data with more than one DataOrTransaction choice");
        fuzz_require(named == 1 || d.imprint.has_value(), kName, "a request Data that names nothing");
    }
    auto xml = archive::render_request(r);
    fuzz_require(xml.has_value(), kName, "an accepted request does not render again");
    auto again = archive::parse_request(*xml);
    fuzz_require(again.has_value() && *again == r, kName, "a rendered request does not parse back to itself");
}

void check_response(const archive::Response& r) {
    if (const auto* op = std::get_if<archive::OperationResponse>(&r)) {
        const bool needs_notice =
            op->status == archive::StatusInfo::rejection || op->status == archive::StatusInfo::granted_with_mods;
        fuzz_require(!needs_notice || op->error.has_value(), kName, "a rejection without GeneralErrorNotice");
    }
    auto xml = archive::render_response(r);
    fuzz_require(xml.has_value(), kName, "an accepted response does not render again");
    auto again = archive::parse_response(*xml);
    fuzz_require(again.has_value() && *again == r, kName, "a rendered response does not parse back to itself");
}

}  // namespace

extern "C" int enclave_fuzz_ltap(const std::uint8_t* data, std::size_t size) {
    const auto text = as_text(data, size);
    auto request = archive::parse_request(text);
    const int as_request = outcome(request, kName);
    if (request) check_request(*request);
    auto response = archive::parse_response(text);
    const int as_response = outcome(response, kName);
    if (response) check_response(*response);
    return as_request == kAccepted || as_response == kAccepted ? kAccepted : kRejected;
}
