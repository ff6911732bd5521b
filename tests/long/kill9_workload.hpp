// SPDX-License-Identifier: Apache-2.0
#pragma once
// The mixed workload of the kill -9 rounds (kill9_test.cpp): collector
// threads on the ingest listener and an operator thread on the admin socket,
// running without pause while the test kills and restarts enclaved. Every
// client does what a careful real one does: an answer lost to the kill is
// asked for again (the same idempotency key, the same task reference) until
// an answer arrives; an upload whose answer was lost is uploaded again.
// Only 2xx answers count as acknowledgements; the Ledger records them.
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "archive/ltap.hpp"
#include "delivery_test_util.hpp"

namespace enclave::daemon_test::kill9 {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

/// splitmix64: the same sequence on every platform (std distributions are not).
struct Rng {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    /// Uniform in [lo, hi].
    std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + next() % (hi - lo + 1); }
    std::string digits(std::size_t n) {
        std::string s;
        for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('0' + next() % 10);
        return s;
    }
    std::string hex(std::size_t bytes) {
        std::string raw(bytes, '\0');
        for (auto& c : raw) c = static_cast<char>(next() & 0xff);
        return crypto::hex_encode(crypto::as_bytes(raw));
    }
    std::string bytes(std::size_t n) {
        std::string data(n, '\0');
        for (std::size_t off = 0; off < n; off += 8) {
            const std::uint64_t v = next();
            std::memcpy(data.data() + off, &v, std::min<std::size_t>(8, n - off));
        }
        return data;
    }
};

/// A task whose values and salts are unique (seeded) strings.
struct CanaryTask {
    std::string reference;
    std::vector<FieldSpec> fields;
    [[nodiscard]] std::vector<std::string> secrets() const {
        std::vector<std::string> out;
        for (const auto& f : fields) {
            out.push_back(f.value);
            out.push_back(f.salt_hex);
            auto raw = crypto::hex_decode(f.salt_hex);
            if (raw) out.emplace_back(raw->begin(), raw->end());
        }
        return out;
    }
};

/// What the clients were told (2xx answers only).
struct LedgerData {
    std::set<int> items;                  ///< acknowledged item numbers (sender `user-N`)
    std::map<int, std::string> item_sha;  ///< acknowledged item -> its binary's SHA-256
    std::set<std::string> uploaded_sha;   ///< every binary sent (acknowledged or not)
    std::vector<std::string> created;     ///< references whose creation was acknowledged
    std::vector<CanaryTask> closed;       ///< tasks whose close was acknowledged
    std::map<std::string, std::string> archived;  ///< acknowledged archive reference -> its data
    std::vector<std::string> failures;
    int resent = 0;       ///< requests sent again after a lost answer
    int duplicates = 0;   ///< item units answered as duplicates (their first answer was lost)
    int reuploads = 0;    ///< uploads repeated after a lost answer
    int confirmed = 0;    ///< task operations whose retry answered 409 (the first had committed)
};

/// LedgerData shared between the workload threads and the test thread.
struct Ledger : LedgerData {
    mutable std::mutex mu;

    void fail(std::string what) {
        std::lock_guard lock(mu);
        failures.push_back(std::move(what));
    }
    void count_resent() {
        std::lock_guard lock(mu);
        ++resent;
    }
};

class Workload {
public:
    Workload(const TestInstance& inst, std::string item_reference, std::uint64_t seed)
        : inst_(inst), item_ref_(std::move(item_reference)), seed_(seed) {}
    ~Workload() { stop(); }
    Workload(const Workload&) = delete;
    Workload& operator=(const Workload&) = delete;

    void start() {
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this, i] { items_loop(i); });
        threads_.emplace_back([this] { binaries_loop(); });
        threads_.emplace_back([this] { tasks_loop(); });
        threads_.emplace_back([this] { archive_loop(); });
    }
    /// No new operation starts; the ones in progress are asked until answered
    /// (the daemon must be up), for at most two minutes.
    void stop() {
        if (threads_.empty()) return;
        give_up_at_.store((Clock::now() + std::chrono::minutes(2)).time_since_epoch().count());
        stopping_ = true;
        for (auto& t : threads_) t.join();
        threads_.clear();
    }
    Ledger& ledger() { return ledger_; }

