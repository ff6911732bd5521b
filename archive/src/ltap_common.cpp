// SPDX-License-Identifier: Apache-2.0
// The LTAP codec's shared part: names, the compiled schema, the
// parse-and-validate pipeline, RequestTime.
#include <array>
#include <charconv>
#include <cstdio>
#include <mutex>

#include <libxml/tree.h>

#include "ltap_internal.hpp"

#ifndef ENCLAVE_ARCHIVE_SCHEMA_DIR
#error "ENCLAVE_ARCHIVE_SCHEMA_DIR must be defined by the build"
#endif

namespace enclave::archive {

using crypto::Errc;
using crypto::fail;

std::string_view to_string(ServiceType t) noexcept {
    switch (t) {
        case ServiceType::archive:
            return "archive";
        case ServiceType::status:
            return "status";
        case ServiceType::verify:
            return "verify";
        case ServiceType::export_:
            return "export";
        case ServiceType::delete_:
            return "delete";
    }
    return "?";
}

std::string_view to_string(StatusInfo s) noexcept {
    switch (s) {
        case StatusInfo::waiting:
            return "waiting";
        case StatusInfo::granted:
            return "granted";
        case StatusInfo::granted_with_mods:
            return "grantedWithMods";
        case StatusInfo::rejection:
            return "rejection";
    }
    return "?";
}

// An installed program (the Debian package's /usr/bin/enclaved) carries the
// schema in <prefix>/share/enclave/schemas/archive/ltap.xsd, <prefix> being
// the folder above the program's own (as delivery's SchemaPaths::defaults()
// finds its schemas); a program in the build tree uses the source folder.
std::filesystem::path ltap_schema_file() {
    static const std::filesystem::path file = [] {
        std::error_code ec;
        const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
        if (!ec) {
            auto installed = exe.parent_path().parent_path() / "share" / "enclave" / "schemas" /
                             "archive" / "ltap.xsd";
            if (std::filesystem::is_regular_file(installed, ec)) return installed;
        }
        return std::filesystem::path(ENCLAVE_ARCHIVE_SCHEMA_DIR) / "ltap.xsd";
    }();
    return file;
}

crypto::Result<void> check_ltap_schema() {
    auto schema = detail::ltap_schema();
    if (!schema) {
        return tl::unexpected(schema.error());
    }
    return {};
}

namespace detail {

namespace {

bool is_ltap_element(const xmlNode* n, const char* name) {
    return n != nullptr && n->type == XML_ELEMENT_NODE && n->ns != nullptr && n->ns->href != nullptr &&
           std::string_view(reinterpret_cast<const char*>(n->ns->href)) == kLtapNamespace &&
           std::string_view(reinterpret_cast<const char*>(n->name)) == name;
}

std::size_t count_children(const xmlNode* parent, const char* name) {
    std::size_t n = 0;
    for (const xmlNode* c = parent != nullptr ? parent->children : nullptr; c != nullptr; c = c->next) {
        n += is_ltap_element(c, name) ? 1 : 0;
    }
    return n;
}

const xmlNode* first_child(const xmlNode* parent, const char* name) {
    for (const xmlNode* c = parent != nullptr ? parent->children : nullptr; c != nullptr; c = c->next) {
        if (is_ltap_element(c, name)) {
            return c;
        }
    }
    return nullptr;
}

// Deep enough for Response/OperationResponse/Data/DataOrTransaction/RawData
// and a little slack for the validator to name what is wrong; the node
// bound allows 64 full Data items (about 300 nodes each).
delivery::XmlLimits xml_limits(const LtapLimits& limits) {
    delivery::XmlLimits x;
    x.max_bytes = limits.max_bytes;
    x.max_depth = 12;
    x.max_nodes = 100'000;
    return x;
}

}  // namespace

std::string_view root_name(LtapRoot root) noexcept { return root == LtapRoot::request ? "Request" : "Response"; }

crypto::Result<std::shared_ptr<const delivery::SchemaSet>> ltap_schema() {
    static std::once_flag once;
    static crypto::Result<std::shared_ptr<const delivery::SchemaSet>> result =
        fail(Errc::internal, "LTAP schema not loaded");
    std::call_once(once, [] { result = delivery::SchemaSet::load_file(ltap_schema_file()); });
    return result;
}

long line_of(const _xmlNode* node) noexcept { return node != nullptr ? xmlGetLineNo(node) : 0; }

crypto::Error ltap_error(const _xmlNode* node, std::string_view rule) {
    std::string where = "LTAP ";
    where += node != nullptr && node->name != nullptr ? reinterpret_cast<const char*>(node->name) : "message";
    where += " (line " + std::to_string(line_of(node)) + "): ";
    where += rule;
    return crypto::Error(Errc::malformed_input, std::move(where));
}

crypto::Result<delivery::XmlDocument> load_validated(std::string_view xml, LtapRoot root, const LtapLimits& limits) {
    auto schema = ltap_schema();
    if (!schema) {
        return tl::unexpected(schema.error());
    }
    auto doc = delivery::parse_xml(xml, xml_limits(limits));
    if (!doc) {
        return tl::unexpected(doc.error().wrap("LTAP"));
    }
    const std::string name(root_name(root));
    const xmlNode* top = xmlDocGetRootElement(doc->get());
    if (!is_ltap_element(top, name.c_str())) {
        return fail(Errc::malformed_input, "LTAP: the root element (line " + std::to_string(line_of(top)) +
                                               ") is not " + name + " in namespace " + std::string(kLtapNamespace));
    }
    // Counted before validation so that too many items reads as too_large.
    const xmlNode* holder = root == LtapRoot::request ? top : first_child(top, "OperationResponse");
    const std::size_t cap = std::min<std::size_t>(limits.max_data_items, kMaxLtapDataItems);
    if (count_children(holder, "Data") > cap) {
        return fail(Errc::too_large, "LTAP " + name + ": more than " + std::to_string(cap) + " Data elements");
    }
    if (auto ok = (*schema)->validate(*doc); !ok) {
        return tl::unexpected(ok.error().wrap("LTAP " + name));
    }
    return doc;
}

namespace {

using namespace std::chrono;

int digits(std::string_view s, std::size_t pos, std::size_t n) {
    int v = 0;
    const auto [p, ec] = std::from_chars(s.data() + pos, s.data() + pos + n, v);
    return ec == std::errc() && p == s.data() + pos + n ? v : -1;
}

}  // namespace

crypto::Result<std::string> format_time(Millis t) {
    const auto day = floor<days>(t);
    const year_month_day ymd(day);
    const int y = static_cast<int>(ymd.year());
    if (y < 1 || y > 9999) {
        return fail(Errc::invalid_argument, "LTAP RequestTime: year outside 0001-9999");
    }
    const hh_mm_ss<milliseconds> hms(t - day);
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y,
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
    return std::string(buf.data());
}

crypto::Result<Millis> parse_time(std::string_view text) {
    // The XSD pattern fixed the shape: YYYY-MM-DDTHH:MM:SS.mmmZ.
    if (text.size() != 24) {
        return fail(Errc::malformed_input, "LTAP RequestTime: not YYYY-MM-DDTHH:MM:SS.mmmZ");
    }
    const int y = digits(text, 0, 4);
    const int mo = digits(text, 5, 2);
    const int d = digits(text, 8, 2);
    const int h = digits(text, 11, 2);
    const int mi = digits(text, 14, 2);
    const int s = digits(text, 17, 2);
    const int ms = digits(text, 20, 3);
    const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
    if (y < 1 || mo < 1 || d < 1 || !ymd.ok() || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 || ms < 0) {
        return fail(Errc::malformed_input, "LTAP RequestTime: not a valid UTC time");
    }
    return Millis(sys_days(ymd).time_since_epoch() + hours(h) + minutes(mi) + seconds(s) + milliseconds(ms));
}

std::size_t known_digest_length(std::string_view uri) noexcept {
    if (uri == "http://www.w3.org/2001/04/xmlenc#sha256") {
        return 32;
    }
    if (uri == "http://www.w3.org/2001/04/xmldsig-more#sha384") {
        return 48;
    }
    if (uri == "http://www.w3.org/2001/04/xmlenc#sha512") {
        return 64;
    }
    return 0;
}

}  // namespace detail
}  // namespace enclave::archive
