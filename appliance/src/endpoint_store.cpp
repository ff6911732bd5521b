// SPDX-License-Identifier: Apache-2.0
#include "appliance/endpoint_store.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <chrono>

#include "audit/task_time.hpp"

namespace enclave::appliance {

using crypto::Errc;
using crypto::fail;
using nlohmann::json;

namespace {

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE endpoints (
    name TEXT PRIMARY KEY NOT NULL,
    spec TEXT NOT NULL
);
)sql";
constexpr std::array<crypto::Migration, 1> kSchema{{{1, kSchemaV1}}};

constexpr std::size_t kMaxPem = 256 * 1024;
constexpr std::size_t kMaxText = 2048;

/// As tasks name endpoints (and as the config file does): [a-z0-9][a-z0-9-]{0,62}.
bool name_ok(std::string_view s) {
    if (s.empty() || s.size() > 63 || s.front() == '-') return false;
    for (const char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok) return false;
    }
    return true;
}

bool printable(std::string_view s) {
    for (const char c : s) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    }
    return true;
}

/// https://host[:port][/path]: host non-empty, no userinfo, no fragment.
bool https_url_ok(std::string_view url) {
    constexpr std::string_view scheme = "https://";
    if (url.size() > kMaxText || !printable(url) || url.substr(0, scheme.size()) != scheme) {
        return false;
    }
    const std::string_view rest = url.substr(scheme.size());
    const std::string_view authority = rest.substr(0, rest.find('/'));
    if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
    if (url.find('#') != std::string_view::npos || url.find(' ') != std::string_view::npos) {
        return false;
    }
    return true;
}

bool country_ok(std::string_view s) {
    return s.size() == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

bool hex64(std::string_view s) {
    if (s.size() != 64) return false;
    for (const char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

/// How many certificates the PEM text holds (0 when none parse).
std::size_t pem_certificates(std::string_view pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (bio == nullptr) return 0;
    std::size_t n = 0;
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
        X509_free(cert);
        ++n;
    }
    BIO_free(bio);
    return n;
}

/// The number of PEM X509 CRLs in `pem`, or 0 when anything but CRL blocks
/// and whitespace is in it or a block does not parse.
std::size_t pem_crls(std::string_view pem) {
    constexpr std::string_view kBegin = "-----BEGIN X509 CRL-----";
    constexpr std::string_view kEnd = "-----END X509 CRL-----";
    std::size_t n = 0;
    std::size_t pos = 0;
    while (true) {
        const std::size_t begin = pem.find(kBegin, pos);
        const std::string_view gap =
            pem.substr(pos, begin == std::string_view::npos ? std::string_view::npos : begin - pos);
        if (gap.find_first_not_of(" \t\r\n") != std::string_view::npos) return 0;
        if (begin == std::string_view::npos) return n;
        const std::size_t end = pem.find(kEnd, begin);
        if (end == std::string_view::npos) return 0;
        const std::string_view block = pem.substr(begin, end + kEnd.size() - begin);
        BIO* bio = BIO_new_mem_buf(block.data(), static_cast<int>(block.size()));
        X509_CRL* crl = bio != nullptr ? PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr) : nullptr;
        BIO_free(bio);
        ERR_clear_error();
        if (crl == nullptr) return 0;
        X509_CRL_free(crl);
        ++n;
        pos = end + kEnd.size();
    }
}

crypto::Result<void> bad(std::string_view field, std::string_view problem) {
    return fail(Errc::invalid_argument, std::string(field) + ": " + std::string(problem));
}

template <class T>
crypto::Result<void> take(const json& j, const char* key, T& out) {
    if (!j.contains(key)) return {};
    try {
        out = j.at(key).get<T>();
    } catch (const json::exception&) {
        return bad(key, "wrong type");
    }
    return {};
}

}  // namespace

