// SPDX-License-Identifier: Apache-2.0
#include "psk_body.hpp"

#include <nlohmann/json.hpp>

#include "appliance/psk_store.hpp"
#include "crypto/encoding.hpp"

namespace enclave::appliance::detail {
namespace {

using nlohmann::json;

Response bad(std::string_view message) {
    return Response::error(400, "invalid_argument", message);
}

/// An integer member in [lo, hi], or the error answer.
std::optional<Response> take_int(const json& body, const char* key, std::int64_t lo,
                                 std::int64_t hi, std::int64_t& out) {
    if (!body.contains(key)) return std::nullopt;
    const json& v = body.at(key);
    if (!v.is_number_integer()) return bad(std::string(key) + ": an integer is required");
    const auto n = v.get<std::int64_t>();
    if (n < lo || n > hi) {
        return bad(std::string(key) + ": " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    out = n;
    return std::nullopt;
}

std::optional<Response> take_string(const json& body, const char* key, std::string& out) {
    if (!body.contains(key)) return bad(std::string(key) + " is required");
    if (!body.at(key).is_string()) return bad(std::string(key) + ": a string is required");
    out = body.at(key).get<std::string>();
    return std::nullopt;
}

/// key_hex: decoded into a Secret; the JSON string is wiped either way.
std::optional<Response> take_key(json& body, std::optional<crypto::Secret>& out) {
    if (!body.contains("key_hex")) return std::nullopt;
    json& v = body.at("key_hex");
    if (!v.is_string()) return bad("key_hex: a string is required");
    std::string& hex = v.get_ref<std::string&>();
    auto key = crypto::hex_decode_secret(hex);
    crypto::wipe(hex);
    if (!key) return bad("key_hex: hex digits only, an even number of them");
    if (key->size() < kMinPskBytes || key->size() > kMaxPskBytes) {
        return bad("key_hex: the key must be 32..64 bytes (64..128 hex digits)");
    }
    out = std::move(*key);
    return std::nullopt;
}

/// The body as a JSON object, or the answer refusing it.
tl::expected<json, Response> object_body(std::string_view text) {
    if (text.size() > kMaxPskBody) {
        return tl::unexpected(Response::error(413, "too_large", "body over 4 KiB"));
    }
    json body = json::parse(text, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        return tl::unexpected(Response::error(400, "malformed_input", "body: a JSON object is required"));
    }
    return body;
}

}  // namespace

tl::expected<NewPsk, Response> parse_psk_new(std::string_view text, bool rotate) {
    auto body = object_body(text);
    if (!body) return tl::unexpected(std::move(body.error()));
    NewPsk p;
    // The key first, so that every return below leaves no hex behind.
    if (auto e = take_key(*body, p.key)) return tl::unexpected(std::move(*e));
    for (const auto& [key, value] : body->items()) {
        const bool known = key == "endpoint" || key == "identity" || key == "expires_days" ||
                           key == "key_hex" || (rotate && key == "overlap_hours");
        if (!known) return tl::unexpected(Response::error(400, "malformed_input", "body: unknown key"));
    }
    if (auto e = take_string(*body, "endpoint", p.endpoint)) return tl::unexpected(std::move(*e));
    if (auto e = take_string(*body, "identity", p.identity)) return tl::unexpected(std::move(*e));
    if (auto e = take_int(*body, "expires_days", 0, kMaxPskExpiresDays, p.expires_days)) {
        return tl::unexpected(std::move(*e));
    }
    if (rotate) {
        if (auto e = take_int(*body, "overlap_hours", 0, kMaxPskOverlapHours, p.overlap_hours)) {
            return tl::unexpected(std::move(*e));
        }
    }
    if (!valid_psk_identity(p.identity)) {
        return tl::unexpected(bad("identity: 1..128 printable ASCII characters without spaces"));
    }
    return p;
}

tl::expected<std::string, Response> parse_psk_revoke(std::string_view text) {
    auto body = object_body(text);
    if (!body) return tl::unexpected(std::move(body.error()));
    for (const auto& [key, value] : body->items()) {
        if (key != "identity") {
            return tl::unexpected(Response::error(400, "malformed_input", "body: unknown key"));
        }
    }
    std::string identity;
    if (auto e = take_string(*body, "identity", identity)) return tl::unexpected(std::move(*e));
    if (!valid_psk_identity(identity)) {
        return tl::unexpected(bad("identity: 1..128 printable ASCII characters without spaces"));
    }
    return identity;
}

}  // namespace enclave::appliance::detail
