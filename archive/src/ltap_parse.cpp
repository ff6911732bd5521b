// SPDX-License-Identifier: Apache-2.0
// LTAP XML -> messages. Runs only on documents that passed the hardened
// parse and the XSD (load_validated), so the walk trusts the structure and
// checks what the XSD cannot say: base64 and hex that decode, the total of
// RawData, a real date, a digest length that fits its algorithm, the
// GeneralErrorNotice a rejection needs. Errors name element and line only.
#include <charconv>
#include <string>

#include <libxml/tree.h>

#include "crypto/encoding.hpp"
#include "ltap_internal.hpp"

namespace enclave::archive {

using crypto::Errc;
using crypto::fail;
using namespace detail;

namespace {

std::string_view name_of(const xmlNode* n) { return reinterpret_cast<const char*>(n->name); }

template <class F>
crypto::Result<void> for_each_element(const xmlNode* parent, F&& f) {
    for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            if (auto ok = f(c, name_of(c)); !ok) {
                return ok;
            }
        }
    }
    return {};
}

// The element's own text (simple content: text and CDATA children only).
std::string text_of(const xmlNode* n) {
    std::string out;
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content != nullptr) {
            out += reinterpret_cast<const char*>(c->content);
        }
    }
    return out;
}

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// For the whiteSpace="collapse" types (anyURI, NMTOKEN, numbers, binary).
std::string trimmed(const xmlNode* n) {
    std::string s = text_of(n);
    std::size_t b = 0;
    std::size_t e = s.size();
    while (b < e && is_xml_space(s[b])) ++b;
    while (e > b && is_xml_space(s[e - 1])) --e;
    return s.substr(b, e - b);
}

std::string without_space(const xmlNode* n) {
    std::string s = text_of(n);
    std::erase_if(s, is_xml_space);
    return s;
}

template <class Int>
crypto::Result<Int> integer_of(const xmlNode* n) {
    std::string s = trimmed(n);
    std::string_view v(s);
    if (!v.empty() && v.front() == '+') v.remove_prefix(1);
    Int out{};
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || p != v.data() + v.size() || v.empty()) {
        return tl::unexpected(ltap_error(n, "not an integer in range"));
    }
    return out;
}

crypto::Result<crypto::Bytes> base64_of(const xmlNode* n) {
    auto bytes = crypto::base64_decode(without_space(n));
    if (!bytes) {
        return tl::unexpected(ltap_error(n, "bad base64"));
    }
    return bytes;
}

// Decoded size of base64 text without whitespace (before decoding it).
std::size_t decoded_size(const std::string& b64) {
    std::size_t pad = 0;
    for (auto it = b64.rbegin(); it != b64.rend() && *it == '=' && pad < 2; ++it) ++pad;
    return b64.size() / 4 * 3 - std::min(pad, b64.size() / 4 * 3);
}

ServiceType service_of(std::string_view s) {
    if (s == "status") return ServiceType::status;
    if (s == "verify") return ServiceType::verify;
    if (s == "export") return ServiceType::export_;
    if (s == "delete") return ServiceType::delete_;
    return ServiceType::archive;  // the XSD enumeration leaves nothing else
}

StatusInfo status_of(std::string_view s) {
    if (s == "granted") return StatusInfo::granted;
    if (s == "grantedWithMods") return StatusInfo::granted_with_mods;
    if (s == "rejection") return StatusInfo::rejection;
    return StatusInfo::waiting;
}

std::vector<MetaEntry> items_of(const xmlNode* parent) {
    std::vector<MetaEntry> out;
    for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        MetaEntry e;
        if (xmlChar* name = xmlGetNoNsProp(c, reinterpret_cast<const xmlChar*>("name")); name != nullptr) {
            e.name = reinterpret_cast<const char*>(name);
            xmlFree(name);
        }
        e.value = text_of(c);
        out.push_back(std::move(e));
    }
    return out;
}

crypto::Result<RequestInformation> info_of(const xmlNode* node) {
    RequestInformation info;
    auto ok = for_each_element(node, [&info](const xmlNode* c, std::string_view name) -> crypto::Result<void> {
        if (name == "Version") {
            info.version = trimmed(c);
        } else if (name == "Nonce") {
            auto nonce = crypto::hex_decode(trimmed(c));
            if (!nonce) return tl::unexpected(ltap_error(c, "bad hex"));
            info.nonce = std::move(*nonce);
        } else if (name == "SerialNumber") {
            auto serial = integer_of<std::int64_t>(c);
            if (!serial) return tl::unexpected(serial.error());
            info.serial_number = *serial;
        } else if (name == "RequestTime") {
            auto t = parse_time(trimmed(c));
            if (!t) return tl::unexpected(ltap_error(c, "not a valid UTC time"));
            info.request_time = *t;
        } else if (name == "RequestEntityIdentifier") {
            info.request_entities.push_back(text_of(c));
        } else if (name == "ServerEntityIdentifier") {
            info.server_entities.push_back(text_of(c));
        } else if (name == "ServiceType") {
            info.service = service_of(trimmed(c));
        } else if (name == "ServicePolicyInformation") {
            info.policies.push_back(trimmed(c));
        } else if (name == "ServiceConfiguration") {
            info.configuration = items_of(c);
        }
        return {};
    });
    if (!ok) return tl::unexpected(ok.error());
    return info;
}

