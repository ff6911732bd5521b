// SPDX-License-Identifier: Apache-2.0
#pragma once
// MonitoringHub internals (monitoring.hpp): the queue files, account
// behaviour monitoring and the hub's state. Holds no secret.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "appliance/monitoring.hpp"

namespace enclave::appliance {

/// {"seq":N,"time":"...Z","instance":"...","event":"...","severity":"...","fields":{...}}
std::string record_json(const EventRecord& r, const std::string& instance,
                        const std::string& fields_json);
/// RFC 3339 UTC with milliseconds: "2026-11-22T07:30:00.123Z".
std::string rfc3339_ms(std::chrono::system_clock::time_point t);

/// The queue's files in DIR/state/events: queue.jsonl (every record some
/// sink has not had, one JSON line each, appended), cursors.json (the next
/// sequence number and each sink's last delivered one, replaced atomically),
/// accounts.json (AccountWatch).
class EventStore {
public:
    EventStore() = default;
    ~EventStore();
    EventStore(const EventStore&) = delete;
    EventStore& operator=(const EventStore&) = delete;

    struct Loaded {
        std::uint64_t next_seq = 1;
        std::map<std::string, std::uint64_t> cursors;
        std::vector<EventRecord> records;  ///< in order, at most max_bytes of them (the newest)
        std::uint64_t torn = 0;            ///< lines that did not parse (a torn last write)
    };
    crypto::Result<Loaded> open(const std::filesystem::path& dir, std::uint64_t max_bytes);
    crypto::Result<void> append(const std::string& line);
    void sync() noexcept;
    /// Empties the file when `records` is empty; rewrites it with them when
    /// it has grown past twice their size (plus 1 MiB).
    crypto::Result<void> compact(const std::deque<EventRecord>& records, std::uint64_t bytes);
    crypto::Result<void> save_cursors(std::uint64_t next_seq,
                                      const std::vector<std::pair<std::string, std::uint64_t>>& c);
    [[nodiscard]] std::filesystem::path accounts_path() const { return dir_ / "accounts.json"; }

private:
    std::filesystem::path dir_;
    int fd_ = -1;
    std::uint64_t file_bytes_ = 0;
    bool dirty_ = false;
};

/// Writes `text` to `path` through a temporary file, fsync and rename (mode 0600).
crypto::Result<void> replace_file(const std::filesystem::path& path, const std::string& text);

/// Account behaviour monitoring: first use of an account, role changes,
/// acts outside working hours, unusual volumes of reveals and
/// re-verifications. Thread-safe.
class AccountWatch {
public:
    void configure(WorkingTime time, std::uint32_t max_reveals, std::uint32_t max_reverifies);
    /// Reads the known accounts (a missing file is an empty list).
    void load(std::filesystem::path file);
    /// The events one admin act raises (often none).
    std::vector<Event> observe(const AdminAct& act, std::chrono::system_clock::time_point now);

private:
    void save_locked();

    std::mutex mu_;
    WorkingTime time_;
    std::uint32_t max_reveals_ = 0;
    std::uint32_t max_reverifies_ = 0;
    std::filesystem::path file_;
    std::map<std::string, std::uint8_t> known_;  ///< account -> role bits last seen
    std::map<std::string, std::deque<std::chrono::system_clock::time_point>> acts_;
    std::map<std::string, std::chrono::system_clock::time_point> last_warned_;
};

struct MonitoringHub::Impl {
    struct Slot {
        std::unique_ptr<MonitoringSink> sink;
        std::uint64_t cursor = 0;  ///< last delivered sequence number
        bool down = false;         ///< sink thread only
        /// Sequence numbers dropped before this sink had them, reported
        /// (events_lost) after its next successful delivery; 0 = none.
        std::uint64_t lost_first = 0;
        std::uint64_t lost_last = 0;
        std::thread thread;
    };

    MonitoringHub* owner = nullptr;
    std::string instance;
    std::uint64_t queue_max_bytes = 0;
    EventSink* log_next = nullptr;
    EventStore store;
    AccountWatch watch;
    std::map<std::string, std::uint64_t> restored_cursors;

    mutable std::mutex mu;
    std::condition_variable cv;
    std::uint64_t next_seq = 1;
    std::deque<EventRecord> records;  ///< every record some sink has not had, by seq
    std::uint64_t queued_bytes = 0;
    bool queue_write_failed = false;
    bool cursors_dirty = false;
    std::uint64_t last_saved_next_seq = 0;
    std::vector<std::unique_ptr<Slot>> sinks;
    bool started = false;
    bool stopped = false;
    bool draining = false;
    bool stop_now = false;
    std::chrono::steady_clock::time_point drain_deadline;
    std::thread flusher;

    void record(const Event& event);
    void append_locked(EventRecord record);
    [[nodiscard]] std::uint64_t min_cursor_locked() const;
    std::vector<EventRecord> batch_after_locked(std::uint64_t cursor, bool& gap) const;
    void run_sink(Slot& slot);
    void run_flusher();
    void flush_once();
};

}  // namespace enclave::appliance
