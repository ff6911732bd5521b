// SPDX-License-Identifier: Apache-2.0
// The simulator's PSK file (load_psk_file in lea_simulator.hpp). The keys
// stand for the LEA's side of PSKs an officer handed over out of band; they
// are read into crypto::Secret and copied out per handshake.
#include <fstream>
#include <map>
#include <sstream>

#include "crypto/encoding.hpp"
#include "simulator/lea_simulator.hpp"

namespace enclave::simulator {

namespace {

constexpr std::uintmax_t kMaxFile = 64 * 1024;

class FilePskResolver final : public hsm::ServerPskResolver {
public:
    std::optional<hsm::ServerPsk> find(std::string_view identity) override {
        const auto it = keys.find(std::string(identity));
        if (it == keys.end()) return std::nullopt;
        return hsm::ServerPsk{"psk-file", crypto::Secret::copy_of(crypto::ByteView(
                                              it->second.data(), it->second.size()))};
    }
    std::map<std::string, crypto::Secret> keys;  // read-only once loaded
};

bool identity_ok(const std::string& id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id) {
        if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
}

}  // namespace

crypto::Result<std::shared_ptr<hsm::ServerPskResolver>> load_psk_file(
    const std::filesystem::path& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return crypto::fail(crypto::Errc::io_error, "PSK file " + path.string() + ": " + ec.message());
    if (size > kMaxFile) return crypto::fail(crypto::Errc::too_large, "PSK file " + path.string() + ": over 64 KiB");
    std::ifstream in(path);
    auto r = std::make_shared<FilePskResolver>();
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        const std::string where = "PSK file " + path.string() + " line " + std::to_string(n);
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        std::string identity, hex, extra;
        fields >> identity >> hex >> extra;
        crypto::wipe(line);
        if (!identity_ok(identity) || hex.empty() || !extra.empty()) {
            crypto::wipe(hex);
            return crypto::fail(crypto::Errc::malformed_input, where + ": must be IDENTITY HEXKEY");
        }
        auto key = crypto::hex_decode(hex);
        crypto::wipe(hex);
        if (!key || key->size() < 32 || key->size() > 64) {
            if (key) crypto::wipe(*key);
            return crypto::fail(crypto::Errc::malformed_input, where + ": the key must be 32..64 bytes in hex");
        }
        auto secret = crypto::Secret::copy_of(crypto::ByteView(key->data(), key->size()));
        crypto::wipe(*key);
        if (!r->keys.emplace(identity, std::move(secret)).second) {
            return crypto::fail(crypto::Errc::malformed_input, where + ": identity given twice");
        }
    }
    if (r->keys.empty()) return crypto::fail(crypto::Errc::malformed_input, "PSK file " + path.string() + ": no PSK");
    return std::shared_ptr<hsm::ServerPskResolver>(std::move(r));
}

}  // namespace enclave::simulator
