// SPDX-License-Identifier: Apache-2.0
// DIR/certs: bindings, staged keys, requests and chains (cert_store.hpp).
#include "cert_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cert_pki.hpp"

namespace enclave::appliance::certs {
namespace {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using nlohmann::json;

constexpr std::size_t kMaxStateBytes = 1024 * 1024;

Result<void> fail_errno(int err, const std::string& what, const std::filesystem::path& p) {
    return fail(Errc::io_error, what + " " + p.string() + ": " + std::strerror(err));
}

Result<void> write_synced(const std::filesystem::path& path, std::string_view text, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) return fail_errno(errno, "creating", path);
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = errno;
            ::close(fd);
            return fail_errno(err, "writing", path);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        return fail_errno(err, "syncing", path);
    }
    ::close(fd);
    return {};
}

void sync_dir(const std::filesystem::path& dir) noexcept {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)::fsync(fd);
        ::close(fd);
    }
}

Result<CertState> parse_state(const std::string& text) {
    const json j = json::parse(text, nullptr, false);
    const auto bad = [](const std::string& why) {
        return fail(Errc::malformed_input, "certs/state.json: " + why);
    };
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    CertState st;
    if (j.contains("bindings")) {
        if (!j["bindings"].is_object()) return bad("bindings: an object is required");
        for (const auto& [listener, label] : j["bindings"].items()) {
            if (!CertStore::known_listener(listener) || !label.is_string() ||
                !valid_label(label.get<std::string>())) {
                return bad("bindings: an unknown listener or an invalid label");
            }
            st.bindings[listener] = label.get<std::string>();
        }
    }
    if (j.contains("keys")) {
        if (!j["keys"].is_object()) return bad("keys: an object is required");
        for (const auto& [label, k] : j["keys"].items()) {
            if (!valid_label(label) || !k.is_object() || !k.value("created", json(0)).is_number_integer()) {
                return bad("keys: an invalid label or entry");
            }
            ManagedKey mk;
            mk.created = k.value("created", std::int64_t{0});
            const json staged = k.value("staged_for", json(""));
            if (!staged.is_string() ||
                (!staged.get<std::string>().empty() && !CertStore::known_listener(staged.get<std::string>()))) {
                return bad("keys: staged_for names an unknown listener");
            }
            mk.staged_for = staged.get<std::string>();
            st.keys[label] = std::move(mk);
        }
    }
    return st;
}

std::string render_state(const CertState& st) {
    json j{{"version", 1}, {"bindings", json::object()}, {"keys", json::object()}};
    for (const auto& [listener, label] : st.bindings) j["bindings"][listener] = label;
    for (const auto& [label, k] : st.keys) {
        j["keys"][label] = json{{"created", k.created}, {"staged_for", k.staged_for}};
    }
    return j.dump(2) + "\n";
}

}  // namespace

bool CertStore::known_listener(std::string_view name) noexcept {
    return name == "lea" || name == "ingest" || name == "admin-tls" || name == "lea-client";
}

Result<std::unique_ptr<CertStore>> CertStore::open(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return fail(Errc::io_error, "creating " + dir.string() + ": " + ec.message());
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return fail(Errc::io_error, dir.string() + ": not a directory");
    }
    if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
        return fail(Errc::io_error, dir.string() + ": cannot make it private (0700)");
    }
    std::unique_ptr<CertStore> store(new CertStore(dir));
    if (auto ok = store->load(); !ok) return tl::unexpected(ok.error());
    return store;
}

Result<void> CertStore::load() {
    const auto file = dir_ / "state.json";
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return {};
    const auto size = std::filesystem::file_size(file, ec);
    if (ec) return fail(Errc::io_error, file.string() + ": " + ec.message());
    if (size > kMaxStateBytes) return fail(Errc::too_large, file.string() + ": over 1 MiB");
    std::ifstream in(file, std::ios::binary);
    std::string text(size, '\0');
    if (!in.read(text.data(), static_cast<std::streamsize>(size))) {
        return fail(Errc::io_error, file.string() + ": cannot read");
    }
    auto st = parse_state(text);
    if (!st) return tl::unexpected(st.error());
    std::lock_guard lock(mu_);
    state_ = std::move(*st);
    return {};
}

CertState CertStore::state() const {
    std::lock_guard lock(mu_);
    return state_;
}

std::optional<std::string> CertStore::binding(const std::string& listener) const {
    std::lock_guard lock(mu_);
    auto it = state_.bindings.find(listener);
    if (it == state_.bindings.end()) return std::nullopt;
    return it->second;
}

Result<void> CertStore::save(const CertState& state) {
    const auto file = dir_ / "state.json";
    const auto tmp = temp_for(file);
    if (auto ok = write_synced(tmp, render_state(state), 0600); !ok) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        return ok;
    }
    if (auto ok = publish(tmp, file); !ok) return ok;
    std::lock_guard lock(mu_);
    state_ = state;
    return {};
}

std::filesystem::path CertStore::chain_path(const std::string& label) const {
    return dir_ / (label + ".chain.pem");
}

std::filesystem::path CertStore::csr_path(const std::string& label) const {
    return dir_ / (label + ".csr.pem");
}

std::filesystem::path CertStore::temp_for(const std::filesystem::path& path) const {
    return dir_ / ("." + path.filename().string() + ".tmp");
}

Result<void> CertStore::write_public(const std::filesystem::path& path, std::string_view text) {
    const auto tmp = temp_for(path);
    if (auto ok = write_synced(tmp, text, 0644); !ok) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        return ok;
    }
    return publish(tmp, path);
}

Result<void> CertStore::publish(const std::filesystem::path& from, const std::filesystem::path& to) {
    if (::rename(from.c_str(), to.c_str()) != 0) {
        const int err = errno;
        std::error_code ec;
        std::filesystem::remove(from, ec);
        return fail_errno(err, "renaming into", to);
    }
    sync_dir(dir_);
    return {};
}

void CertStore::remove_files(const std::string& label) {
    std::error_code ec;
    std::filesystem::remove(chain_path(label), ec);
    std::filesystem::remove(csr_path(label), ec);
    sync_dir(dir_);
}

}  // namespace enclave::appliance::certs
