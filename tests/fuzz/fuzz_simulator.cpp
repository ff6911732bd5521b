// SPDX-License-Identifier: Apache-2.0
// enclave-lea-sim reading what reaches it: inspect_delivery (every DELIVER
// request body, before any schema validation) and parse_fault_json (the
// /control/fault body), on the same bytes.
#include "fuzz_harness.hpp"
#include "simulator/delivery_inspector.hpp"
#include "simulator/lea_simulator.hpp"

using namespace enclave;
using namespace enclave::fuzz;

extern "C" int enclave_fuzz_sim_delivery(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "sim_delivery";
    const auto text = as_text(data, size);
    auto facts = simulator::inspect_delivery(text);
    const int as_delivery = outcome(facts, kName);
    auto fault = simulator::parse_fault_json(text);
    const int as_fault = outcome(fault, kName);
    return as_delivery == kAccepted || as_fault == kAccepted ? kAccepted : kRejected;
}
