// SPDX-License-Identifier: Apache-2.0
#pragma once
// The simulator's HI1 behaviour from the delivery layer's XML code: every
// DELIVER message is validated against the ETSI schemas plus the project's
// (delivery::SchemaSet) before it is stored, and answered with
// delivery::build_deliver_response (a DELIVERResponse, or ErrorInformation).
// Holds no secret.
#include <memory>

#include "delivery/xml_schema.hpp"
#include "simulator/lea_simulator.hpp"

namespace enclave::simulator {

/// Sets options.validator and options.responder from `schemas`.
void use_hi1_schemas(LeaSimulatorOptions& options,
                     std::shared_ptr<const delivery::SchemaSet> schemas);

}  // namespace enclave::simulator