std::string models_text(std::uint8_t models) {
    std::string out;
    const std::array<std::pair<DeliveryModel, const char*>, 3> all{
        {{DeliveryModel::a, "A"}, {DeliveryModel::b, "B"}, {DeliveryModel::c, "C"}}};
    for (const auto& [m, name] : all) {
        if ((models & static_cast<std::uint8_t>(m)) == 0) continue;
        if (!out.empty()) out += ",";
        out += name;
    }
    return out;
}

crypto::Result<std::uint8_t> parse_models(std::string_view text) {
    std::uint8_t bits = 0;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        if (item == "A" || item == "a") {
            bits |= static_cast<std::uint8_t>(DeliveryModel::a);
        } else if (item == "B" || item == "b") {
            bits |= static_cast<std::uint8_t>(DeliveryModel::b);
        } else if (item == "C" || item == "c") {
            bits |= static_cast<std::uint8_t>(DeliveryModel::c);
        } else {
            return fail(Errc::invalid_argument, "models: each must be A, B or C");
        }
    }
    if (bits == 0) return fail(Errc::invalid_argument, "models: at least one of A, B, C");
    return bits;
}

crypto::Result<void> validate_endpoint(const EndpointSpec& s) {
    if (!name_ok(s.name)) return bad("name", "1..63 of a-z, 0-9 and '-', not starting with '-'");
    if (!https_url_ok(s.url)) return bad("url", "must be https://host[:port][/path]");
    if (s.trust_anchors_pem.empty() || s.trust_anchors_pem.size() > kMaxPem ||
        pem_certificates(s.trust_anchors_pem) == 0) {
        return bad("trust_anchors", "must hold at least one PEM certificate (at most 256 KiB)");
    }
    if (!s.crl_pem.empty() && (s.crl_pem.size() > kMaxPem || pem_crls(s.crl_pem) == 0)) {
        return bad("crl", "must hold only PEM X509 CRL blocks, at least one (at most 256 KiB)");
    }
    if (s.auth == EndpointAuth::psk && !s.spki_sha256.empty()) {
        return bad("spki_sha256", "a PSK endpoint's server presents no certificate to pin");
    }
    if (!s.spki_sha256.empty() && !hex64(s.spki_sha256)) {
        return bad("spki_sha256", "must be 64 lowercase hex digits (SHA-256 of the server's SPKI)");
    }
    if ((s.models & 0x7) == 0 || (s.models & ~0x7) != 0) return bad("models", "A, B and/or C");
    if (s.allows(DeliveryModel::b) || !s.binary_url_scheme.empty()) {
        const auto first = s.binary_url_scheme.find("{id}");
        if (!https_url_ok(s.binary_url_scheme) || first == std::string::npos ||
            s.binary_url_scheme.find("{id}", first + 1) != std::string::npos) {
            return bad("binary_url_scheme",
                       "Model B needs an https URL with exactly one {id} "
                       "(https://lea.example/binaryData/{id}/)");
        }
    }
    if (!country_ok(s.sender_country)) return bad("sender_country", "two capital letters (or XX)");
    if (!country_ok(s.receiver_country)) {
        return bad("receiver_country", "two capital letters (or XX)");
    }
    for (const auto* id : {&s.sender_unique_id, &s.receiver_unique_id}) {
        if (id->size() > 256 || !printable(*id)) {
            return bad(id == &s.sender_unique_id ? "sender_unique_id" : "receiver_unique_id",
                       "at most 256 printable characters");
        }
    }
    if (s.receiver_unique_id.empty()) return bad("receiver_unique_id", "must not be empty");
    if (s.client_subjects.size() > 64) return bad("client_subjects", "at most 64");
    for (const auto& subject : s.client_subjects) {
        if (subject.empty() || subject.size() > 1024 || !printable(subject)) {
            return bad("client_subjects", "each 1..1024 printable characters (RFC 2253)");
        }
    }
    if (s.client_certificate.empty() != s.client_key.empty()) {
        return bad("client_key", "client_certificate and client_key go together");
    }
    if (!s.client_key.empty() && s.client_key.rfind("pkcs11:", 0) != 0) {
        return bad("client_key", "must be a pkcs11: URI of a token key");
    }
    if (s.client_certificate.size() > kMaxText || !printable(s.client_certificate)) {
        return bad("client_certificate", "a file path");
    }
    if (s.max_connections < 1 || s.max_connections > 64) return bad("max_connections", "1..64");
    if (s.connect_timeout_ms < 100 || s.connect_timeout_ms > 600'000) {
        return bad("connect_timeout_ms", "100..600000");
    }
    if (s.response_timeout_ms < 100 || s.response_timeout_ms > 3'600'000) {
        return bad("response_timeout_ms", "100..3600000");
    }
    return {};
}

