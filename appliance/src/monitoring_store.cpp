// SPDX-License-Identifier: Apache-2.0
// The durable event queue's files (monitoring_impl.hpp, EventStore).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "appliance/log.hpp"
#include "monitoring_impl.hpp"

namespace enclave::appliance {
namespace {

using crypto::Errc;
using crypto::fail;
using nlohmann::json;

constexpr std::uint64_t kMaxLineBytes = 64 * 1024;  // one record is far smaller

crypto::Result<void> io_fail(const std::string& what) {
    return fail(Errc::io_error, what + ": " + std::strerror(errno));
}

crypto::Result<void> write_all(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_fail("write");
        }
        off += static_cast<std::size_t>(n);
    }
    return {};
}

Severity severity_of(std::string_view name) {
    for (const Severity s : {Severity::critical, Severity::error, Severity::warning,
                             Severity::notice, Severity::info}) {
        if (severity_name(s) == name) return s;
    }
    return Severity::warning;
}

/// A queue line back into a record; nullopt for a torn or foreign line.
std::optional<EventRecord> parse_line(const std::string& line) {
    if (line.size() > kMaxLineBytes) return std::nullopt;
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned() ||
        !j.contains("event") || !j["event"].is_string() || !j.contains("severity") ||
        !j["severity"].is_string() || !j.contains("time_ms") || !j["time_ms"].is_number_integer()) {
        return std::nullopt;
    }
    EventRecord r;
    r.seq = j["seq"].get<std::uint64_t>();
    r.name = j["event"].get<std::string>();
    r.severity = severity_of(j["severity"].get<std::string>());
    r.time = std::chrono::system_clock::time_point(
        std::chrono::milliseconds(j["time_ms"].get<std::int64_t>()));
    r.json = line;
    return r;
}

}  // namespace

std::string rfc3339_ms(std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
    const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count() % 1000));
    return buf;
}

std::string record_json(const EventRecord& r, const std::string& instance,
                        const std::string& fields_json) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(r.time.time_since_epoch()).count();
    std::string out = "{\"seq\":" + std::to_string(r.seq) + ",\"time\":\"" + rfc3339_ms(r.time) +
                      "\",\"time_ms\":" + std::to_string(ms) +
                      ",\"instance\":" + json(instance).dump() + ",\"event\":\"" + r.name +
                      "\",\"severity\":\"" + std::string(severity_name(r.severity)) +
                      "\",\"fields\":" + fields_json + "}";
    return out;
}

crypto::Result<void> replace_file(const std::filesystem::path& path, const std::string& text) {
    const std::filesystem::path tmp = path.string() + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return io_fail("creating " + tmp.string());
    auto ok = write_all(fd, text);
    if (ok && ::fsync(fd) != 0) ok = io_fail("fsync " + tmp.string());
    ::close(fd);
    if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) ok = io_fail("renaming " + tmp.string());
    if (!ok) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);  // no stale temporary beside the queue
    }
    return ok;
}

EventStore::~EventStore() {
    if (fd_ >= 0) ::close(fd_);
}

crypto::Result<EventStore::Loaded> EventStore::open(const std::filesystem::path& dir,
                                                    std::uint64_t max_bytes) {
    dir_ = dir;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return fail(Errc::io_error, "creating " + dir.string() + ": " + ec.message());
    ::chmod(dir.parent_path().c_str(), 0700);
    if (::chmod(dir.c_str(), 0700) != 0) return tl::unexpected(io_fail("chmod " + dir.string()).error());
    Loaded loaded;
    {
        std::ifstream in(dir / "cursors.json");
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const json j = json::parse(text, nullptr, false);
        if (j.is_object() && j.contains("next_seq") && j["next_seq"].is_number_unsigned()) {
            loaded.next_seq = std::max<std::uint64_t>(1, j["next_seq"].get<std::uint64_t>());
            if (j.contains("sinks") && j["sinks"].is_object()) {
                for (const auto& [k, v] : j["sinks"].items()) {
                    if (v.is_number_unsigned()) loaded.cursors[k] = v.get<std::uint64_t>();
                }
            }
        }
    }
    const auto queue = dir / "queue.jsonl";
    {
        std::ifstream in(queue);
        std::string line;
        std::uint64_t bytes = 0;
        std::deque<EventRecord> kept;
        while (std::getline(in, line)) {
            auto r = parse_line(line);
            if (!r || r->seq < (kept.empty() ? 0 : kept.back().seq + 1)) {
                ++loaded.torn;
                continue;
            }
            bytes += r->json.size() + 1;
            kept.push_back(std::move(*r));
            while (bytes > max_bytes && kept.size() > 1) {
                bytes -= kept.front().json.size() + 1;
                kept.pop_front();
            }
        }
        if (!kept.empty()) loaded.next_seq = std::max(loaded.next_seq, kept.back().seq + 1);
        loaded.records.assign(std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
    }
    if (loaded.torn > 0) {
        log(LogLevel::warning, "monitoring",
            std::to_string(loaded.torn) + " unreadable line(s) in the event queue were skipped");
    }
    fd_ = ::open(queue.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) return tl::unexpected(io_fail("opening " + queue.string()).error());
    struct stat st {};
    if (::fstat(fd_, &st) == 0) file_bytes_ = static_cast<std::uint64_t>(st.st_size);
    return loaded;
}

crypto::Result<void> EventStore::append(const std::string& line) {
    if (fd_ < 0) return fail(Errc::io_error, "the queue file is not open");
    auto ok = write_all(fd_, line);
    if (ok) {
        file_bytes_ += line.size();
        dirty_ = true;
    }
    return ok;
}

void EventStore::sync() noexcept {
    if (fd_ >= 0 && dirty_) {
        ::fdatasync(fd_);
        dirty_ = false;
    }
}

crypto::Result<void> EventStore::compact(const std::deque<EventRecord>& records,
                                         std::uint64_t bytes) {
    if (fd_ < 0) return {};
    if (records.empty()) {
        if (file_bytes_ == 0) return {};
        if (::ftruncate(fd_, 0) != 0) return io_fail("truncating the queue");
        file_bytes_ = 0;
        return {};
    }
    if (file_bytes_ <= 2 * bytes + (1U << 20)) return {};
    std::string text;
    text.reserve(bytes);
    for (const auto& r : records) {
        text += r.json;
        text += '\n';
    }
    const auto queue = dir_ / "queue.jsonl";
    if (auto ok = replace_file(queue, text); !ok) return ok;
    const int fd = ::open(queue.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return io_fail("reopening the queue");
    ::close(fd_);
    fd_ = fd;
    file_bytes_ = text.size();
    return {};
}

crypto::Result<void> EventStore::save_cursors(
    std::uint64_t next_seq, const std::vector<std::pair<std::string, std::uint64_t>>& cursors) {
    json j{{"next_seq", next_seq}, {"sinks", json::object()}};
    for (const auto& [name, cursor] : cursors) j["sinks"][name] = cursor;
    return replace_file(dir_ / "cursors.json", j.dump() + "\n");
}

}  // namespace enclave::appliance