crypto::Result<MessageImprint> imprint_of(const xmlNode* node) {
    MessageImprint m;
    const xmlNode* value_node = nullptr;
    auto ok = for_each_element(node, [&](const xmlNode* c, std::string_view name) -> crypto::Result<void> {
        if (name == "DigestAlgorithm") {
            m.digest_algorithm = trimmed(c);
        } else if (name == "DigestValue") {
            auto v = base64_of(c);
            if (!v) return tl::unexpected(v.error());
            m.digest_value = std::move(*v);
            value_node = c;
        }
        return {};
    });
    if (!ok) return tl::unexpected(ok.error());
    const std::size_t want = known_digest_length(m.digest_algorithm);
    if (want != 0 && m.digest_value.size() != want) {
        return tl::unexpected(ltap_error(value_node, "digest length does not fit the algorithm"));
    }
    return m;
}

struct RawBudget {
    std::size_t left;
};

crypto::Result<void> choice_of(const xmlNode* node, DataItem& item, RawBudget& budget) {
    return for_each_element(node, [&](const xmlNode* c, std::string_view name) -> crypto::Result<void> {
        if (name == "RawData") {
            const std::string b64 = without_space(c);
            if (decoded_size(b64) > budget.left) {
                return fail(Errc::too_large, "LTAP RawData (line " + std::to_string(line_of(c)) +
                                                 "): RawData over the limit for one message");
            }
            auto raw = crypto::base64_decode(b64);
            if (!raw) return tl::unexpected(ltap_error(c, "bad base64"));
            budget.left -= raw->size();
            item.raw_data = std::move(*raw);
        } else if (name == "Artifact") {
            item.artifact = text_of(c);
        } else if (name == "DataReference") {
            item.data_reference = trimmed(c);
        }
        return {};
    });
}

crypto::Result<DataItem> data_of(const xmlNode* node, RawBudget& budget) {
    DataItem item;
    auto ok = for_each_element(node, [&](const xmlNode* c, std::string_view name) -> crypto::Result<void> {
        if (name == "DataOrTransaction") {
            return choice_of(c, item, budget);
        }
        if (name == "MetaData") {
            item.metadata = items_of(c);
        } else if (name == "MessageImprint") {
            auto m = imprint_of(c);
            if (!m) return tl::unexpected(m.error());
            item.imprint = std::move(*m);
        } else if (name == "EvidenceRecord") {
            auto er = base64_of(c);
            if (!er) return tl::unexpected(er.error());
            item.evidence_record = std::move(*er);
        }
        return {};
    });
    if (!ok) return tl::unexpected(ok.error());
    return item;
}

template <class Notice>
Notice notice_of(const xmlNode* node, crypto::Result<void>& status) {
    Notice n;
    status = for_each_element(node, [&n](const xmlNode* c, std::string_view name) -> crypto::Result<void> {
        if (name.ends_with("Identification")) {
            auto id = integer_of<std::int32_t>(c);
            if (!id) return tl::unexpected(id.error());
            n.id = *id;
        } else if (name.ends_with("Information")) {
            n.information = text_of(c);
        }
        return {};
    });
    return n;
}

crypto::Result<OperationResponse> operation_of(const xmlNode* node, const LtapLimits& limits) {
    OperationResponse r;
    RawBudget budget{limits.max_raw_bytes};
    const xmlNode* status_node = nullptr;
    auto ok = for_each_element(node, [&](const xmlNode* c, std::string_view name) -> crypto::Result<void> {
        if (name == "RequestInformation") {
            auto info = info_of(c);
            if (!info) return tl::unexpected(info.error());
            r.info = std::move(*info);
        } else if (name == "Data") {
            auto item = data_of(c, budget);
            if (!item) return tl::unexpected(item.error());
            r.data.push_back(std::move(*item));
        } else if (name == "StatusInformation") {
            r.status = status_of(trimmed(c));
            status_node = c;
        } else if (name == "GeneralErrorNotice") {
            crypto::Result<void> st;
            r.error = notice_of<GeneralErrorNotice>(c, st);
            return st;
        }
        return {};
    });
    if (!ok) return tl::unexpected(ok.error());
    if ((r.status == StatusInfo::rejection || r.status == StatusInfo::granted_with_mods) && !r.error) {
        return tl::unexpected(ltap_error(status_node, "rejection and grantedWithMods need a GeneralErrorNotice"));
    }
    return r;
}

}  // namespace

crypto::Result<Request> parse_request(std::string_view xml, const LtapLimits& limits) {
    auto doc = load_validated(xml, LtapRoot::request, limits);
    if (!doc) return tl::unexpected(doc.error());
    Request request;
    RawBudget budget{limits.max_raw_bytes};
    auto ok = for_each_element(xmlDocGetRootElement(doc->get()), [&](const xmlNode* c, std::string_view name) {
        if (name == "RequestInformation") {
            auto info = info_of(c);
            if (!info) return crypto::Result<void>(tl::unexpected(info.error()));
            request.info = std::move(*info);
        } else if (name == "Data") {
            auto item = data_of(c, budget);
            if (!item) return crypto::Result<void>(tl::unexpected(item.error()));
            request.data.push_back(std::move(*item));
        }
        return crypto::Result<void>();
    });
    if (!ok) return tl::unexpected(ok.error());
    return request;
}

crypto::Result<Response> parse_response(std::string_view xml, const LtapLimits& limits) {
    auto doc = load_validated(xml, LtapRoot::response, limits);
    if (!doc) return tl::unexpected(doc.error());
    const xmlNode* top = xmlDocGetRootElement(doc->get());
    for (const xmlNode* c = top->children; c != nullptr; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        if (name_of(c) == "ErrorNotice") {
            crypto::Result<void> st;
            auto notice = notice_of<ErrorNotice>(c, st);
            if (!st) return tl::unexpected(st.error());
            return Response(std::move(notice));
        }
        auto op = operation_of(c, limits);
        if (!op) return tl::unexpected(op.error());
        return Response(std::move(*op));
    }
    return tl::unexpected(ltap_error(top, "no OperationResponse or ErrorNotice"));  // the XSD requires one
}

}  // namespace enclave::archive
