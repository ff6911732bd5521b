// SPDX-License-Identifier: Apache-2.0
#include "audit/task_actor.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;

bool is_sha256_hex(const std::string& s) noexcept {
    if (s.size() != 64) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

/// Audit entries hold no floating-point numbers (the log refuses them), and
/// an actor is a handful of short facts.
bool plain_json(const Actor& j, int depth) noexcept {
    if (depth > 4 || j.is_number_float() || j.is_binary()) return false;
    if (j.is_structured()) {
        for (const auto& item : j) {
            if (!plain_json(item, depth + 1)) return false;
        }
    }
    return true;
}

constexpr std::size_t kMaxActorBytes = 4096;

}  // namespace

crypto::Result<void> check_actor(const Actor& actor) {
    if (!actor.is_object()) return crypto::fail(Errc::invalid_argument, "actor: must be an object");
    if (!plain_json(actor, 0) || actor.dump().size() > kMaxActorBytes) {
        return crypto::fail(Errc::invalid_argument,
                            "actor: at most 4096 bytes of JSON, nested at most 4 deep, no floating-point numbers");
    }
    const auto kind = actor.find("kind");
    if (kind == actor.end() || !kind->is_string()) {
        return crypto::fail(Errc::invalid_argument, "actor.kind: must be a string");
    }
    const auto& k = kind->get_ref<const std::string&>();
    if (k == "system") return {};
    if (k == "local") {
        const auto uid = actor.find("uid");
        if (uid == actor.end() || !(uid->is_number_unsigned() || (uid->is_number_integer() && *uid >= 0))) {
            return crypto::fail(Errc::invalid_argument, "actor.uid: must be a non-negative integer");
        }
        return {};
    }
    if (k == "certificate") {
        const auto sha = actor.find("sha256");
        if (sha == actor.end() || !sha->is_string() || !is_sha256_hex(sha->get_ref<const std::string&>())) {
            return crypto::fail(Errc::invalid_argument, "actor.sha256: must be 64 lowercase hex digits");
        }
        return {};
    }
    if (k == "psk") {
        const auto id = actor.find("psk_identity");
        bool ok = id != actor.end() && id->is_string();
        if (ok) {
            const auto& text = id->get_ref<const std::string&>();
            ok = !text.empty() && text.size() <= 128;
            for (char c : text) ok = ok && c >= 0x21 && c <= 0x7e;
        }
        if (!ok) {
            return crypto::fail(Errc::invalid_argument,
                                "actor.psk_identity: must be 1..128 printable ASCII characters, no space");
        }
        return {};
    }
    return crypto::fail(Errc::invalid_argument, "actor.kind: must be local, certificate, psk or system");
}

crypto::Result<std::string> actor_identity(const Actor& actor) {
    if (auto ok = check_actor(actor); !ok) return tl::unexpected(ok.error());
    const auto& k = actor.at("kind").get_ref<const std::string&>();
    if (k == "local") return "local:" + std::to_string(actor.at("uid").get<std::uint64_t>());
    if (k == "certificate") return "certificate:" + actor.at("sha256").get<std::string>();
    if (k == "psk") return "psk:" + actor.at("psk_identity").get<std::string>();
    return std::string("system");
}

Actor system_actor() { return Actor{{"kind", "system"}}; }

}  // namespace enclave::audit