private:
    [[nodiscard]] bool gave_up() const {
        return Clock::now().time_since_epoch().count() > give_up_at_.load();
    }

    /// The first answer to one request on the ingest listener, sent again on a
    /// fresh connection while the answer is lost (kill) or the daemon is not
    /// ready (503) / busy (429). nullopt after stop() + two minutes.
    /// `sent`: how many times the request went out (a lost answer makes it > 1).
    std::optional<HttpReply> ingest(std::unique_ptr<TlsConnection>& conn, const std::string& head,
                                    std::string_view body, int& sent) {
        sent = 0;
        for (int attempt = 0; !gave_up(); ++attempt) {
            if (!conn || !conn->ok()) {
                conn = std::make_unique<TlsConnection>(inst_.ingest_port(), inst_.collector_client());
                if (!conn->ok()) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    continue;
                }
            }
            if (sent++ > 0) ledger_.count_resent();
            HttpReply r;
            if (conn->send_all(head) && conn->send_all(body)) r = conn->read_reply();
            if (r.status / 100 != 2) conn.reset();
            if (r.status == 0) continue;
            if (r.status == 429 || r.status == 503 || r.status == 507) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                continue;
            }
            return r;
        }
        return std::nullopt;
    }

    /// The same on the admin socket.
    std::optional<HttpReply> admin(const std::string& method, const std::string& target,
                                   const std::string& body, int& sent) {
        sent = 0;
        while (!gave_up()) {
            if (sent++ > 0) ledger_.count_resent();
            HttpReply r = unix_request(inst_.socket(), method, target, body);
            if (r.status == 0 || r.status == 503) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                continue;
            }
            return r;
        }
        return std::nullopt;
    }

    /// Keyed items (one unit each) until acknowledged; true when they were.
    bool submit(std::unique_ptr<TlsConnection>& conn, const json& units,
                const std::vector<int>& numbers, const std::vector<std::string>& shas) {
        const std::string body = units.dump();
        const std::string head = "POST /ingest/v1/tasks/" + item_ref_ +
                                 "/items HTTP/1.1\r\nHost: e\r\nContent-Type: application/json\r\n"
                                 "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
        const std::string what = "items " + std::to_string(numbers.front()) + "..";
        int sent = 0;
        const auto r = ingest(conn, head, body, sent);
        if (!r) return ledger_.fail(what + ": no answer"), false;
        const json a = json::parse(r->body, nullptr, false);
        if (r->status != 202 || !a.is_object() || !a["units"].is_array() ||
            a["units"].size() != numbers.size()) {
            return ledger_.fail(what + ": HTTP " + std::to_string(r->status) + " " + r->body), false;
        }
        std::lock_guard lock(ledger_.mu);
        for (std::size_t i = 0; i < numbers.size(); ++i) {
            if (a["units"][i]["duplicate"] == true) {
                ++ledger_.duplicates;
                // Only a request sent again may find its key already recorded.
                if (sent == 1) ledger_.failures.push_back(what + ": duplicate on first send");
            }
            ledger_.items.insert(numbers[i]);
            if (!shas[i].empty()) ledger_.item_sha[numbers[i]] = shas[i];
        }
        return true;
    }

    void items_loop(int index) {
        Rng rng{seed_ ^ (0x1000u + static_cast<unsigned>(index))};
        std::unique_ptr<TlsConnection> conn;
        while (!stopping_) {
            const int n = static_cast<int>(rng.between(1, 20));
            json units = json::array();
            std::vector<int> numbers;
            for (int i = 0; i < n; ++i) {
                numbers.push_back(next_item_++);
                units.push_back(item(numbers.back()));
            }
            if (!submit(conn, units, numbers, std::vector<std::string>(numbers.size()))) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(rng.between(20, 120)));
        }
    }

    /// An upload until a 201 answers: its id, or "" after a failure (recorded).
    std::string upload(std::unique_ptr<TlsConnection>& conn, const std::string& data,
                       const std::string& sha) {
        const std::string head = "PUT /ingest/v1/blobs HTTP/1.1\r\nHost: e\r\n"
                                 "Content-Type: application/octet-stream\r\nContent-Length: " +
                                 std::to_string(data.size()) + "\r\n\r\n";
        {
            std::lock_guard lock(ledger_.mu);
            ledger_.uploaded_sha.insert(sha);
        }
        int sent = 0;
        const auto r = ingest(conn, head, data, sent);
        {
            std::lock_guard lock(ledger_.mu);
            ledger_.reuploads += sent > 1 ? sent - 1 : 0;
        }
        const json j = r ? json::parse(r->body, nullptr, false) : json();
        if (!r || r->status != 201 || !j.is_object() || !j["id"].is_string()) {
            ledger_.fail("upload: " + (r ? "HTTP " + std::to_string(r->status) + " " + r->body
                                         : std::string("no answer")));
            return {};
        }
        if (j["sha256"] != sha || j["size"] != data.size()) ledger_.fail("upload: wrong sha256/size");
        return j["id"].get<std::string>();
    }

    void binaries_loop() {
        Rng rng{seed_ ^ 0x2000u};
        std::unique_ptr<TlsConnection> conn;
        while (!stopping_) {
            // 1 KiB .. 1 MiB, log-uniform: a few chunks of the blob format at most.
            const std::size_t size = std::size_t{1024} << rng.between(0, 10);
            const std::string data = rng.bytes(rng.between(size / 2 + 1, size));
            const std::string sha = sha256_hex(data);
            std::this_thread::sleep_for(std::chrono::milliseconds(rng.between(20, 120)));
            const std::string id = upload(conn, data, sha);
            if (id.empty()) return;
            const int n = next_item_++;
            if (!submit(conn, json::array({item(n, {id})}), {n}, {sha})) return;
        }
    }

    CanaryTask canary(Rng& rng, int n) {
        CanaryTask t;
        t.reference = "KILL-T" + std::to_string(n);
        t.fields.push_back({"InternationalE164", "4479" + rng.digits(11), rng.hex(32)});
        t.fields.push_back({"EmailAddress", "canary" + rng.digits(12) + "@example.org", rng.hex(16),
                            "hmac-sha256"});
        return t;
    }

    /// One admin operation until answered: true when it took effect (2xx, or
    /// a 409 to a retry: the first attempt had committed before the kill).
    bool task_op(const std::string& target, const std::string& body, int ok_status) {
        int sent = 0;
        const auto r = admin("POST", target, body, sent);
        if (!r) return ledger_.fail(target + ": no answer"), false;
        if (r->status == ok_status) return true;
        std::lock_guard lock(ledger_.mu);
        if (r->status == 409 && sent > 1) {
            ++ledger_.confirmed;
            return true;
        }
        ledger_.failures.push_back(target + ": HTTP " + std::to_string(r->status) + " " + r->body);
        return false;
    }

    /// Creates and closes canary tasks (audit appends: hash.verified,
    /// task.created, task.closed, task.purged).
    void tasks_loop() {
        Rng rng{seed_ ^ 0x3000u};
        for (int n = 0; !stopping_; ++n) {
            CanaryTask t = canary(rng, n);
            const bool created = task_op("/v1/tasks", task_json(t.reference, t.fields).dump(), 201);
            if (!created) return;
            {
                std::lock_guard lock(ledger_.mu);
                ledger_.created.push_back(t.reference);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(rng.between(100, 500)));
            if (!task_op("/v1/task/close?reference=" + t.reference, {}, 200)) return;
            {
                std::lock_guard lock(ledger_.mu);
                ledger_.closed.push_back(std::move(t));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(rng.between(100, 500)));
        }
    }

    /// One LTAP request on listeners.lea until answered (lost answers are
    /// asked for again with the same body: ARCHIVE is idempotent on its
    /// SerialNumber). nullopt after stop() + two minutes.
    std::optional<HttpReply> ltap(std::unique_ptr<TlsConnection>& conn, const std::string& body) {
        const std::string head = "POST /ltap HTTP/1.1\r\nHost: e\r\nContent-Type: application/ltap+xml\r\n"
                                 "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
        for (int sent = 0; !gave_up(); ++sent) {
            if (!conn || !conn->ok()) {
                conn = std::make_unique<TlsConnection>(inst_.lea_port(), inst_.lea_client());
                if (!conn->ok()) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    continue;
                }
            }
            if (sent > 0) ledger_.count_resent();
            HttpReply r;
            if (conn->send_all(head) && conn->send_all(body)) r = conn->read_reply();
            if (r.status != 200) conn.reset();
            if (r.status == 0 || r.status == 503) continue;
            return r;
        }
        return std::nullopt;
    }

    /// Archives small objects, one per request, each with its own serial
    /// number; acknowledged when the answer is waiting or granted with a
    /// reference.
    void archive_loop() {
        Rng rng{seed_ ^ 0x4000u};
        std::unique_ptr<TlsConnection> conn;
        for (std::int64_t serial = 1; !stopping_; ++serial) {
            const std::string data = "archived " + rng.hex(24);
            archive::Request req;
            req.info.service = archive::ServiceType::archive;
            req.info.serial_number = serial;
            archive::DataItem item;
            item.raw_data = crypto::Bytes(data.begin(), data.end());
            req.data.push_back(std::move(item));
            const auto xml = archive::render_request(req);
            if (!xml) return ledger_.fail("archive: render: " + xml.error().message());
            const auto r = ltap(conn, *xml);
            if (!r) return ledger_.fail("archive: no answer");
            auto parsed = archive::parse_response(r->body);
            if (r->status != 200 || !parsed || !std::holds_alternative<archive::OperationResponse>(*parsed)) {
                return ledger_.fail("archive: HTTP " + std::to_string(r->status) + " " + r->body);
            }
            const auto& op = std::get<archive::OperationResponse>(*parsed);
            if (op.status == archive::StatusInfo::rejection || op.data.size() != 1 || !op.data[0].data_reference) {
                return ledger_.fail("archive: not accepted: " + r->body);
            }
            {
                std::lock_guard lock(ledger_.mu);
                ledger_.archived[*op.data[0].data_reference] = data;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(rng.between(20, 200)));
        }
    }

    const TestInstance& inst_;
    std::string item_ref_;
    std::uint64_t seed_;
    Ledger ledger_;
    std::atomic<bool> stopping_{false};
    std::atomic<Clock::rep> give_up_at_{Clock::time_point::max().time_since_epoch().count()};
    std::atomic<int> next_item_{0};
    std::vector<std::thread> threads_;
};

}  // namespace enclave::daemon_test::kill9
