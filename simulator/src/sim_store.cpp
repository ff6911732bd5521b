// SPDX-License-Identifier: Apache-2.0
#include "simulator/sim_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "crypto/encoding.hpp"

namespace enclave::simulator {
namespace {

namespace fs = std::filesystem;
using crypto::Errc;
using crypto::fail;

crypto::Result<void> write_all(int fd, const std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail(Errc::io_error, std::string("write: ") + std::strerror(errno));
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return {};
}

int open_new(const fs::path& path) {
    return ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

}  // namespace

crypto::Result<std::unique_ptr<SimStore>> SimStore::open(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir / "deliveries", ec);
    if (!ec) fs::create_directories(dir / "binaries", ec);
    if (ec) return fail(Errc::io_error, "store " + dir.string() + ": " + ec.message());
    std::unique_ptr<SimStore> store(new SimStore(dir));
    for (const char* sub : {"deliveries", "binaries"}) {
        for (const auto& entry : fs::directory_iterator(dir / sub, ec)) {
            const fs::path p = entry.path();
            if (p.extension() == ".part") {
                fs::remove(p, ec);  // an upload cut short by a restart
                continue;
            }
            const std::string stem = p.stem().string();
            if (!is_uuid(stem)) continue;
            if (p.extension() == ".xml") {
                store->delivery_ids_.insert(stem);
                ++store->counts_.deliveries;
            } else if (p.extension() == ".bin") {
                store->binary_ids_.insert(stem);
                ++store->counts_.binaries;
                store->counts_.binary_bytes += fs::file_size(p, ec);
            }
        }
        if (ec) return fail(Errc::io_error, "store " + dir.string() + ": " + ec.message());
    }
    return store;
}

crypto::Result<void> SimStore::append_line(const char* file, const std::string& line) {
    std::ofstream out(dir_ / file, std::ios::app | std::ios::binary);
    out << line << '\n';
    out.flush();
    if (!out) return fail(Errc::io_error, std::string("store: cannot append to ") + file);
    return {};
}

crypto::Result<bool> SimStore::store_delivery(const DeliveryFacts& f, std::string_view xml) {
    std::lock_guard lock(mu_);
    if (delivery_ids_.count(f.delivery_id) != 0) {
        ++counts_.delivery_duplicates;
        return false;
    }
    const fs::path final_path = dir_ / "deliveries" / (f.delivery_id + ".xml");
    const fs::path part = final_path.string() + ".part";
    const int fd = open_new(part);
    if (fd < 0) return fail(Errc::io_error, "store: cannot create a delivery file");
    auto ok = write_all(fd, reinterpret_cast<const std::uint8_t*>(xml.data()), xml.size());
    ::close(fd);
    std::error_code ec;
    if (ok) fs::rename(part, final_path, ec);
    if (!ok || ec) {
        fs::remove(part, ec);
        return fail(Errc::io_error, "store: cannot write a delivery file");
    }
    nlohmann::json line = {{"delivery_id", f.delivery_id},
                           {"reference_kind", f.reference_kind},
                           {"reference", f.reference},
                           {"sequence_number", f.sequence_number},
                           {"last_sequence", f.last_sequence},
                           {"items", f.items},
                           {"bytes", xml.size()},
                           {"binary_urls", f.binary_urls}};
    if (auto appended =
            append_line("deliveries.jsonl",
                        line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        !appended) {
        return tl::unexpected(appended.error());
    }
    delivery_ids_.insert(f.delivery_id);
    ++counts_.deliveries;
    counts_.items += f.items;
    return true;
}

SimStore::BinaryState SimStore::binary_state(const std::string& uuid) {
    std::lock_guard lock(mu_);
    if (binary_ids_.count(uuid) != 0) return BinaryState::stored;
    if (uploading_.count(uuid) != 0) return BinaryState::in_progress;
    return BinaryState::absent;
}

crypto::Result<std::unique_ptr<SimStore::BinaryUpload>> SimStore::begin_binary(
    const std::string& uuid, std::string_view content_type) {
    std::lock_guard lock(mu_);
    if (binary_ids_.count(uuid) != 0) return fail(Errc::already_exists, "binary already stored");
    if (uploading_.count(uuid) != 0) return fail(Errc::invalid_state, "binary upload in progress");
    const int fd = open_new(dir_ / "binaries" / (uuid + ".bin.part"));
    if (fd < 0) return fail(Errc::io_error, "store: cannot create a binary file");
    uploading_.insert(uuid);
    return std::unique_ptr<BinaryUpload>(
        new BinaryUpload(*this, uuid, std::string(content_type), fd));
}

void SimStore::count_binary_duplicate() {
    std::lock_guard lock(mu_);
    ++counts_.binary_duplicates;
}

void SimStore::finish_upload(const std::string& uuid, bool committed) {
    std::lock_guard lock(mu_);
    uploading_.erase(uuid);
    if (!committed) ++counts_.binaries_incomplete;
}

StoreCounts SimStore::counts() const {
    std::lock_guard lock(mu_);
    return counts_;
}

SimStore::BinaryUpload::BinaryUpload(SimStore& store, std::string uuid, std::string content_type,
                                     int fd)
    : store_(store), uuid_(std::move(uuid)), content_type_(std::move(content_type)), fd_(fd) {}

SimStore::BinaryUpload::~BinaryUpload() {
    if (fd_ >= 0) ::close(fd_);
    if (!done_) {
        std::error_code ec;
        fs::remove(store_.dir_ / "binaries" / (uuid_ + ".bin.part"), ec);
        store_.finish_upload(uuid_, false);
    }
}

crypto::Result<void> SimStore::BinaryUpload::write(crypto::ByteView bytes) {
    if (done_ || fd_ < 0) return fail(Errc::invalid_state, "binary upload finished");
    hasher_.update(bytes);
    written_ += bytes.size();
    return write_all(fd_, bytes.data(), bytes.size());
}

crypto::Result<BinaryRecord> SimStore::BinaryUpload::commit() {
    if (done_ || fd_ < 0) return fail(Errc::invalid_state, "binary upload finished");
    ::close(fd_);
    fd_ = -1;
    const fs::path dir = store_.dir_ / "binaries";
    std::error_code ec;
    fs::rename(dir / (uuid_ + ".bin.part"), dir / (uuid_ + ".bin"), ec);
    if (ec) return fail(Errc::io_error, "store: cannot rename a binary file");
    BinaryRecord rec{uuid_, written_, crypto::hex_encode(hasher_.finish())};
    done_ = true;
    std::lock_guard lock(store_.mu_);
    store_.uploading_.erase(uuid_);
    store_.binary_ids_.insert(uuid_);
    ++store_.counts_.binaries;
    store_.counts_.binary_bytes += written_;
    nlohmann::json line = {{"uuid", uuid_},
                           {"size", written_},
                           {"sha256", rec.sha256_hex},
                           {"content_type", content_type_}};
    if (auto ok = store_.append_line(
            "binaries.jsonl", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        !ok) {
        return tl::unexpected(ok.error());
    }
    return rec;
}

}  // namespace enclave::simulator
