// SPDX-License-Identifier: Apache-2.0
#pragma once
// Sample LTAP messages that use every field (the codec suites and the fuzz
// seeds, tests/fuzz/tools/make_seeds.cpp). No GoogleTest here.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "archive/ltap.hpp"

namespace enclave::archive::testing {

inline crypto::Bytes bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

inline RequestInformation full_info(ServiceType service) {
    using namespace std::chrono;
    RequestInformation info;
    info.version = "v1";
    info.nonce = crypto::Bytes{0x00, 0x01, 0xfe, 0xff};
    info.serial_number = 9'007'199'254'740'993;
    info.request_time = sys_days(year(2026) / 11 / 22) + hours(3) + minutes(4) + seconds(5) + milliseconds(678);
    info.request_entities = {"CN=client one, O=LEA", "urn:x:second"};
    info.server_entities = {"CN=enclave-archive"};
    info.service = service;
    info.policies = {"urn:oid:1.3.6.1.4.1.99999.1", "https://example.test/policy#v2"};
    info.configuration = {{"retention.years", "30"}, {"note", "line one\r\nline two\ttab <&>\"'"}};
    return info;
}

inline MessageImprint sha256_imprint(std::uint8_t fill = 0xab) {
    return {"http://www.w3.org/2001/04/xmlenc#sha256", crypto::Bytes(32, fill)};
}

inline DataItem raw_item(std::string_view content) {
    DataItem d;
    d.raw_data = bytes_of(content);
    d.metadata = {{"content-type", "application/octet-stream"}, {"title", "Ünïcode ✓ 𝄞"}};
    d.imprint = sha256_imprint();
    return d;
}

inline Request full_request(ServiceType service) {
    Request r;
    r.info = full_info(service);
    if (service == ServiceType::archive) {
        r.data.push_back(raw_item("first object"));
        r.data.push_back(raw_item(std::string("\0\1\2 binary", 11)));
    } else {
        DataItem by_ref;
        by_ref.data_reference = "urn:x-enclave:archive:object:42";
        by_ref.imprint = sha256_imprint(0x11);
        DataItem by_imprint;
        by_imprint.imprint = sha256_imprint(0x22);
        DataItem by_artifact;
        by_artifact.artifact = "txn-0001";
        if (service == ServiceType::verify) by_ref.evidence_record = crypto::Bytes{0x30, 0x03, 0x02, 0x01, 0x01};
        r.data = {by_ref, by_imprint, by_artifact};
    }
    return r;
}

inline OperationResponse full_operation(ServiceType service, StatusInfo status) {
    OperationResponse op;
    op.info = full_info(service);
    op.status = status;
    DataItem both;
    both.artifact = "txn-0001";
    both.data_reference = "urn:x-enclave:archive:object:42";
    both.imprint = sha256_imprint();
    DataItem exported = raw_item("exported bytes");
    exported.data_reference = "urn:x-enclave:archive:object:43";
    exported.evidence_record = crypto::Bytes{0x30, 0x03, 0x02, 0x01, 0x01};
    DataItem meta_only;
    meta_only.metadata = {{"state", "archived"}};
    op.data = {both, exported, meta_only};
    if (status == StatusInfo::rejection || status == StatusInfo::granted_with_mods) {
        op.error = GeneralErrorNotice{17, "policy urn:x:p does not allow \"delete\" & more"};
    }
    return op;
}

}  // namespace enclave::archive::testing
