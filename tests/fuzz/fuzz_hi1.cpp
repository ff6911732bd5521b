// SPDX-License-Identifier: Apache-2.0
// HI1 XML (TS 103 120) as the LEA listener and the LEA side read it:
//  - hi1_task: parse_hi1_task_request (tasking requests on listeners.lea);
//    each refused action must yield an answer that build_hi1_task_response
//    accepts, since the daemon answers refusals with it;
//  - hi1_deliver: parse_deliver_request (enclave-lea-sim) and
//    parse_deliver_response (the delivery worker reading a LEA's answer),
//    both on the same bytes.
// Real limits (XmlLimits{}), real schema set (SchemaSet::shared()).
#include "delivery/hi1_deliver.hpp"
#include "delivery/hi1_task.hpp"
#include "fuzz_harness.hpp"
#include "fuzz_support.hpp"

using namespace enclave;
using namespace enclave::fuzz;

extern "C" int enclave_fuzz_hi1_task(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "hi1_task";
    auto request = delivery::parse_hi1_task_request(as_text(data, size), schemas());
    const int result = outcome(request, kName);
    if (!request) return result;
    for (const auto& action : request->actions) {
        fuzz_require(action.refusal.has_value() || action.action != delivery::Hi1TaskAction::unsupported, kName,
                     "an unsupported action without a refusal");
        if (action.refusal) {
            fuzz_require(!action.refusal->description.empty(), kName, "a refusal without a description");
            fuzz_require(!action.task.has_value(), kName, "a refused action that carries a task");
            // The daemon answers a refusal with exactly this: it must build.
            delivery::Hi1TaskResponseSpec spec;
            spec.sender = request->receiver;
            spec.receiver = request->sender;
            spec.transaction_id = request->transaction_id;
            spec.timestamp = "2026-01-01T00:00:00.000000Z";
            spec.answers.push_back(delivery::refused_answer(action));
            auto answer = delivery::build_hi1_task_response(spec);
            fuzz_require(answer.has_value(), kName, "the answer to a refused action does not build");
        }
        if (action.task && action.action == delivery::Hi1TaskAction::create) {
            fuzz_require(!action.task->fields.empty() && action.task->reference && action.task->start &&
                             action.task->end,
                         kName, "a CREATE without values, reference or times");
        }
        if (action.task) {
            for (const auto& field : action.task->fields) {
                fuzz_require(!field.hash.empty(), kName, "a value without its salted hash");
            }
        }
    }
    return result;
}

extern "C" int enclave_fuzz_hi1_deliver(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "hi1_deliver";
    const auto text = as_text(data, size);
    auto request = delivery::parse_deliver_request(text, schemas());
    const int as_request = outcome(request, kName);
    if (request) {
        fuzz_require(!request->items.empty() || request->last_sequence, kName,
                     "an empty DELIVER that is not the closing marker");
    }
    auto response = delivery::parse_deliver_response(text, schemas());
    const int as_response = outcome(response, kName);
    if (response) {
        fuzz_require(response->accepted != response->error.has_value(), kName,
                     "an outcome that is both or neither accepted and an error");
    }
    return as_request == kAccepted || as_response == kAccepted ? kAccepted : kRejected;
}
