// SPDX-License-Identifier: Apache-2.0
#include "hsm/uri.hpp"

#include <charconv>
#include <cstring>
#include <limits>

namespace enclave::hsm {
namespace {

using crypto::Bytes;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

bool is_unreserved(unsigned char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

// RFC 7512 p11-res-avail, plus "&" in the path and "/" "?" "|" in the query.
bool allowed_in_value(unsigned char c, bool query) noexcept {
    if (is_unreserved(c)) {
        return true;
    }
    if (c != '\0' && std::strchr(":[]@!$'()*+,=", c) != nullptr) {
        return true;
    }
    return query ? (c == '/' || c == '?' || c == '|') : c == '&';
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string at(std::size_t offset) { return " (at offset " + std::to_string(offset) + ")"; }

std::string quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

// Decodes one attribute value; `offset` is where it starts in the whole URI.
Result<Bytes> decode_value(std::string_view name, std::string_view raw, std::size_t offset,
                           bool query) {
    if (raw.empty()) {
        return fail(Errc::malformed_input,
                    "pkcs11 URI attribute " + quoted(name) + " has an empty value");
    }
    Bytes out;
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const auto c = static_cast<unsigned char>(raw[i]);
        if (c == '%') {
            const int hi = i + 1 < raw.size() ? hex_value(raw[i + 1]) : -1;
            const int lo = i + 2 < raw.size() ? hex_value(raw[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return fail(Errc::malformed_input, "pkcs11 URI attribute " + quoted(name) +
                                                       " has a bad percent escape" +
                                                       at(offset + i));
            }
            out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
            i += 2;
            continue;
        }
        if (!allowed_in_value(c, query)) {
            return fail(Errc::malformed_input,
                        "pkcs11 URI attribute " + quoted(name) +
                            " contains a character that must be percent-encoded" +
                            at(offset + i));
        }
        out.push_back(c);
    }
    return out;
}

// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF):
// PKCS#11 labels are CK_UTF8CHAR.
bool valid_utf8(const Bytes& v) noexcept {
    std::size_t i = 0;
    while (i < v.size()) {
        const unsigned c = v[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t n = 0;  // continuation bytes
        unsigned cp = 0;
        unsigned min = 0;
        if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (i + n >= v.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            if ((v[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (v[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n + 1;
    }
    return true;
}

// A decoded text value: bounded, valid UTF-8, and free of control characters
// (a NUL or a newline in a label is a smuggling attempt, not a label).
Result<std::string> text_value(std::string_view name, const Bytes& v, std::size_t max) {
    if (v.size() > max) {
        return fail(Errc::malformed_input, "pkcs11 URI attribute " + quoted(name) +
                                               " is longer than " + std::to_string(max) +
                                               " bytes");
    }
    for (auto c : v) {
        if (c < 0x20 || c == 0x7f) {
            return fail(Errc::malformed_input,
                        "pkcs11 URI attribute " + quoted(name) + " contains a control character");
        }
    }
    if (!valid_utf8(v)) {
        return fail(Errc::malformed_input,
                    "pkcs11 URI attribute " + quoted(name) + " is not valid UTF-8");
    }
    return std::string(v.begin(), v.end());
}

Result<unsigned long> decimal(std::string_view name, const Bytes& v, unsigned long max) {
    unsigned long out = 0;
    const auto* first = reinterpret_cast<const char*>(v.data());
    const auto* last = first + v.size();
    auto [ptr, ec] = std::from_chars(first, last, out, 10);
    if (ec != std::errc() || ptr != last || out > max || v.empty() || v[0] == '+') {
        return fail(Errc::malformed_input,
                    "pkcs11 URI attribute " + quoted(name) + " is not a decimal number in range");
    }
    return out;
}

Result<CK_VERSION> parse_version(const Bytes& v) {
    std::string_view s(reinterpret_cast<const char*>(v.data()), v.size());
    const auto dot = s.find('.');
    const Bytes major(v.begin(), v.begin() + static_cast<long>(std::min(dot, s.size())));
    auto ma = decimal("library-version", major, 255);
    if (!ma) return tl::unexpected(ma.error());
    CK_VERSION out{static_cast<CK_BYTE>(*ma), 0};
    if (dot != std::string_view::npos) {
        const Bytes minor(v.begin() + static_cast<long>(dot) + 1, v.end());
        auto mi = decimal("library-version", minor, 255);
        if (!mi) return tl::unexpected(mi.error());
        out.minor = static_cast<CK_BYTE>(*mi);
    }
    return out;
}

Result<ObjectType> parse_type(const Bytes& v) {
    const std::string s(v.begin(), v.end());
    for (auto t : {ObjectType::public_key, ObjectType::private_key, ObjectType::secret_key,
                   ObjectType::certificate, ObjectType::data}) {
        if (s == object_type_name(t)) {
            return t;
        }
    }
    return fail(Errc::malformed_input,
                "pkcs11 URI attribute 'type' must be public, private, secret-key, cert or data");
}

Result<std::string> module_name_value(const Bytes& v) {
    auto s = text_value("module-name", v, 255);
    if (!s) return s;
    for (char c : *s) {
        if (!is_unreserved(static_cast<unsigned char>(c))) {
            return fail(Errc::malformed_input,
                        "pkcs11 URI attribute 'module-name' may hold only letters, digits, "
                        "'-', '.', '_' and '~'");
        }
    }
    return s;
}

Result<std::string> module_path_value(const Bytes& v) {
    auto s = text_value("module-path", v, 4095);
    if (!s) return s;
    if (s->front() != '/') {
        return fail(Errc::malformed_input,
                    "pkcs11 URI attribute 'module-path' must be an absolute path");
    }
    return s;
}

template <class T>
Result<void> set_once(std::optional<T>& field, Result<T> value, std::string_view name) {
    if (!value) {
        return tl::unexpected(value.error());
    }
    if (field.has_value()) {
        return fail(Errc::malformed_input,
                    "pkcs11 URI attribute " + quoted(name) + " appears more than once");
    }
    field = std::move(*value);
    return {};
}

Result<void> apply_path(Uri& u, std::string_view name, const Bytes& v) {
    if (name == "token") return set_once(u.token, text_value(name, v, 32), name);
    if (name == "manufacturer") return set_once(u.manufacturer, text_value(name, v, 32), name);
    if (name == "serial") return set_once(u.serial, text_value(name, v, 16), name);
    if (name == "model") return set_once(u.model, text_value(name, v, 16), name);
    if (name == "library-manufacturer")
        return set_once(u.library_manufacturer, text_value(name, v, 32), name);
    if (name == "library-description")
        return set_once(u.library_description, text_value(name, v, 32), name);
    if (name == "library-version") return set_once(u.library_version, parse_version(v), name);
    if (name == "slot-description")
        return set_once(u.slot_description, text_value(name, v, 64), name);
    if (name == "slot-manufacturer")
        return set_once(u.slot_manufacturer, text_value(name, v, 32), name);
    if (name == "slot-id") {
        auto n = decimal(name, v, std::numeric_limits<CK_SLOT_ID>::max());
        if (!n) return tl::unexpected(n.error());
        return set_once(u.slot_id, Result<CK_SLOT_ID>(*n), name);
    }
    if (name == "object") return set_once(u.object, text_value(name, v, 255), name);
    if (name == "id") {
        if (v.size() > 255) {
            return fail(Errc::malformed_input, "pkcs11 URI attribute 'id' is longer than 255 bytes");
        }
        return set_once(u.id, Result<Bytes>(v), name);
    }
    if (name == "type") return set_once(u.type, parse_type(v), name);
    return fail(Errc::malformed_input,
                "pkcs11 URI path attribute " + quoted(name) + " is not supported");
}

Result<void> apply_query(Uri& u, std::string_view name, const Bytes& v) {
    if (name == "module-name") return set_once(u.module_name, module_name_value(v), name);
    if (name == "module-path") return set_once(u.module_path, module_path_value(v), name);
    if (name == "pin-source") return set_once(u.pin_source, text_value(name, v, 4095), name);
    return fail(Errc::malformed_input,
                "pkcs11 URI query attribute " + quoted(name) + " is not supported");
}

bool valid_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    return true;
}

// Parses "name=value" elements of one component separated by `sep`.
Result<void> parse_component(Uri& u, std::string_view text, std::size_t offset, char sep,
                             bool query) {
    std::size_t pos = 0;
    while (true) {
        const auto end = std::min(text.find(sep, pos), text.size());
        const auto element = text.substr(pos, end - pos);
        const auto eq = element.find('=');
        const auto name = element.substr(0, std::min(eq, element.size()));
        if (name == "pin-value") {
            return fail(Errc::invalid_argument,
                        "pkcs11 URI contains 'pin-value': PINs are never accepted in URIs; "
                        "read the PIN from a file, stdin or an environment variable");
        }
        if (eq == std::string_view::npos || !valid_name(name)) {
            return fail(Errc::malformed_input,
                        "pkcs11 URI has an element that is not name=value" + at(offset + pos));
        }
        auto value = decode_value(name, element.substr(eq + 1), offset + pos + eq + 1, query);
        if (!value) return tl::unexpected(value.error());
        auto applied = query ? apply_query(u, name, *value) : apply_path(u, name, *value);
        if (!applied) return applied;
        if (end == text.size()) return {};
        pos = end + 1;
    }
}

}  // namespace

std::string_view object_type_name(ObjectType t) noexcept {
    switch (t) {
        case ObjectType::public_key: return "public";
        case ObjectType::private_key: return "private";
        case ObjectType::secret_key: return "secret-key";
        case ObjectType::certificate: return "cert";
        case ObjectType::data: return "data";
    }
    return "data";
}

CK_OBJECT_CLASS object_type_class(ObjectType t) noexcept {
    switch (t) {
        case ObjectType::public_key: return CKO_PUBLIC_KEY;
        case ObjectType::private_key: return CKO_PRIVATE_KEY;
        case ObjectType::secret_key: return CKO_SECRET_KEY;
        case ObjectType::certificate: return CKO_CERTIFICATE;
        case ObjectType::data: return CKO_DATA;
    }
    return CKO_DATA;
}

Result<Uri> Uri::parse(std::string_view text) {
    if (text.size() > kMaxUriLength) {
        return fail(Errc::too_large, "pkcs11 URI is longer than " +
                                         std::to_string(kMaxUriLength) + " characters");
    }
    constexpr std::string_view scheme = "pkcs11:";
    if (text.size() < scheme.size()) {
        return fail(Errc::malformed_input, "not a pkcs11 URI: it must start with 'pkcs11:'");
    }
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        const char c = text[i];
        const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        if (lower != scheme[i]) {
            return fail(Errc::malformed_input, "not a pkcs11 URI: it must start with 'pkcs11:'");
        }
    }
    Uri u;
    const auto rest = text.substr(scheme.size());
    const auto q = rest.find('?');
    const auto path = rest.substr(0, std::min(q, rest.size()));
    if (!path.empty()) {
        auto r = parse_component(u, path, scheme.size(), ';', false);
        if (!r) return tl::unexpected(r.error());
    }
    if (q != std::string_view::npos) {
        const auto query = rest.substr(q + 1);
        if (query.empty()) {
            return fail(Errc::malformed_input, "pkcs11 URI has an empty query after '?'");
        }
        auto r = parse_component(u, query, scheme.size() + q + 1, '&', true);
        if (!r) return tl::unexpected(r.error());
    }
    return u;
}

std::string uri_percent_encode(crypto::ByteView bytes) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(bytes.size() * 3);
    for (auto c : bytes) {
        if (is_unreserved(c)) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0x0f]);
        }
    }
    return out;
}

namespace {

void add(std::string& out, char& sep, std::string_view name, std::string_view value) {
    if (sep != '\0') out.push_back(sep);
    out += name;
    out.push_back('=');
    out += uri_percent_encode(crypto::as_bytes(value));
}

}  // namespace

std::string Uri::to_string() const {
    std::string out = "pkcs11:";
    char sep = '\0';
    auto put = [&](std::string_view name, const std::optional<std::string>& v, char next) {
        if (v) {
            add(out, sep, name, *v);
            sep = next;
        }
    };
    put("token", token, ';');
    put("manufacturer", manufacturer, ';');
    put("serial", serial, ';');
    put("model", model, ';');
    put("library-manufacturer", library_manufacturer, ';');
    put("library-description", library_description, ';');
    if (library_version) {
        put("library-version",
            std::to_string(library_version->major) + "." + std::to_string(library_version->minor),
            ';');
    }
    put("slot-description", slot_description, ';');
    put("slot-manufacturer", slot_manufacturer, ';');
    if (slot_id) put("slot-id", std::to_string(*slot_id), ';');
    put("object", object, ';');
    if (id) {
        if (sep != '\0') out.push_back(sep);
        out += "id=" + uri_percent_encode(*id);
        sep = ';';
    }
    if (type) put("type", std::string(object_type_name(*type)), ';');
    sep = '?';
    put("module-name", module_name, '&');
    put("module-path", module_path, '&');
    put("pin-source", pin_source, '&');
    return out;
}

bool Uri::names_token() const noexcept {
    return token || manufacturer || serial || model || library_manufacturer ||
           library_description || library_version || slot_description || slot_manufacturer ||
           slot_id;
}

bool operator==(const Uri& a, const Uri& b) {
    auto same_version = [](const std::optional<CK_VERSION>& x, const std::optional<CK_VERSION>& y) {
        if (x.has_value() != y.has_value()) return false;
        return !x || (x->major == y->major && x->minor == y->minor);
    };
    return a.token == b.token && a.manufacturer == b.manufacturer && a.serial == b.serial &&
           a.model == b.model && a.library_manufacturer == b.library_manufacturer &&
           a.library_description == b.library_description &&
           same_version(a.library_version, b.library_version) &&
           a.slot_description == b.slot_description &&
           a.slot_manufacturer == b.slot_manufacturer && a.slot_id == b.slot_id &&
           a.object == b.object && a.id == b.id && a.type == b.type &&
           a.module_name == b.module_name && a.module_path == b.module_path &&
           a.pin_source == b.pin_source;
}

}  // namespace enclave::hsm
