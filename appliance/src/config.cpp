// SPDX-License-Identifier: Apache-2.0
// Defaults, paths, the PIN source form and reading the config file. The TOML
// parser is in config_parse.cpp, the rules in config_validate.cpp and the
// writer in config_render.cpp.
#include "appliance/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "config_detail.hpp"

namespace enclave::appliance {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

bool is_env_name(std::string_view s) {
    if (s.empty() || s.size() > 128) return false;
    if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
    for (unsigned char c : s) {
        if (!(std::isalnum(c) || c == '_')) return false;
    }
    return true;
}

// systemd credential names: no '/', not "." or "..", printable.
bool is_credential_name(std::string_view s) {
    if (s.empty() || s.size() > 255 || s == "." || s == "..") return false;
    for (unsigned char c : s) {
        if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '@')) return false;
    }
    return true;
}

bool is_plain_path(std::string_view s) {
    if (s.empty() || s.size() > 4096) return false;
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) return false;
    }
    return true;
}

ListenerConfig default_listener(std::uint16_t port, std::string_view name, bool enabled) {
    ListenerConfig l;
    l.enabled = enabled;
    l.port = port;
    const std::string n(name);
    l.tls.certificate = "pki/" + n + "-server.pem";
    l.tls.private_key = "pkcs11:object=" + n + "-tls;type=private";
    l.tls.trust_anchors = "pki/" + n + "-trust.pem";
    return l;
}

}  // namespace

Result<PinSource> PinSource::parse(std::string_view text) {
    static constexpr std::string_view kForms =
        "must be \"file:PATH\", \"env:NAME\", \"stdin\" or \"credential:NAME\"";
    if (text == "stdin") return PinSource{Kind::stdin_, ""};
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return fail(Errc::invalid_argument, std::string(kForms));
    const std::string_view kind = text.substr(0, colon);
    const std::string_view value = text.substr(colon + 1);
    if (kind == "file") {
        if (!is_plain_path(value)) {
            return fail(Errc::invalid_argument, "file: needs a path without control characters");
        }
        return PinSource{Kind::file, std::string(value)};
    }
    if (kind == "env") {
        if (!is_env_name(value)) {
            return fail(Errc::invalid_argument,
                        "env: needs a variable name of letters, digits and '_' (1..128)");
        }
        return PinSource{Kind::env, std::string(value)};
    }
    if (kind == "credential") {
        if (!is_credential_name(value)) {
            return fail(Errc::invalid_argument,
                        "credential: needs a systemd credential name (letters, digits, '_-.@')");
        }
        return PinSource{Kind::credential, std::string(value)};
    }
    return fail(Errc::invalid_argument, std::string(kForms));
}

std::string PinSource::to_string() const {
    switch (kind) {
        case Kind::file:
            return "file:" + value;
        case Kind::env:
            return "env:" + value;
        case Kind::stdin_:
            return "stdin";
        case Kind::credential:
            return "credential:" + value;
    }
    return "stdin";
}

std::filesystem::path Config::resolve(const std::filesystem::path& p) const {
    if (p.empty() || p.is_absolute() || data_dir.empty()) return p;
    return (data_dir / p).lexically_normal();
}

std::string Config::audit_origin() const {
    return audit.origin.empty() ? instance_name + "/audit" : audit.origin;
}

Config default_config(const std::filesystem::path& data_dir) {
    Config c;
    c.data_dir = detail::normalise_data_dir(data_dir);
    c.lea = default_listener(kDefaultLeaPort, "lea", true);
    c.ingest = default_listener(kDefaultIngestPort, "ingest", true);
    c.admin.tls_listener = default_listener(kDefaultAdminTlsPort, "admin", false);
    c.lea_client.certificate = "pki/lea-client.pem";
    c.lea_client.private_key = "pkcs11:object=lea-client-tls;type=private";
    return c;
}

Result<Config> load_config(const std::filesystem::path& file,
                           const std::filesystem::path& data_dir) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        const int err = errno;
        return fail(err == ENOENT ? Errc::not_found : Errc::io_error,
                    "config file " + file.string() + ": " + std::strerror(err));
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return fail(Errc::invalid_argument,
                    "config file " + file.string() + ": not a regular file");
    }
    if (static_cast<std::uint64_t>(st.st_size) > kMaxConfigBytes) {
        return fail(Errc::too_large, "config file " + file.string() + ": over 1 MiB");
    }
    std::string text(kMaxConfigBytes + 1, '\0');
    std::size_t len = 0;
    while (len < text.size()) {
        const ssize_t n = ::read(fd, text.data() + len, text.size() - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            return fail(Errc::io_error,
                        "config file " + file.string() + ": " + std::strerror(errno));
        }
        if (n == 0) break;
        len += static_cast<std::size_t>(n);
    }
    if (len > kMaxConfigBytes) {  // grew while we read it
        return fail(Errc::too_large, "config file " + file.string() + ": over 1 MiB");
    }
    text.resize(len);
    auto config = parse_config(text, data_dir);
    if (!config) return tl::unexpected(config.error().wrap("config file " + file.string()));
    return config;
}

namespace detail {

void Problems::add(std::string_view key_path, std::string_view rule) {
    if (items_.size() >= kMaxReported) {
        ++dropped_;
        return;
    }
    std::string item(key_path);
    item += ": ";
    item += rule;
    items_.push_back(std::move(item));
}

crypto::Error Problems::error() const {
    std::string all;
    for (const auto& item : items_) {
        if (!all.empty()) all += "; ";
        all += item;
    }
    if (dropped_ > 0) all += "; and " + std::to_string(dropped_) + " more";
    return crypto::Error(Errc::invalid_argument, std::move(all));
}

std::optional<std::uint32_t> parse_octal_mode(std::string_view text) {
    if (text.size() < 3 || text.size() > 4) return std::nullopt;
    std::uint32_t mode = 0;
    for (char c : text) {
        if (c < '0' || c > '7') return std::nullopt;
        mode = mode * 8 + static_cast<std::uint32_t>(c - '0');
    }
    return mode;
}

std::string format_octal_mode(std::uint32_t mode) {
    std::string out(4, '0');
    for (int i = 3; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = static_cast<char>('0' + (mode & 7u));
        mode >>= 3;
    }
    return out;
}

std::string printable_key(std::string_view key) {
    bool bare = !key.empty();
    std::string out;
    for (unsigned char c : key) {
        if (out.size() >= kMaxNameLength) {
            out += "...";
            break;
        }
        if (!(std::isalnum(c) || c == '_' || c == '-')) bare = false;
        out += (c >= 0x20 && c < 0x7f && c != '"') ? static_cast<char>(c) : '?';
    }
    return bare ? out : "\"" + out + "\"";
}

std::filesystem::path normalise_data_dir(const std::filesystem::path& dir) {
    if (dir.empty()) return dir;
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(dir, ec);
    if (ec) abs = dir;
    abs = abs.lexically_normal();
    if (!abs.has_filename() && abs.has_parent_path() && abs != abs.root_path()) {
        abs = abs.parent_path();  // "/a/b/" -> "/a/b"
    }
    return abs;
}

}  // namespace detail
}  // namespace enclave::appliance
