// SPDX-License-Identifier: Apache-2.0
// The two ways a collector hands items in:
//  - handover_xml: parse_handover_items (a handoverItem or a
//    handoverItemCollection, TS 103 707 XML);
//  - ingest_json: parse_ingest_items (POST /ingest/v1/tasks/{ref}/items).
// Both with their real limits. An accepted item goes on to
// write_handover_item, as it does on its way to a LEA; whatever the writer
// emits must parse and validate again (xml_handover.hpp promises that its
// output validates against the SchemaSet).
#include "delivery/ingest_json.hpp"
#include "delivery/xml_handover.hpp"
#include "fuzz_harness.hpp"
#include "fuzz_support.hpp"

using namespace enclave;
using namespace enclave::fuzz;

namespace {

void check_write_round_trip(const delivery::HandoverItem& item, const char* name) {
    auto xml = delivery::write_handover_item(item);
    if (!xml) {
        (void)outcome(xml, name);
        return;
    }
    auto again = delivery::parse_handover_items(*xml, schemas());
    fuzz_require(again.has_value(), name, "write_handover_item output does not parse and validate");
    fuzz_require(again->size() == 1, name, "write_handover_item output is not one item");
}

}  // namespace

extern "C" int enclave_fuzz_handover_xml(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "handover_xml";
    auto items = delivery::parse_handover_items(as_text(data, size), schemas());
    const int result = outcome(items, kName);
    if (items) {
        for (const auto& item : *items) check_write_round_trip(item, kName);
    }
    return result;
}

extern "C" int enclave_fuzz_ingest_json(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "ingest_json";
    auto items = delivery::parse_ingest_items(as_text(data, size));
    const int result = outcome(items, kName);
    if (items) {
        for (const auto& item : *items) {
            fuzz_require(item.blob_ids.size() == item.item.associated_binary_data.size(), kName,
                         "blob_ids and associated_binary_data differ in length");
            check_write_round_trip(item.item, kName);
        }
    }
    return result;
}
