// SPDX-License-Identifier: Apache-2.0
// MonitoringHub: sequence numbers, the durable queue, one thread per sink
// (monitoring.hpp). The queue's files are in monitoring_store.cpp, account
// behaviour monitoring in monitoring_watch.cpp.
#include <algorithm>

#include "appliance/log.hpp"
#include "monitoring_impl.hpp"

namespace enclave::appliance {
namespace {

constexpr std::size_t kBatch = 256;
constexpr auto kRetryFirst = std::chrono::milliseconds(500);
constexpr auto kRetryMax = std::chrono::seconds(30);

}  // namespace

std::uint64_t MonitoringHub::Impl::min_cursor_locked() const {
    std::uint64_t m = next_seq - 1;
    for (const auto& s : sinks) m = std::min(m, s->cursor);
    return m;
}

void MonitoringHub::Impl::append_locked(EventRecord record) {
    std::string line = record.json;
    line += '\n';
    if (auto ok = store.append(line); !ok && !queue_write_failed) {
        queue_write_failed = true;
        log(LogLevel::error, "monitoring",
            "the event queue file cannot be written (" + ok.error().message() +
                "): events are kept in memory only until it can");
    } else if (ok) {
        queue_write_failed = false;
    }
    queued_bytes += line.size();
    records.push_back(std::move(record));
    // Over the bound: drop the oldest. A sink that had not had them notices
    // the gap in sequence numbers and reports it (events_lost).
    while (queued_bytes > queue_max_bytes && records.size() > 1) {
        queued_bytes -= records.front().json.size() + 1;
        records.pop_front();
    }
}

void MonitoringHub::Impl::record(const Event& event) {
    const auto now = std::chrono::system_clock::now();
    {
        std::lock_guard lock(mu);
        EventRecord r;
        r.seq = next_seq++;
        r.time = now;
        r.severity = event_severity(event);
        r.name = std::string(event_name(event));
        r.json = record_json(r, instance, event_fields_json(event));
        append_locked(std::move(r));
    }
    cv.notify_all();
}

/// Records with seq > cursor, at most kBatch; `gap` is set when the oldest
/// queued record is past cursor + 1 (the ones between were dropped).
std::vector<EventRecord> MonitoringHub::Impl::batch_after_locked(std::uint64_t cursor,
                                                                 bool& gap) const {
    std::vector<EventRecord> out;
    gap = false;
    if (records.empty() || records.back().seq <= cursor) return out;
    const std::uint64_t base = records.front().seq;
    if (base > cursor + 1) {
        gap = true;
        return out;
    }
    std::size_t i = static_cast<std::size_t>(cursor + 1 - base);
    for (; i < records.size() && out.size() < kBatch; ++i) out.push_back(records[i]);
    return out;
}

void MonitoringHub::Impl::run_sink(Slot& slot) {
    auto backoff = kRetryFirst;
    for (;;) {
        std::vector<EventRecord> batch;
        {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] {
                return stop_now || (draining && slot.cursor >= next_seq - 1) ||
                       (!records.empty() && records.back().seq > slot.cursor);
            });
            if (stop_now || (draining && (slot.cursor >= next_seq - 1 ||
                                          std::chrono::steady_clock::now() > drain_deadline))) {
                return;
            }
            bool gap = false;
            batch = batch_after_locked(slot.cursor, gap);
            if (gap) {
                // Dropped before this sink had them: skip, and say so once
                // the sink takes events again (saying it now would only
                // queue more for a sink that is down).
                if (slot.lost_first == 0) slot.lost_first = slot.cursor + 1;
                slot.lost_last = records.front().seq - 1;
                slot.cursor = slot.lost_last;
                continue;
            }
        }
        if (batch.empty()) continue;
        auto delivered = slot.sink->deliver(batch);
        if (!delivered || *delivered == 0) {
            if (!slot.down) {
                slot.down = true;
                log(LogLevel::error, "monitoring",
                    "sink " + std::string(slot.sink->name()) + " failed: " +
                        (delivered ? std::string("nothing written") : delivered.error().message()));
                owner->emit(events::SinkFailed{slot.sink->name(), slot.sink->failure_reason()});
            }
            std::unique_lock lock(mu);
            cv.wait_for(lock, backoff, [&] { return stop_now || draining; });
            if (draining && std::chrono::steady_clock::now() > drain_deadline) return;
            backoff = std::min<std::chrono::milliseconds>(backoff * 2, kRetryMax);
            continue;
        }
        backoff = kRetryFirst;
        std::uint64_t pending = 0;
        {
            std::lock_guard lock(mu);
            slot.cursor = batch[*delivered - 1].seq;
            pending = next_seq - 1 - slot.cursor;
            cursors_dirty = true;
        }
        if (slot.down) {
            slot.down = false;
            log(LogLevel::info, "monitoring", "sink " + std::string(slot.sink->name()) + " recovered");
            owner->emit(events::SinkRecovered{slot.sink->name(), pending});
        }
        if (slot.lost_first != 0) {
            const std::uint64_t first = slot.lost_first;
            const std::uint64_t last = slot.lost_last;
            slot.lost_first = slot.lost_last = 0;
            log(LogLevel::error, "monitoring",
                "sink " + std::string(slot.sink->name()) + " lost events " + std::to_string(first) +
                    ".." + std::to_string(last) + " (monitoring.queue_max_bytes passed while it was behind)");
            owner->emit(events::EventsLost{slot.sink->name(), last - first + 1, first, last});
        }
    }
}