json to_json(const EndpointSpec& s) {
    return json{{"name", s.name},
                {"url", s.url},
                {"trust_anchors", s.trust_anchors_pem},
                {"crl", s.crl_pem},
                {"spki_sha256", s.spki_sha256},
                {"binary_url_scheme", s.binary_url_scheme},
                {"sender_country", s.sender_country},
                {"sender_unique_id", s.sender_unique_id},
                {"receiver_country", s.receiver_country},
                {"receiver_unique_id", s.receiver_unique_id},
                {"models", models_text(s.models)},
                {"auth", s.auth == EndpointAuth::psk ? "psk" : "certificate"},
                {"client_subjects", s.client_subjects},
                {"client_certificate", s.client_certificate},
                {"client_key", s.client_key},
                {"max_connections", s.max_connections},
                {"connect_timeout_ms", s.connect_timeout_ms},
                {"response_timeout_ms", s.response_timeout_ms},
                {"created", s.created}};
}

crypto::Result<EndpointSpec> endpoint_from_json(const json& j) {
    if (!j.is_object()) return fail(Errc::malformed_input, "endpoint: a JSON object is required");
    static const std::array<const char*, 19> known{
        "name", "url", "auth", "trust_anchors", "crl", "spki_sha256", "binary_url_scheme", "sender_country",
        "sender_unique_id", "receiver_country", "receiver_unique_id", "models", "client_subjects",
        "client_certificate", "client_key", "max_connections", "connect_timeout_ms",
        "response_timeout_ms", "created"};
    for (const auto& [key, value] : j.items()) {
        bool ok = false;
        for (const char* k : known) ok = ok || key == k;
        if (!ok) return fail(Errc::malformed_input, "endpoint: unknown key (see docs/delivery.md)");
    }
    EndpointSpec s;
    std::string models = models_text(s.models);
    std::string auth = "certificate";
    for (auto r : {take(j, "name", s.name), take(j, "url", s.url),
                   take(j, "trust_anchors", s.trust_anchors_pem), take(j, "crl", s.crl_pem),
                   take(j, "spki_sha256", s.spki_sha256),
                   take(j, "binary_url_scheme", s.binary_url_scheme),
                   take(j, "sender_country", s.sender_country),
                   take(j, "sender_unique_id", s.sender_unique_id),
                   take(j, "receiver_country", s.receiver_country),
                   take(j, "receiver_unique_id", s.receiver_unique_id), take(j, "models", models),
                   take(j, "auth", auth),
                   take(j, "client_subjects", s.client_subjects),
                   take(j, "client_certificate", s.client_certificate),
                   take(j, "client_key", s.client_key),
                   take(j, "max_connections", s.max_connections),
                   take(j, "connect_timeout_ms", s.connect_timeout_ms),
                   take(j, "response_timeout_ms", s.response_timeout_ms),
                   take(j, "created", s.created)}) {
        if (!r) return tl::unexpected(r.error());
    }
    auto bits = parse_models(models);
    if (!bits) return tl::unexpected(bits.error());
    s.models = *bits;
    if (auth == "psk") {
        s.auth = EndpointAuth::psk;
    } else if (auth != "certificate") {
        return fail(Errc::invalid_argument, "auth: must be certificate or psk");
    }
    if (auto ok = validate_endpoint(s); !ok) return tl::unexpected(ok.error());
    return s;
}

