// SPDX-License-Identifier: Apache-2.0
// Reading an LITaskObject / LDTaskObject of a CREATE or UPDATE: reference,
// validity, desired status, delivery hint, and each target value with its
// salted hash from the project's NationalHandlingParameters extension.
// Values and salts go from the libxml2 text nodes straight into Secrets.

#include <cstring>

#include "crypto/encoding.hpp"
#include "crypto/salted_hash.hpp"
#include "hi1_task_internal.hpp"

namespace enclave::delivery::detail {

using crypto::Errc;
using hi1_error::kInvalidTask;
using hi1_error::kUnsupported;

namespace {

bool is_text_node(const xmlNode* n) noexcept {
    return n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE;
}

// The element's text (its text children, concatenated) in secure memory.
// Empty Secret for an empty element.
crypto::Secret secret_text(const xmlNode* el) {
    std::size_t total = 0;
    for (const xmlNode* c = el->children; c != nullptr; c = c->next) {
        if (is_text_node(c) && c->content != nullptr) {
            total += std::strlen(cstr(c->content));
        }
    }
    if (total == 0) {
        return {};
    }
    crypto::Secret out(total);
    std::size_t at = 0;
    for (const xmlNode* c = el->children; c != nullptr; c = c->next) {
        if (is_text_node(c) && c->content != nullptr) {
            const std::size_t n = std::strlen(cstr(c->content));
            std::memcpy(out.data() + at, c->content, n);
            at += n;
        }
    }
    return out;
}

std::string_view view_of(const crypto::Secret& s) noexcept {
    return {reinterpret_cast<const char*>(s.data()), s.size()};
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

struct HashEntry {
    std::string path;
    std::string algorithm;
    crypto::SaltedHashAlg alg{};
    crypto::Secret salt;
    crypto::Bytes hash;
};

// One enc:SaltedHash; `count` is the number of values of the object.
Read<std::pair<std::size_t, HashEntry>> read_hash_entry(xmlNode* sh, const std::string& path, std::size_t count) {
    auto index = parse_u64(text_of(child(sh, kTaskExtensionNs, "ValueIndex")), path + "/ValueIndex");
    if (!index) {
        return refuse(kInvalidTask, Errc::malformed_input, index.error().context());
    }
    if (*index >= count) {
        return refuse(kInvalidTask, Errc::invalid_argument,
                      path + "/ValueIndex: value " + std::to_string(*index) + " out of range (the object has " +
                          std::to_string(count) + " value(s))");
    }
    HashEntry e;
    e.path = path;
    e.algorithm = text_trimmed(child(sh, kTaskExtensionNs, "Algorithm"));
    const auto alg = crypto::salted_hash_from_name(e.algorithm);
    if (!alg) {  // the schema's enumeration makes this unreachable; keep the check
        return refuse(kInvalidTask, Errc::unsupported_algorithm, path + "/Algorithm: not a supported algorithm");
    }
    e.alg = *alg;
    {
        const crypto::Secret salt_hex = secret_text(child(sh, kTaskExtensionNs, "Salt"));
        auto salt = crypto::hex_decode_secret(trim(view_of(salt_hex)));
        if (!salt) {
            return refuse(kInvalidTask, Errc::malformed_input, path + "/Salt: not hex");
        }
        e.salt = std::move(*salt);
    }
    if (e.salt.size() < crypto::kMinSaltBytes) {
        return refuse(kInvalidTask, Errc::salt_too_short,
                      path + "/Salt: " + std::to_string(e.salt.size()) + " bytes, at least 16 required");
    }
    if (e.salt.size() > crypto::kMaxSaltBytes) {
        return refuse(kInvalidTask, Errc::too_large, path + "/Salt: over 1024 bytes");
    }
    auto hash = crypto::hex_decode(text_trimmed(child(sh, kTaskExtensionNs, "Hash")));
    if (!hash) {
        return refuse(kInvalidTask, Errc::malformed_input, path + "/Hash: not hex");
    }
    if (hash->size() != crypto::salted_hash_size(e.alg)) {
        return refuse(kInvalidTask, Errc::invalid_argument,
                      path + "/Hash: " + std::to_string(hash->size()) + " bytes, " + e.algorithm + " gives " +
                          std::to_string(crypto::salted_hash_size(e.alg)));
    }
    e.hash = std::move(*hash);
    return std::pair<std::size_t, HashEntry>{static_cast<std::size_t>(*index), std::move(e)};
}

// The salted hashes of the object, by value index.
Read<std::vector<std::optional<HashEntry>>> read_hashes(xmlNode* object, const std::string& path, std::size_t count) {
    std::vector<std::optional<HashEntry>> out(count);
    xmlNode* nhp = child(object, kCoreNs, "NationalHandlingParameters");
    if (nhp == nullptr || xsi_type(nhp) != std::pair<std::string, std::string>{kTaskExtensionNs, "SaltedHashParameters"}) {
        return out;  // every value then lacks its hash: the caller names the first
    }
    std::size_t k = 0;
    for (xmlNode* sh = first_element(nhp); sh != nullptr; sh = next_element(sh)) {
        if (!is_element(sh, kTaskExtensionNs, "SaltedHash")) {
            continue;  // CountryCode
        }
        const std::string sh_path = path + "/NationalHandlingParameters/SaltedHash[" + std::to_string(k++) + "]";
        auto entry = read_hash_entry(sh, sh_path, count);
        if (!entry) {
            return tl::unexpected(entry.error());
        }
        if (out[entry->first]) {
            return refuse(kInvalidTask, Errc::invalid_argument,
                          sh_path + ": a second salted hash for value " + std::to_string(entry->first) + " (first in " +
                              out[entry->first]->path + ")");
        }
        out[entry->first] = std::move(entry->second);
    }
    return out;
}

struct ValueNodes {
    std::string base;  // "TargetIdentifier/TargetIdentifierValues/TargetIdentifierValue"
    std::vector<xmlNode*> nodes;
};

ValueNodes value_nodes(xmlNode* object, ReferenceKind kind) {
    ValueNodes v;
    xmlNode* list = nullptr;
    const char* item = nullptr;
    if (kind == ReferenceKind::liid) {
        v.base = "TargetIdentifier/TargetIdentifierValues/TargetIdentifierValue";
        list = child(child(object, kTaskNs, "TargetIdentifier"), kTaskNs, "TargetIdentifierValues");
        item = "TargetIdentifierValue";
    } else {
        v.base = "RequestDetails/RequestValues/RequestValue";
        list = child(child(object, kTaskNs, "RequestDetails"), kTaskNs, "RequestValues");
        item = "RequestValue";
    }
    for (xmlNode* c = first_element(list); c != nullptr; c = next_element(c)) {
        if (is_element(c, kTaskNs, item)) {
            v.nodes.push_back(c);
        }
    }
    return v;
}

Read<Hi1TaskField> read_field(xmlNode* node, std::size_t index, HashEntry& h, const std::string& vpath) {
    Hi1TaskField f;
    f.index = index;
    xmlNode* format = child(node, kTaskNs, "FormatType");
    f.format_owner = text_of(child(format, kTaskNs, "FormatOwner"));
    f.format_name = text_of(child(format, kTaskNs, "FormatName"));
    f.value = secret_text(child(node, kTaskNs, "Value"));
    if (f.value.empty()) {
        return refuse(kInvalidTask, Errc::invalid_argument, vpath + "/Value: empty");
    }
    if (auto ok = crypto::verify_salted_hash(h.alg, h.salt.view(), view_of(f.value), h.hash); !ok) {
        const bool mismatch = ok.error().code() == Errc::hash_mismatch;
        return refuse(kInvalidTask, ok.error().code(),
                      vpath + (mismatch ? ": the salted hash does not match the value"
                                        : ": salted hash check failed: " + ok.error().context()));
    }
    f.algorithm = std::move(h.algorithm);
    f.salt = std::move(h.salt);
    f.hash = std::move(h.hash);
    return f;
}

Read<std::vector<Hi1TaskField>> read_fields(xmlNode* object, ReferenceKind kind, bool create, const std::string& path) {
    const ValueNodes v = value_nodes(object, kind);
    if (v.nodes.size() > kMaxHi1TaskValues) {
        return refuse(kInvalidTask, Errc::too_large, path + ": over 64 target values");
    }
    if (create && v.nodes.empty()) {
        return refuse(kInvalidTask, Errc::invalid_argument, path + ": no target value (" + v.base + ")");
    }
    auto hashes = read_hashes(object, path, v.nodes.size());
    if (!hashes) {
        return tl::unexpected(hashes.error());
    }
    std::vector<Hi1TaskField> fields;
    for (std::size_t i = 0; i < v.nodes.size(); ++i) {
        const std::string vpath = path + "/" + v.base + "[" + std::to_string(i) + "]";
        if (!(*hashes)[i]) {
            return refuse(kInvalidTask, Errc::invalid_argument, vpath + ": no salted hash in NationalHandlingParameters");
        }
        auto f = read_field(v.nodes[i], i, *(*hashes)[i], vpath);
        if (!f) {
            return tl::unexpected(f.error());
        }
        fields.push_back(std::move(*f));
    }
    return fields;
}

// QualifiedDateTime restricted to UTC: "YYYY-MM-DDTHH:MM:SSZ" (the schema
// checked the digits; an offset is refused so the lead's UTC parser never
// sees one).
Read<std::optional<std::string>> read_time(xmlNode* parent, const char* name, const std::string& path) {
    xmlNode* n = child(parent, kTaskNs, name);
    if (n == nullptr) {
        return std::optional<std::string>{};
    }
    std::string t = text_trimmed(n);
    if (t.size() != 20 || t.back() != 'Z') {
        return refuse(kInvalidTask, Errc::invalid_argument,
                      path + "/" + name + ": only UTC times (\"YYYY-MM-DDTHH:MM:SSZ\") are accepted");
    }
    return std::optional<std::string>{std::move(t)};
}

Read<void> read_validity(xmlNode* object, Hi1TaskObject& task, bool create, const std::string& path) {
    const bool li = task.kind == ReferenceKind::liid;
    xmlNode* parent = child(object, kTaskNs, li ? "Timespan" : "RequestDetails");
    const std::string ppath = path + (li ? "/Timespan" : "/RequestDetails");
    auto start = read_time(parent, "StartTime", ppath);
    if (!start) {
        return tl::unexpected(start.error());
    }
    auto end = read_time(parent, "EndTime", ppath);
    if (!end) {
        return tl::unexpected(end.error());
    }
    if (create && (!*start || !*end)) {
        return refuse(kInvalidTask, Errc::invalid_argument, ppath + ": StartTime and EndTime are required");
    }
    if (*start && *end && !(**start < **end)) {  // same fixed-width UTC form: text order is time order
        return refuse(kInvalidTask, Errc::invalid_argument, ppath + ": EndTime is not after StartTime");
    }
    task.start = std::move(*start);
    task.end = std::move(*end);
    return {};
}

Read<void> read_status_and_hint(xmlNode* object, Hi1TaskObject& task, const std::string& path) {
    const bool li = task.kind == ReferenceKind::liid;
    if (xmlNode* ds = child(object, kTaskNs, "DesiredStatus"); ds != nullptr) {
        const char* dict = li ? "TaskDesiredStatus" : "LDTaskDesiredStatus";
        if (text_of(child(ds, kCommonNs, "Owner")) != "ETSI" || text_of(child(ds, kCommonNs, "Name")) != dict) {
            return refuse(kInvalidTask, Errc::invalid_argument,
                          path + "/DesiredStatus: not an entry of the ETSI " + dict + " dictionary");
        }
        task.desired_status = text_of(child(ds, kCommonNs, "Value"));
    }
    xmlNode* details = child(object, kTaskNs, "DeliveryDetails");
    xmlNode* dest = first_element(details);
    if (dest == nullptr) {
        return {};
    }
    if (next_element(dest) != nullptr) {
        return refuse(kUnsupported, Errc::invalid_argument,
                      path + "/DeliveryDetails: only one delivery destination is supported");
    }
    xmlNode* address = first_element(child(dest, kTaskNs, "DeliveryAddress"));
    if (address != nullptr) {
        Hi1DeliveryHint hint;
        hint.address_type = safe_name(address->name);
        hint.value = is_element(address, kTaskNs, "EndpointID") ? text_of(child(address, kCoreNs, "UniqueIdentifier"))
                                                                : text_trimmed(address);
        task.delivery_hint = std::move(hint);
    }
    return {};
}

// Task elements that ask for behaviour Enclave does not have: refused rather
// than silently ignored (the LEA would believe them in force).
Read<void> refuse_unsupported_elements(xmlNode* object, const std::string& path) {
    static constexpr const char* kRefused[] = {
        "ListOfTrafficPolicyReferences", "ListOfIRIPolicyReferences", "NationalLITaskingParameters",
        "NationalLDTaskingParameters",   "HandlingProfile",           "Flags",
    };
    for (const char* name : kRefused) {
        if (child(object, kTaskNs, name) != nullptr) {
            return refuse(kUnsupported, Errc::invalid_argument, path + "/" + name + ": not supported by Enclave");
        }
    }
    return {};
}

bool updates_something(const Hi1TaskObject& t) {
    return t.reference || t.start || t.end || t.desired_status || t.delivery_hint || !t.fields.empty();
}

}  // namespace

std::pair<std::string, std::string> xsi_type(xmlNode* node) {
    xmlChar* raw = xmlGetNsProp(node, xstr("type"), xstr(kXsiNs));
    if (raw == nullptr) {
        return {};
    }
    const std::string qname(cstr(raw));
    xmlFree(raw);
    const auto colon = qname.find(':');
    const std::string prefix = colon == std::string::npos ? std::string() : qname.substr(0, colon);
    const std::string local = colon == std::string::npos ? qname : qname.substr(colon + 1);
    xmlNs* ns = xmlSearchNs(node->doc, node, prefix.empty() ? nullptr : xstr(prefix.c_str()));
    if (ns == nullptr || ns->href == nullptr) {
        return {};
    }
    return {cstr(ns->href), local};
}

Read<Hi1TaskObject> read_task_object(xmlNode* object, ReferenceKind kind, bool create, const std::string& path) {
    Hi1TaskObject task;
    task.kind = kind;
    task.object_id = text_trimmed(child(object, kCoreNs, "ObjectIdentifier"));
    if (auto ok = refuse_unsupported_elements(object, path); !ok) {
        return tl::unexpected(ok.error());
    }
    if (xmlNode* ref = child(object, kTaskNs, "Reference"); ref != nullptr) {
        task.reference = text_of(ref);
    } else if (create) {
        return refuse(kInvalidTask, Errc::invalid_argument,
                      path + ": no Reference (" + (kind == ReferenceKind::liid ? "LIID" : "LDID") + ")");
    }
    auto fields = read_fields(object, kind, create, path);
    if (!fields) {
        return tl::unexpected(fields.error());
    }
    task.fields = std::move(*fields);
    if (auto ok = read_validity(object, task, create, path); !ok) {
        return tl::unexpected(ok.error());
    }
    if (auto ok = read_status_and_hint(object, task, path); !ok) {
        return tl::unexpected(ok.error());
    }
    if (!create && !updates_something(task)) {
        return refuse(kUnsupported, Errc::invalid_argument,
                      path + ": the UPDATE changes nothing Enclave supports (Reference, validity, DesiredStatus, "
                             "delivery destination, target values)");
    }
    return task;
}

namespace {

void wipe_element_text(xmlDoc* doc, xmlNode* el) noexcept {
    for (xmlNode* c = el->children; c != nullptr; c = c->next) {
        if (!is_text_node(c) || c->content == nullptr) {
            continue;
        }
        // Text interned in the document's dictionary is shared with other
        // nodes (libxml2 does that for very short strings): not ours to wipe.
        if (doc->dict != nullptr && xmlDictOwns(doc->dict, c->content) == 1) {
            continue;
        }
        crypto::wipe(crypto::MutableByteView(c->content, std::strlen(cstr(c->content))));
    }
}

void wipe_walk(xmlDoc* doc, xmlNode* node, std::size_t depth) noexcept {
    if (depth > 256) {  // parse_xml bounds depth far below this
        return;
    }
    for (xmlNode* c = node; c != nullptr; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (is_element(c, kTaskNs, "Value") || is_element(c, kTaskExtensionNs, "Salt")) {
            wipe_element_text(doc, c);
        } else {
            wipe_walk(doc, c->children, depth + 1);
        }
    }
}

}  // namespace

void wipe_sensitive_text(xmlDoc* doc) noexcept {
    if (doc != nullptr) {
        wipe_walk(doc, xmlDocGetRootElement(doc), 0);
    }
}

}  // namespace enclave::delivery::detail