void MonitoringHub::Impl::flush_once() {
    std::lock_guard lock(mu);
    store.sync();
    // Records every sink has had leave memory; the file follows.
    const std::uint64_t done = min_cursor_locked();
    while (!records.empty() && records.front().seq <= done) {
        queued_bytes -= records.front().json.size() + 1;
        records.pop_front();
    }
    if (auto ok = store.compact(records, queued_bytes); !ok) {
        log(LogLevel::error, "monitoring", "compacting the event queue: " + ok.error().message());
    }
    if (cursors_dirty || last_saved_next_seq != next_seq) {
        std::vector<std::pair<std::string, std::uint64_t>> cursors;
        for (const auto& s : sinks) cursors.emplace_back(std::string(s->sink->name()), s->cursor);
        if (auto ok = store.save_cursors(next_seq, cursors); !ok) {
            log(LogLevel::error, "monitoring", "saving sink positions: " + ok.error().message());
        } else {
            cursors_dirty = false;
            last_saved_next_seq = next_seq;
        }
    }
}

void MonitoringHub::Impl::run_flusher() {
    std::unique_lock lock(mu);
    while (!stop_now) {
        cv.wait_for(lock, std::chrono::seconds(1), [&] { return stop_now; });
        lock.unlock();
        flush_once();
        lock.lock();
    }
}

crypto::Result<std::unique_ptr<MonitoringHub>> MonitoringHub::open(const Config& config,
                                                                  EventSink* log_next) {
    auto impl = std::make_unique<Impl>();
    impl->instance = config.instance_name;
    impl->queue_max_bytes = config.monitoring.queue_max_bytes;
    impl->log_next = log_next;
    auto time = parse_working_time(config.monitoring.working_hours, config.monitoring.working_days);
    if (!time) return tl::unexpected(time.error());
    impl->watch.configure(*time, config.monitoring.max_reveals_per_hour,
                          config.monitoring.max_reverifications_per_hour);
    auto loaded = impl->store.open(config.data_dir / "state" / "events", impl->queue_max_bytes);
    if (!loaded) return tl::unexpected(loaded.error());
    impl->next_seq = loaded->next_seq;
    impl->restored_cursors = std::move(loaded->cursors);
    for (auto& r : loaded->records) {
        impl->queued_bytes += r.json.size() + 1;
        impl->records.push_back(std::move(r));
    }
    impl->watch.load(impl->store.accounts_path());
    auto hub = std::unique_ptr<MonitoringHub>(new MonitoringHub(std::move(impl)));
    hub->impl_->owner = hub.get();
    return hub;
}

MonitoringHub::MonitoringHub(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MonitoringHub::~MonitoringHub() { stop(std::chrono::milliseconds(2000)); }

void MonitoringHub::add_sink(std::unique_ptr<MonitoringSink> sink) {
    auto slot = std::make_unique<Impl::Slot>();
    std::lock_guard lock(impl_->mu);
    const std::string name(sink->name());
    const auto it = impl_->restored_cursors.find(name);
    // A new sink starts with the oldest event still queued.
    const std::uint64_t oldest = impl_->records.empty() ? impl_->next_seq : impl_->records.front().seq;
    slot->cursor = it != impl_->restored_cursors.end() ? it->second : oldest - 1;
    slot->sink = std::move(sink);
    impl_->sinks.push_back(std::move(slot));
}

void MonitoringHub::start() {
    std::lock_guard lock(impl_->mu);
    if (impl_->started) return;
    impl_->started = true;
    for (auto& s : impl_->sinks) {
        Impl::Slot* slot = s.get();
        slot->thread = std::thread([this, slot] { impl_->run_sink(*slot); });
    }
    impl_->flusher = std::thread([this] { impl_->run_flusher(); });
}

void MonitoringHub::stop(std::chrono::milliseconds grace) {
    {
        std::lock_guard lock(impl_->mu);
        if (!impl_->started || impl_->stopped) return;
        impl_->stopped = true;
        impl_->draining = true;
        impl_->drain_deadline = std::chrono::steady_clock::now() + grace;
    }
    impl_->cv.notify_all();
    for (auto& s : impl_->sinks) {
        if (s->thread.joinable()) s->thread.join();
    }
    {
        std::lock_guard lock(impl_->mu);
        impl_->stop_now = true;
    }
    impl_->cv.notify_all();
    if (impl_->flusher.joinable()) impl_->flusher.join();
    impl_->flush_once();
}

void MonitoringHub::emit(const Event& event) noexcept {
    if (impl_->log_next != nullptr) impl_->log_next->emit(event);
    try {
        impl_->record(event);
    } catch (...) {
        // bad_alloc: the event is not queued (if its sequence number was
        // taken, the SIEM sees a gap); the log line above has it.
    }
}

void MonitoringHub::replay(const Event& event) noexcept {
    try {
        impl_->record(event);
    } catch (...) {
        // bad_alloc: it was logged when it happened.
    }
}

void MonitoringHub::admin_act(const AdminAct& act) noexcept {
    try {
        for (const Event& e : impl_->watch.observe(act, std::chrono::system_clock::now())) emit(e);
    } catch (...) {
        log(LogLevel::error, "monitoring", "account behaviour monitoring failed for one request");
    }
}

std::uint64_t MonitoringHub::next_seq() const {
    std::lock_guard lock(impl_->mu);
    return impl_->next_seq;
}

std::uint64_t MonitoringHub::pending(std::string_view sink) const {
    std::lock_guard lock(impl_->mu);
    for (const auto& s : impl_->sinks) {
        if (s->sink->name() == sink) return impl_->next_seq - 1 - s->cursor;
    }
    return 0;
}

}  // namespace enclave::appliance
