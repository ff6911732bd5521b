// SPDX-License-Identifier: Apache-2.0
#pragma once
// The protective-monitoring pipeline (docs/monitoring.md): every event gets
// a sequence number and a time, is appended to a durable queue file
// (DIR/state/events/queue.jsonl) and is handed to each configured sink (a
// JSON-lines file with size-based rotation, stdout, RFC 5425 syslog over
// mutual TLS) by that sink's own thread. A sink that is down blocks nobody:
// its events wait in the queue (bounded by monitoring.queue_max_bytes) and a
// sink_failed event says so; should the bound be passed, the oldest events
// it has not had are dropped and an events_lost event names their sequence
// numbers. Each sink's position survives restarts (state/events/cursors).
//
// Account behaviour monitoring (AccountWatch) rides on the same hub: first
// use of an admin account, role changes, acts outside working hours, and
// unusual volumes of reveals or re-verifications.
//
// Holds no secret: events have none by construction (event_sink.hpp).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/config.hpp"
#include "appliance/event_sink.hpp"
#include "crypto/result.hpp"

namespace enclave::appliance {

/// One event as the sinks see it.
struct EventRecord {
    std::uint64_t seq = 0;
    std::chrono::system_clock::time_point time;
    Severity severity = Severity::info;
    std::string name;
    std::string json;  ///< the whole record as one JSON object (no newline)
};

/// A destination of events. deliver() is called from the sink's own thread
/// only, with records in sequence order; it returns an error when none of
/// the batch could be delivered (the hub retries the batch with backoff) and
/// the number delivered otherwise (a prefix of the batch).
class MonitoringSink {
public:
    virtual ~MonitoringSink() = default;
    [[nodiscard]] virtual std::string_view name() const noexcept = 0;
    virtual crypto::Result<std::size_t> deliver(const std::vector<EventRecord>& batch) = 0;
    /// Why the last deliver() failed, one word for sink_failed ("connect",
    /// "tls", "write", ...).
    [[nodiscard]] virtual std::string_view failure_reason() const noexcept { return "write"; }
};

/// A JSON-lines file: one record per line, rotated when the next line would
/// pass max_bytes (name.1 is the newest rotated file, name.<keep> the
/// oldest; older ones are deleted). Files are created 0600, folders 0700.
std::unique_ptr<MonitoringSink> make_file_sink(std::filesystem::path path, std::uint64_t max_bytes,
                                               std::uint32_t keep);
/// One JSON line per record on standard output.
std::unique_ptr<MonitoringSink> make_stdout_sink();

/// Working hours of account behaviour monitoring.
struct WorkingTime {
    bool enabled = false;       ///< false: every time is working time
    int start_minute = 0;       ///< minutes after 00:00 UTC
    int end_minute = 24 * 60;   ///< exclusive; end < start spans midnight
    std::uint8_t days = 0x7f;   ///< bit 0 = Monday .. bit 6 = Sunday
    [[nodiscard]] bool contains(std::chrono::system_clock::time_point t) const noexcept;
};
/// "07:00-19:00" and "mon-fri" / "mon,wed,fri" / "mon-sun" (monitoring
/// config); invalid_argument names what is wrong (never echoes the text).
crypto::Result<WorkingTime> parse_working_time(std::string_view hours, std::string_view days);

class MonitoringHub final : public EventSink {
public:
    /// Opens (creating 0700) `state_dir`/events and reloads the queue and
    /// the cursors. `log_next` (may be null) also gets every event, as before
    /// the hub existed (the operational log).
    static crypto::Result<std::unique_ptr<MonitoringHub>> open(const Config& config,
                                                              EventSink* log_next);
    ~MonitoringHub() override;
    MonitoringHub(const MonitoringHub&) = delete;
    MonitoringHub& operator=(const MonitoringHub&) = delete;

    /// Adds a sink before start(). Its cursor is restored by name; a new
    /// sink starts at the oldest event still queued.
    void add_sink(std::unique_ptr<MonitoringSink> sink);
    /// Starts one thread per sink and the flusher (fdatasync, cursors,
    /// compaction once a second).
    void start();
    /// Delivers what the sinks take within `grace`, then stops the threads
    /// and persists the cursors. Events emitted later stay queued.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

    void emit(const Event& event) noexcept override;
    void admin_act(const AdminAct& act) noexcept override;
    /// Queues an event that was logged already (one from before the hub
    /// opened): emit() without the log line.
    void replay(const Event& event) noexcept;

    /// Next sequence number to be assigned (for tests and /metrics).
    [[nodiscard]] std::uint64_t next_seq() const;
    /// Events queued for `sink` and not yet delivered.
    [[nodiscard]] std::uint64_t pending(std::string_view sink) const;

    struct Impl;

private:
    explicit MonitoringHub(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::appliance