crypto::Result<std::unique_ptr<EndpointStore>> EndpointStore::open(
    const std::filesystem::path& db, crypto::KeyWrapper& kek) {
    crypto::SealedDbOptions options;
    options.cache_kib = crypto::kSmallStoreCacheKib;
    auto sealed = crypto::SealedDb::open_or_create(db, kek, options);
    if (!sealed) return tl::unexpected(sealed.error().wrap("endpoint store"));
    if (auto v = sealed->migrate(kSchema); !v) {
        return tl::unexpected(v.error().wrap("endpoint store schema"));
    }
    return std::unique_ptr<EndpointStore>(new EndpointStore(std::move(*sealed)));
}

crypto::Result<EndpointSpec> EndpointStore::add(EndpointSpec spec) {
    if (auto ok = validate_endpoint(spec); !ok) return tl::unexpected(ok.error());
    spec.created = audit::format_utc_time(audit::system_now());
    std::lock_guard lock(mu_);
    auto st = db_.prepare("INSERT OR IGNORE INTO endpoints(name, spec) VALUES(?1, ?2)");
    if (!st) return tl::unexpected(st.error());
    if (auto r = st->bind_text(1, spec.name); !r) return tl::unexpected(r.error());
    if (auto r = st->bind_text(2, to_json(spec).dump()); !r) return tl::unexpected(r.error());
    if (auto r = st->run(); !r) return tl::unexpected(r.error());
    auto changes = db_.prepare("SELECT changes()");
    if (!changes) return tl::unexpected(changes.error());
    if (auto row = changes->step(); !row || !*row || changes->column_int64(0) == 0) {
        return fail(Errc::already_exists, "endpoint " + spec.name + " already exists");
    }
    return spec;
}

crypto::Result<void> EndpointStore::remove(std::string_view name) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("DELETE FROM endpoints WHERE name = ?1");
    if (!st) return tl::unexpected(st.error());
    if (auto r = st->bind_text(1, name); !r) return tl::unexpected(r.error());
    if (auto r = st->run(); !r) return tl::unexpected(r.error());
    auto changes = db_.prepare("SELECT changes()");
    if (!changes) return tl::unexpected(changes.error());
    if (auto row = changes->step(); !row || !*row || changes->column_int64(0) == 0) {
        return fail(Errc::not_found, "no endpoint named " + std::string(name));
    }
    return {};
}

namespace {

crypto::Result<EndpointSpec> decode_row(const std::string& text) {
    const json j = json::parse(text, nullptr, false);
    auto spec = endpoint_from_json(j);
    if (!spec) return tl::unexpected(spec.error().wrap("endpoint store row"));
    return spec;
}

}  // namespace

crypto::Result<std::optional<EndpointSpec>> EndpointStore::get(std::string_view name) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT spec FROM endpoints WHERE name = ?1");
    if (!st) return tl::unexpected(st.error());
    if (auto r = st->bind_text(1, name); !r) return tl::unexpected(r.error());
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::optional<EndpointSpec>{};
    auto spec = decode_row(st->column_text(0));
    if (!spec) return tl::unexpected(spec.error());
    return std::optional<EndpointSpec>(std::move(*spec));
}

crypto::Result<std::vector<EndpointSpec>> EndpointStore::list() {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT spec FROM endpoints ORDER BY name");
    if (!st) return tl::unexpected(st.error());
    std::vector<EndpointSpec> out;
    for (;;) {
        auto row = st->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        auto spec = decode_row(st->column_text(0));
        if (!spec) return tl::unexpected(spec.error());
        out.push_back(std::move(*spec));
    }
    return out;
}

}  // namespace enclave::appliance
