// SPDX-License-Identifier: Apache-2.0
// parse_ingest_items: maps the strict JSON DOM onto HandoverItem, checking
// every member's type, presence and size (docs/ingest.md, "JSON form").
#include <algorithm>
#include <initializer_list>
#include <string>
#include <utility>

#include "delivery/ingest_json.hpp"
#include "ingest_json_internal.hpp"

namespace enclave::delivery {
namespace {

using json = nlohmann::json;
using crypto::Errc;
using crypto::Result;

constexpr std::size_t kMaxShortStringChars = 255;  // TS 103 280 ShortString
constexpr std::size_t kMaxBlobIdChars = 64;        // crypto/blob_store.hpp object ids

tl::unexpected<crypto::Error> bad(const std::string& path, const std::string& what,
                                  Errc code = Errc::malformed_input) {
    return crypto::fail(code, (path.empty() ? std::string("(top level)") : path) + ": " + what);
}

std::string member_path(const std::string& parent, std::string_view name) {
    return parent.empty() ? std::string(name) : parent + "." + std::string(name);
}

std::string index_path(const std::string& parent, std::size_t i) {
    return parent + "[" + std::to_string(i) + "]";
}

/// A character XML 1.0 cannot carry (C0 controls other than TAB, LF, CR;
/// U+FFFE, U+FFFF): the item could never be emitted.
bool has_non_xml_char(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return true;
        if (c == 0xef && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xbf &&
            (static_cast<unsigned char>(s[i + 2]) & 0xfe) == 0xbe) {
            return true;
        }
    }
    return false;
}

class Mapper {
public:
    explicit Mapper(const IngestLimits& limits) : lim_(limits) {}

