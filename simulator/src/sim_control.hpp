// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal: the fault slot and the status JSON of the simulator.

#include <mutex>
#include <string>

#include "simulator/lea_simulator.hpp"

namespace enclave::simulator {

/// The current misbehaviour, consumed request by request.
class FaultSlot {
public:
    /// Copies the fault into `out` when it applies to `target`, counting it down.
    bool take(FaultTarget target, Fault& out);
    void set(const Fault& fault);

private:
    std::mutex mu_;
    Fault fault_;
};

std::string status_to_json(const SimStatus& status);

}  // namespace enclave::simulator
