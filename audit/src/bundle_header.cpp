// SPDX-License-Identifier: Apache-2.0
#include "bundle_header.hpp"

#include <set>

#include <nlohmann/json.hpp>

#include "audit/bundle.hpp"
#include "text_rules.hpp"

namespace enclave::audit::detail {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

tl::unexpected<crypto::Error> malformed(const std::string& why) {
    return fail(Errc::malformed_input, why);
}

const std::set<std::string, std::less<>> kMembers = {
    "format", "version", "origin", "public_key", "size", "checkpoint", "checkpoints"};

// Parses the header, refusing duplicate or unknown top-level members (the
// DOM parser alone would keep the last of two equal keys silently).
Result<nlohmann::json> parse_strict(std::string_view line) {
    const TextScan scan = scan_text(line, false);
    if (scan.fault != TextFault::none) {
        return malformed(std::string(fault_name(scan.fault)) + " at byte " +
                         std::to_string(scan.offset));
    }
    // nlohmann skips a UTF-8 byte order mark; the format has none.
    if (line.empty() || line.front() != '{') return malformed("not a JSON object");
    std::set<std::string, std::less<>> seen;
    std::string problem;
    auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (depth == 1 && event == nlohmann::json::parse_event_t::key && problem.empty()) {
            const auto& name = parsed.get_ref<const std::string&>();
            if (!kMembers.contains(name)) problem = "unknown member \"" + name.substr(0, 32) + "\"";
            else if (!seen.insert(name).second) problem = "member \"" + name + "\" appears twice";
        }
        return true;
    };
    nlohmann::json doc = nlohmann::json::parse(line.begin(), line.end(), callback, false);
    if (doc.is_discarded()) return malformed("not valid JSON");
    if (!problem.empty()) return malformed(problem);
    if (!doc.is_object()) return malformed("not a JSON object");
    if (seen.size() != kMembers.size()) {
        for (const auto& m : kMembers) {
            if (!seen.contains(m)) return malformed("no \"" + m + "\" member");
        }
    }
    return doc;
}

Result<std::string> string_member(const nlohmann::json& doc, const char* name) {
    const auto& v = doc.at(name);
    if (!v.is_string()) return malformed(std::string("\"") + name + "\" is not a string");
    return v.get<std::string>();
}

}  // namespace

std::string header_line(const BundleHeader& header) {
    nlohmann::ordered_json doc;
    doc["format"] = kBundleFormat;
    doc["version"] = kBundleVersion;
    doc["origin"] = header.origin;
    doc["public_key"] = header.public_key;
    doc["size"] = header.size;
    doc["checkpoint"] = header.checkpoint;
    doc["checkpoints"] = header.checkpoints;
    return doc.dump();
}

Result<BundleHeader> parse_header_line(std::string_view line) {
    auto doc = parse_strict(line);
    if (!doc) return tl::unexpected(doc.error());
    const auto& format = doc->at("format");
    if (!format.is_string() || format.get<std::string>() != kBundleFormat) {
        return malformed("\"format\" is not \"enclave-audit-bundle\"");
    }
    const auto& version = doc->at("version");
    if (!version.is_number_unsigned() || version.get<std::uint64_t>() != kBundleVersion) {
        return malformed("unsupported \"version\" (this verifier reads version 1)");
    }
    BundleHeader h;
    const auto& size = doc->at("size");
    if (!size.is_number_unsigned()) return malformed("\"size\" is not an unsigned integer");
    h.size = size.get<std::uint64_t>();
    for (auto [name, out] : {std::pair{"origin", &h.origin}, std::pair{"public_key", &h.public_key},
                             std::pair{"checkpoint", &h.checkpoint}}) {
        auto s = string_member(*doc, name);
        if (!s) return tl::unexpected(s.error());
        *out = std::move(*s);
    }
    const auto& older = doc->at("checkpoints");
    if (!older.is_array()) return malformed("\"checkpoints\" is not an array");
    if (older.size() > kMaxBundleCheckpoints) {
        return malformed("more than " + std::to_string(kMaxBundleCheckpoints) + " checkpoints");
    }
    for (const auto& note : older) {
        if (!note.is_string()) return malformed("\"checkpoints\" holds a non-string");
        h.checkpoints.push_back(note.get<std::string>());
    }
    return h;
}

Result<OpenedCheckpoints> open_checkpoints(const std::string& latest,
                                           const std::vector<std::string>& older,
                                           const NoteVerifierKey& key, std::string_view origin) {
    OpenedCheckpoints out;
    auto cp = open_checkpoint(latest, key);
    if (!cp) return tl::unexpected(cp.error().wrap("checkpoint"));
    out.latest = std::move(*cp);
    const std::string want = origin.empty() ? out.latest.origin : std::string(origin);
    if (out.latest.origin != want) {
        return malformed("checkpoint: its origin differs from the bundle's origin");
    }
    std::uint64_t previous = 0;
    for (std::size_t k = 0; k < older.size(); ++k) {
        const std::string where = "older checkpoint " + std::to_string(k + 1);
        auto o = open_checkpoint(older[k], key);
        if (!o) return tl::unexpected(o.error().wrap(where));
        const std::string at = where + " (size " + std::to_string(o->size) + ")";
        if (o->origin != want) return malformed(at + ": its origin differs from the bundle's");
        if (o->size >= out.latest.size) {
            return malformed(at + ": not below the latest checkpoint's size " +
                             std::to_string(out.latest.size));
        }
        if (k > 0 && o->size <= previous) {
            return malformed(at + ": sizes are not strictly ascending");
        }
        previous = o->size;
        out.older.push_back(std::move(*o));
    }
    return out;
}

}  // namespace enclave::audit::detail
