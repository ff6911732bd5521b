// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private helpers of the HI1 tasking code (hi1_task_*.cpp).

#include <string>
#include <string_view>
#include <utility>

#include "delivery/hi1_task.hpp"
#include "hi1_internal.hpp"

namespace enclave::delivery::detail {

inline constexpr const char* kTaskNs = "http://uri.etsi.org/03120/common/2020/09/Task";

/// An action-level refusal while reading: the Hi1 code, the Errc, the text.
struct Refusal {
    std::uint64_t code = hi1_error::kInvalidTask;
    crypto::Errc errc = crypto::Errc::invalid_argument;
    std::string description;
};
template <class T>
using Read = tl::expected<T, Refusal>;

inline tl::unexpected<Refusal> refuse(std::uint64_t code, crypto::Errc errc, std::string description) {
    return tl::unexpected<Refusal>(Refusal{code, errc, std::move(description)});
}

/// xsi:type of `node` resolved to {namespace URI, local name}; empty strings
/// when absent or unresolvable.
std::pair<std::string, std::string> xsi_type(xmlNode* node);

/// Reads a validated LITaskObject / LDTaskObject under CREATE or UPDATE.
/// `path` is "ActionRequest[i]/CREATE/HI1Object".
Read<Hi1TaskObject> read_task_object(xmlNode* object, ReferenceKind kind, bool create, const std::string& path);

/// Wipes the text of every task:Value and extension Salt element in the
/// document (what libxml2 lets us: see docs/hi1-tasking.md).
void wipe_sensitive_text(xmlDoc* doc) noexcept;

}  // namespace enclave::delivery::detail
