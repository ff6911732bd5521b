// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers for the task and re-verification suites: audit sinks that record in
// memory or in a durable file (and can be told to fail or to "crash"), a fake
// clock, and builders for task JSON with correct D.4 hashes.

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audit/audit_sink.hpp"
#include "audit/task_time.hpp"
#include "crypto/encoding.hpp"
#include "crypto/salted_hash.hpp"

namespace enclave::audit::test {

using nlohmann::json;

/// True when `j` holds a floating-point number anywhere (the log refuses them).
inline bool has_float(const json& j) {
    if (j.is_number_float()) return true;
    if (j.is_structured()) {
        for (const auto& v : j) {
            if (has_float(v)) return true;
        }
    }
    return false;
}

/// Checks what the real log checks, so a test sink cannot accept an event
/// the real one would refuse.
inline crypto::Result<void> check_event_shape(const json& e) {
    if (!e.is_object() || !e.contains("event") || !e["event"].is_string()) {
        return crypto::fail(crypto::Errc::invalid_argument, "event must be an object with a string \"event\"");
    }
    if (has_float(e)) return crypto::fail(crypto::Errc::invalid_argument, "event holds a float");
    for (const auto& [k, v] : e.items()) {
        if (v.is_null()) return crypto::fail(crypto::Errc::invalid_argument, "event member " + k + " is null");
    }
    return {};
}

/// Records events in memory. fail_all, fail_on (an event name) and
/// fail_after (number of successful appends) make append() fail with io_error.
class MemoryAuditSink final : public AuditSink {
public:
    crypto::Result<std::uint64_t> append(const json& event) override {
        std::lock_guard lock(mu_);
        if (auto ok = check_event_shape(event); !ok) return tl::unexpected(ok.error());
        if (fail_all || (fail_on && event["event"] == *fail_on) || (fail_after && events.size() >= *fail_after)) {
            ++refused;
            return crypto::fail(crypto::Errc::io_error, "test sink: told to fail");
        }
        events.push_back(event);
        return events.size() - 1;
    }

    /// Events named `name`, in order.
    std::vector<json> named(const std::string& name) {
        std::lock_guard lock(mu_);
        std::vector<json> out;
        for (const auto& e : events) {
            if (e["event"] == name) out.push_back(e);
        }
        return out;
    }
    /// The names of all events, in order.
    std::vector<std::string> names() {
        std::lock_guard lock(mu_);
        std::vector<std::string> out;
        for (const auto& e : events) out.push_back(e["event"]);
        return out;
    }
    /// Every event serialised, for canary searches.
    std::string text() {
        std::lock_guard lock(mu_);
        std::string out;
        for (const auto& e : events) out += e.dump() + "\n";
        return out;
    }

    std::vector<json> events;
    bool fail_all = false;
    std::optional<std::string> fail_on;
    std::optional<std::size_t> fail_after;
    std::size_t refused = 0;

private:
    std::mutex mu_;
};

/// Appends each event as one JSON line and fsyncs before returning: a durable
/// log a crashed child process leaves behind. crash_after names an event
/// after whose durable append the process _exit()s with kCrashExit (a crash
/// between the audit append and the database commit).
class FileAuditSink final : public AuditSink {
public:
    static constexpr int kCrashExit = 42;

    explicit FileAuditSink(std::filesystem::path path) : path_(std::move(path)) {}

    crypto::Result<std::uint64_t> append(const json& event) override {
        if (auto ok = check_event_shape(event); !ok) return tl::unexpected(ok.error());
        if (crash_before && event["event"] == *crash_before) ::_exit(kCrashExit);
        const std::string line = event.dump() + "\n";
        const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return crypto::fail(crypto::Errc::io_error, "test sink: open");
        const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
        ::close(fd);
        if (!ok) return crypto::fail(crypto::Errc::io_error, "test sink: write");
        if (crash_after && event["event"] == *crash_after) ::_exit(kCrashExit);
        return count_++;
    }

    /// Every event in the file, in order.
    static std::vector<json> read(const std::filesystem::path& path) {
        std::vector<json> out;
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
        return out;
    }
    static std::vector<std::string> names(const std::filesystem::path& path) {
        std::vector<std::string> out;
        for (const auto& e : read(path)) out.push_back(e["event"]);
        return out;
    }

    std::optional<std::string> crash_before;
    std::optional<std::string> crash_after;

private:
    std::filesystem::path path_;
    std::uint64_t count_ = 0;
};

/// A clock the test moves by hand.
class FakeClock {
public:
    explicit FakeClock(UtcTime start) : now_(std::make_shared<std::atomic<std::int64_t>>(start.time_since_epoch().count())) {}
    [[nodiscard]] Clock clock() const {
        auto now = now_;
        return [now] { return UtcTime{std::chrono::microseconds{now->load()}}; };
    }
    [[nodiscard]] UtcTime now() const { return UtcTime{std::chrono::microseconds{now_->load()}}; }
    void set(UtcTime t) { now_->store(t.time_since_epoch().count()); }
    void advance(std::chrono::microseconds d) { now_->fetch_add(d.count()); }

private:
    std::shared_ptr<std::atomic<std::int64_t>> now_;
};

inline UtcTime at(const std::string& rfc3339) {
    auto t = parse_utc_time(rfc3339);
    if (!t) throw std::runtime_error("bad test time " + rfc3339);
    return *t;
}

/// The D.4 hash of value and salt in lowercase hex.
inline std::string d4_hash(const std::string& algorithm, const std::string& salt_hex, const std::string& value) {
    const auto alg = crypto::salted_hash_from_name(algorithm);
    auto salt = crypto::hex_decode(salt_hex);
    if (!alg || !salt) throw std::runtime_error("bad test algorithm or salt");
    auto h = crypto::compute_salted_hash(*alg, *salt, value);
    if (!h) throw std::runtime_error(h.error().message());
    return crypto::hex_encode(*h);
}

/// A field object with a correct hash.
inline json field(const std::string& format, const std::string& value, const std::string& salt_hex,
                  const std::string& algorithm = "sha256") {
    return {{"formatName", format},
            {"value", value},
            {"salt", salt_hex},
            {"hash", d4_hash(algorithm, salt_hex, value)},
            {"algorithm", algorithm}};
}

/// A valid LI task with the given fields (one E.164 field by default).
inline json task(const std::string& reference, json fields = json(), const std::string& end = "2026-02-01T00:00:00Z") {
    if (fields.is_null()) {
        fields = json::array({field("InternationalE164", "442079460223", "8f1c2a9b3d4e5f60718293a4b5c6d7e8")});
    }
    return {{"reference", reference}, {"kind", "LI"},        {"start", "2026-01-01T00:00:00Z"},
            {"end", end},             {"endpoint", "lea1"}, {"fields", std::move(fields)}};
}

/// A random lowercase hex string of `bytes` bytes.
inline std::string random_hex(std::size_t bytes) {
    crypto::Secret s = crypto::Secret::random(bytes);
    return crypto::hex_encode(s.view());
}

inline json local_actor(int uid, const char* role = "security-officer") {
    return {{"kind", "local"}, {"uid", uid}, {"roles", json::array({role})}};
}

inline json cert_actor(const std::string& sha256, const std::string& subject = "CN=lea1") {
    return {{"kind", "certificate"}, {"listener", "lea"}, {"subject", subject}, {"sha256", sha256}};
}

}  // namespace enclave::audit::test