    Result<IngestItem> item(const json& v, const std::string& path) {
        if (auto ok = members(v, path, {"idempotencyKey", "timestamp", "sender", "receivers", "binaries",
                                        "cspDefined", "applicationCorrelation"});
            !ok) {
            return tl::unexpected(ok.error());
        }
        IngestItem out;
        if (v.contains("idempotencyKey")) {
            auto key = idempotency_key(v["idempotencyKey"], member_path(path, "idempotencyKey"));
            if (!key) return tl::unexpected(key.error());
            out.idempotency_key = std::move(*key);
        }
        if (!v.contains("timestamp")) return bad(member_path(path, "timestamp"), "missing (required)");
        auto ts = text(v["timestamp"], member_path(path, "timestamp"), 40);
        if (!ts) return tl::unexpected(ts.error());
        if (!is_qualified_date_time(*ts)) {
            return bad(member_path(path, "timestamp"),
                       "not a QualifiedDateTime (YYYY-MM-DDThh:mm:ss[.ffffff] and Z or +hh:mm)");
        }
        out.item.timestamp = std::move(*ts);
        if (auto ok = parties(v, path, out.item); !ok) return tl::unexpected(ok.error());
        if (v.contains("binaries")) {
            if (auto ok = binaries(v["binaries"], member_path(path, "binaries"), out); !ok) {
                return tl::unexpected(ok.error());
            }
        }
        if (v.contains("cspDefined")) {
            auto csp = csp_defined(v["cspDefined"], member_path(path, "cspDefined"));
            if (!csp) return tl::unexpected(csp.error());
            out.item.csp_defined = std::move(*csp);
        }
        if (v.contains("applicationCorrelation")) {
            auto ac = correlation(v["applicationCorrelation"], member_path(path, "applicationCorrelation"));
            if (!ac) return tl::unexpected(ac.error());
            out.item.application_correlation = *ac;
        }
        return out;
    }

private:
    /// `v` is an object whose members are all in `allowed`.
    static Result<void> members(const json& v, const std::string& path,
                                std::initializer_list<std::string_view> allowed) {
        if (!v.is_object()) return bad(path, "must be an object");
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
                // Not named: an unknown member name may be content put in the wrong place.
                return bad(path, "unknown member (allowed: " + join(allowed) + ")");
            }
        }
        return {};
    }

    static std::string join(std::initializer_list<std::string_view> names) {
        std::string s;
        for (auto n : names) s += (s.empty() ? "" : ", ") + std::string(n);
        return s;
    }

    /// A string of 1..max_chars code points that XML can carry.
    static Result<std::string> text(const json& v, const std::string& path, std::size_t max_chars) {
        if (!v.is_string()) return bad(path, "must be a string");
        const auto& s = v.get_ref<const std::string&>();
        if (s.empty()) return bad(path, "must not be empty");
        if (detail::utf8_chars(s) > max_chars) {
            return bad(path, "longer than " + std::to_string(max_chars) + " characters", Errc::too_large);
        }
        if (has_non_xml_char(s)) return bad(path, "contains a character XML cannot carry");
        return s;
    }

    Result<std::string> idempotency_key(const json& v, const std::string& path) const {
        auto s = text(v, path, lim_.max_idempotency_key_chars);
        if (!s) return s;
        for (char c : *s) {
            if (c < 0x21 || c > 0x7e) return bad(path, "must be printable ASCII without spaces");
        }
        return s;
    }

    /// An array of at most `max` elements (empty allowed unless `min_one`).
    static Result<void> array(const json& v, const std::string& path, std::size_t max, bool min_one) {
        if (!v.is_array()) return bad(path, "must be an array");
        if (min_one && v.empty()) return bad(path, "must not be empty");
        if (v.size() > max) {
            return bad(path, "more than " + std::to_string(max) + " entries", Errc::too_large);
        }
        return {};
    }

    Result<PartyIdentifier> identifier(const json& v, const std::string& path) const {
        PartyIdentifier id;
        if (v.is_string()) {
            auto s = text(v, path, lim_.max_string_chars);
            if (!s) return tl::unexpected(s.error());
            id.value = std::move(*s);
            return id;
        }
        if (!v.is_object()) return bad(path, "must be a string or a {formatType, value} object");
        if (auto ok = members(v, path, {"formatType", "value"}); !ok) return tl::unexpected(ok.error());
        id.qualified = true;
        if (!v.contains("value")) return bad(member_path(path, "value"), "missing (required)");
        auto value = text(v["value"], member_path(path, "value"), lim_.max_string_chars);
        if (!value) return tl::unexpected(value.error());
        id.value = std::move(*value);
        if (v.contains("formatType")) {
            auto ft = text(v["formatType"], member_path(path, "formatType"), kMaxShortStringChars);
            if (!ft) return tl::unexpected(ft.error());
            id.format_type = std::move(*ft);
        }
        return id;
    }

    Result<MessagingParty> party(const json& v, const std::string& path) const {
        if (auto ok = members(v, path, {"identifiers", "isTargetedParty"}); !ok) return tl::unexpected(ok.error());
        MessagingParty p;
        const std::string ids_path = member_path(path, "identifiers");
        if (!v.contains("identifiers")) return bad(ids_path, "missing (required)");
        const json& ids = v["identifiers"];
        if (auto ok = array(ids, ids_path, lim_.max_identifiers, true); !ok) return tl::unexpected(ok.error());
        for (std::size_t i = 0; i < ids.size(); ++i) {
            auto id = identifier(ids[i], index_path(ids_path, i));
            if (!id) return tl::unexpected(id.error());
            p.identifiers.push_back(std::move(*id));
        }
        if (v.contains("isTargetedParty")) {
            const json& t = v["isTargetedParty"];
            if (!t.is_boolean()) return bad(member_path(path, "isTargetedParty"), "must be true or false");
            p.is_targeted_party = t.get<bool>();
        }
        return p;
    }

    Result<void> parties(const json& v, const std::string& path, HandoverItem& item) const {
        if (v.contains("sender")) {
            auto s = party(v["sender"], member_path(path, "sender"));
            if (!s) return tl::unexpected(s.error());
            item.message_sender = std::move(*s);
        }
        if (!v.contains("receivers")) return {};
        const std::string rpath = member_path(path, "receivers");
        const json& rs = v["receivers"];
        if (auto ok = array(rs, rpath, lim_.max_receivers, false); !ok) return ok;
        for (std::size_t i = 0; i < rs.size(); ++i) {
            auto r = party(rs[i], index_path(rpath, i));
            if (!r) return tl::unexpected(r.error());
            item.message_receivers.push_back(std::move(*r));
        }
        return {};
    }

    static Result<std::string> blob_id(const json& v, const std::string& path) {
        auto s = text(v, path, kMaxBlobIdChars);
        if (!s) return s;
        for (char c : *s) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '_';
            if (!ok) return bad(path, "not a blob id (1-64 of A-Z a-z 0-9 - _)");
        }
        return s;
    }

    Result<BinaryObject> binary(const json& v, const std::string& path) const {
        BinaryObject b;
        if (v.is_string()) {
            auto id = blob_id(v, path);
            if (!id) return tl::unexpected(id.error());
            b.blob_id = std::move(*id);
            return b;
        }
        if (!v.is_object()) return bad(path, "must be a blob id string or an {id, ...} object");
        if (auto ok = members(v, path, {"id", "originalFilename", "cspDefinedIdentifier"}); !ok) {
            return tl::unexpected(ok.error());
        }
        if (!v.contains("id")) return bad(member_path(path, "id"), "missing (required)");
        auto id = blob_id(v["id"], member_path(path, "id"));
        if (!id) return tl::unexpected(id.error());
        b.blob_id = std::move(*id);
        for (auto [name, slot] : {std::pair{"originalFilename", &b.original_filename},
                                  std::pair{"cspDefinedIdentifier", &b.csp_defined_identifier}}) {
            if (!v.contains(name)) continue;
            auto s = text(v[name], member_path(path, name), lim_.max_string_chars);
            if (!s) return tl::unexpected(s.error());
            *slot = std::move(*s);
        }
        return b;
    }

    Result<void> binaries(const json& v, const std::string& path, IngestItem& out) const {
        if (auto ok = array(v, path, lim_.max_binaries, false); !ok) return ok;
        for (std::size_t i = 0; i < v.size(); ++i) {
            auto b = binary(v[i], index_path(path, i));
            if (!b) return tl::unexpected(b.error());
            if (std::find(out.blob_ids.begin(), out.blob_ids.end(), b->blob_id) != out.blob_ids.end()) {
                return bad(index_path(path, i), "names the same blob as an earlier entry");
            }
            out.blob_ids.push_back(b->blob_id);
            out.item.associated_binary_data.push_back(std::move(*b));
        }
        return {};
    }

    Result<CspDefinedParameters> csp_defined(const json& v, const std::string& path) const {
        if (auto ok = members(v, path, {"schemaIdentifier", "schemaUrl", "xml"}); !ok) {
            return tl::unexpected(ok.error());
        }
        CspDefinedParameters c;
        if (!v.contains("schemaIdentifier")) {
            return bad(member_path(path, "schemaIdentifier"), "missing (required)");
        }
        auto id = text(v["schemaIdentifier"], member_path(path, "schemaIdentifier"), lim_.max_string_chars);
        if (!id) return tl::unexpected(id.error());
        c.schema_details.schema_identifier = std::move(*id);
        if (v.contains("schemaUrl")) {
            auto url = text(v["schemaUrl"], member_path(path, "schemaUrl"), lim_.max_string_chars);
            if (!url) return tl::unexpected(url.error());
            c.schema_details.schema_url = std::move(*url);
        }
        if (v.contains("xml")) {
            const std::string xpath = member_path(path, "xml");
            const json& x = v["xml"];
            if (x.is_string() && x.get_ref<const std::string&>().size() > lim_.max_csp_xml_bytes) {
                return bad(xpath, "longer than " + std::to_string(lim_.max_csp_xml_bytes) + " bytes",
                           Errc::too_large);
            }
            auto xml = text(x, xpath, lim_.max_csp_xml_bytes);
            if (!xml) return tl::unexpected(xml.error());
            c.xml = std::move(*xml);
        }
        return c;
    }

    static Result<ApplicationCorrelation> correlation(const json& v, const std::string& path) {
        if (auto ok = members(v, path, {"applicationLevelID", "applicationSequenceNumber"}); !ok) {
            return tl::unexpected(ok.error());
        }
        ApplicationCorrelation ac;
        for (auto [name, slot] : {std::pair{"applicationLevelID", &ac.application_level_id},
                                  std::pair{"applicationSequenceNumber", &ac.application_sequence_number}}) {
            const std::string p = member_path(path, name);
            if (!v.contains(name)) return bad(p, "missing (required)");
            const json& n = v[name];
            if (!n.is_number_unsigned()) return bad(p, "must be a non-negative integer");
            *slot = n.get<std::uint64_t>();
        }
        return ac;
    }

    const IngestLimits& lim_;
};

}  // namespace

