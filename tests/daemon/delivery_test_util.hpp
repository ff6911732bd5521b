// SPDX-License-Identifier: Apache-2.0
#pragma once
// Delivery test helpers: enclave-lea-sim as a process (with the instance's
// demo LEA server identity), an endpoint pointing at it, a task owned by it,
// ingest requests from the demo collector.
#include <openssl/sha.h>

#include <fstream>
#include <map>
#include <thread>

#include "audit_test_util.hpp"
#include "crypto/encoding.hpp"
#include "harness/http_client.hpp"
#include "harness/tls_client.hpp"

namespace enclave::daemon_test {

using namespace std::chrono_literals;

inline std::string sha256_hex(std::string_view data) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
    return crypto::hex_encode(crypto::ByteView(md, sizeof md));
}

/// enclave-lea-sim as a process, with the instance's demo LEA server identity.
class Simulator {
public:
    /// `extra`: more enclave-lea-sim arguments (e.g. --psk-file F).
    Simulator(const TestInstance& inst, std::uint16_t port = 0, std::vector<std::string> extra = {})
        : inst_(inst), extra_(std::move(extra)) {
        store_ = inst.scratch() / "lea-store";
        start(port);
    }
    void start(std::uint16_t port) {
        const auto port_file = inst_.scratch() / "sim.port";
        std::filesystem::remove(port_file);
        SpawnOptions o;
        o.argv = {LEA_SIM_PATH, "--listen", "127.0.0.1:" + std::to_string(port),
                  "--cert", (cert_.empty() ? inst_.pki("demo-lea-server.pem") : cert_).string(),
                  "--key", (key_.empty() ? inst_.pki("demo-lea-server.key") : key_).string(),
                  "--ca", inst_.pki("demo-ca.pem").string(),
                  "--store", store_.string(), "--port-file", port_file.string()};
        o.argv.insert(o.argv.end(), extra_.begin(), extra_.end());
        o.stderr_file = inst_.scratch() / "sim.stderr";
        proc_ = std::make_unique<Process>(o);
        for (int i = 0; i < 300 && !std::filesystem::exists(port_file); ++i) {
            std::this_thread::sleep_for(20ms);
        }
        port_ = static_cast<std::uint16_t>(std::stoi(read_file(port_file)));
    }
    /// The server certificate and key of the next start() (empty: the demo
    /// LEA server identity again).
    void use_identity(std::filesystem::path cert, std::filesystem::path key) {
        cert_ = std::move(cert);
        key_ = std::move(key);
    }
    void stop() {
        proc_->signal(SIGTERM);
        proc_->wait_exit(10s);
    }
    [[nodiscard]] std::uint16_t port() const { return port_; }
    /// deliveries.jsonl, one object per stored delivery, in arrival order.
    [[nodiscard]] std::vector<nlohmann::json> deliveries() const {
        std::vector<nlohmann::json> out;
        std::ifstream in(store_ / "deliveries.jsonl");
        for (std::string line; std::getline(in, line);) {
            if (!line.empty()) out.push_back(nlohmann::json::parse(line));
        }
        return out;
    }
    [[nodiscard]] std::map<std::string, std::string> binaries_sha256() const {
        std::map<std::string, std::string> out;
        std::ifstream in(store_ / "binaries.jsonl");
        for (std::string line; std::getline(in, line);) {
            if (line.empty()) continue;
            const nlohmann::json j = nlohmann::json::parse(line);
            out[j["uuid"]] = j["sha256"];
        }
        return out;
    }

private:
    const TestInstance& inst_;
    std::vector<std::string> extra_;
    std::filesystem::path store_;
    std::filesystem::path cert_, key_;
    std::unique_ptr<Process> proc_;
    std::uint16_t port_ = 0;
};

inline void add_endpoint(const TestInstance& inst, std::uint16_t port) {
    const std::string base = "https://127.0.0.1:" + std::to_string(port);
    RunResult r = ctl(inst, {"endpoint", "add", "lea-sim", "--url", base + "/hi1/delivery", "--ca",
                             inst.pki("demo-ca.pem").string(), "--binary-url-scheme",
                             base + "/binaryData/{id}/", "--receiver-country", "GB"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

inline void create_task(const TestInstance& inst, const std::string& reference) {
    const FieldSpec f{"InternationalE164", "442079460223", "8f1c2a9b3d4e5f60718293a4b5c6d7e8"};
    const auto r = unix_request(inst.socket(), "POST", "/v1/tasks",
                                task_json(reference, {f}, std::chrono::hours(24), "lea-sim").dump());
    ASSERT_EQ(r.status, 201) << r.body;
}

inline HttpReply post_json(TlsConnection& c, const std::string& target, const std::string& body) {
    c.send_all("POST " + target + " HTTP/1.1\r\nHost: e\r\nContent-Type: application/json\r\n" +
               "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    return c.read_reply();
}

inline nlohmann::json upload(TlsConnection& c, const std::string& data, const std::string& type) {
    c.send_all("PUT /ingest/v1/blobs HTTP/1.1\r\nHost: e\r\nContent-Type: " + type +
               "\r\nContent-Length: " + std::to_string(data.size()) + "\r\n\r\n" + data);
    const HttpReply r = c.read_reply();
    EXPECT_EQ(r.status, 201) << r.body;
    return nlohmann::json::parse(r.body, nullptr, false);
}

inline nlohmann::json item(int n, const std::vector<std::string>& blobs = {}) {
    nlohmann::json j{{"idempotencyKey", "k-" + std::to_string(n)},
           {"timestamp", "2026-01-01T00:00:00.000000Z"},
           {"sender", {{"identifiers", {"user-" + std::to_string(n)}}, {"isTargetedParty", true}}},
           {"receivers", nlohmann::json::array({{{"identifiers", {"peer"}}}})}};
    if (!blobs.empty()) j["binaries"] = blobs;
    return j;
}

/// Waits until `pred` holds (polling), up to `limit`.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds limit = 60s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return pred();
}

inline std::size_t items_delivered(const Simulator& sim) {
    std::size_t n = 0;
    for (const nlohmann::json& d : sim.deliveries()) n += d["items"].get<std::size_t>();
    return n;
}

}  // namespace enclave::daemon_test