Result<std::vector<IngestItem>> parse_ingest_items(std::string_view text, const IngestLimits& limits) {
    if (text.size() > limits.max_bytes) {
        return crypto::fail(Errc::too_large, "item JSON of " + std::to_string(text.size()) +
                                                 " bytes is over the limit of " +
                                                 std::to_string(limits.max_bytes));
    }
    auto doc = detail::parse_strict_json(text, limits.max_depth);
    if (!doc) return tl::unexpected(doc.error());
    Mapper mapper(limits);
    std::vector<IngestItem> items;
    if (doc->is_object()) {
        auto one = mapper.item(*doc, "");
        if (!one) return tl::unexpected(one.error());
        items.push_back(std::move(*one));
        return items;
    }
    if (!doc->is_array()) return bad("", "must be an item object or an array of them");
    if (doc->empty()) return bad("", "an empty array (no items)");
    if (doc->size() > limits.max_items) {
        return bad("", "more than " + std::to_string(limits.max_items) + " items", Errc::too_large);
    }
    items.reserve(doc->size());
    for (std::size_t i = 0; i < doc->size(); ++i) {
        auto one = mapper.item((*doc)[i], "[" + std::to_string(i) + "]");
        if (!one) return tl::unexpected(one.error());
        items.push_back(std::move(*one));
    }
    return items;
}

}  // namespace enclave::delivery
