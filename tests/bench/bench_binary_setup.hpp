// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclave-bench-binary: the measured system. The real programs
// (bench_delivery_rig.hpp: `enclavectl init` instance, enclaved and
// enclave-lea-sim as child processes), an endpoint that takes Models A and
// C for the demo LEA client's certificate subject (as the LEA listener
// reports it in GET /v1/whoami), a task owned by it, and objects uploaded
// by the demo collector and delivered by URL.
// Holds no secret: the binary URLs it learns are bearer tokens for the
// demo LEA client of a throw-away instance, kept in memory only.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_binary_client.hpp"
#include "bench_binary_watch.hpp"
#include "bench_delivery_rig.hpp"

namespace enclave::bench::binary {

using delivery_bench::Rig;
using namespace std::chrono_literals;

inline constexpr std::uint64_t kMiB = 1024 * 1024;
inline constexpr const char* kEndpoint = "lea-pull";
inline constexpr const char* kTask = "LIID-PULL-1";

/// The instance, its Model A/C endpoint and task, the collector and LEA
/// client contexts, and the objects uploaded and delivered by URL.
class PullSetup {
public:
    explicit PullSetup(const fs::path& root) : rig_(root, 0, 2) {
        collector_ = client_context(rig_.pki(), "demo-collector", {});
        // Probe: what enclaved's LEA listener negotiates with a default
        // client, and the demo LEA client's subject as the listener sees it.
        SslCtxPtr probe = client_context(rig_.pki(), "demo-lea", {});
        Connection c(probe.get(), rig_.lea_port());
        std::string body;
        const Head h = c.get("/v1/whoami", "", [&](const char* p, std::size_t n) {
            body.append(p, n);
            return true;
        });
        const nlohmann::json who = nlohmann::json::parse(body, nullptr, false);
        if (h.status != 200 || !who.is_object() || !who.contains("subject")) {
            die("GET /v1/whoami: " + h.raw + body);
        }
        choice_ = {c.version_number(), c.cipher()};
        lea_ = client_context(rig_.pki(), "demo-lea", choice_);
        rig_.ctl({"endpoint", "add", kEndpoint, "--url", rig_.sim_base() + "/hi1/delivery", "--ca",
                  (rig_.pki() / "demo-ca.pem").string(), "--models", "A,C", "--client-subject",
                  who["subject"].get<std::string>(), "--receiver-country", "GB"},
                 "enclavectl endpoint add");
        rig_.create_task(kTask, kEndpoint);
        watch_ = std::make_unique<ArrivalWatch>(rig_.store());
    }

    Rig& rig() { return rig_; }
    ArrivalWatch& watch() { return *watch_; }
    SSL_CTX* lea() { return lea_.get(); }
    SSL_CTX* collector() { return collector_.get(); }
    [[nodiscard]] const TlsChoice& choice() const { return choice_; }

    /// Uploads `size` bytes of content `seed`; returns the upload's id.
    std::string upload(std::uint32_t seed, std::uint64_t size) {
        Connection c(collector(), rig_.ingest_port());
        c.send_all("PUT /ingest/v1/blobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                   "application/octet-stream\r\nContent-Length: " +
                   std::to_string(size) + "\r\n\r\n");
        std::vector<char> piece(kMiB);
        for (std::uint64_t at = 0; at < size; at += piece.size()) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), size - at));
            fill_content(seed, at, piece.data(), n);
            c.send_all(std::string_view(piece.data(), n));
        }
        const nlohmann::json up = nlohmann::json::parse(read_text(c), nullptr, false);
        if (!up.is_object() || !up.contains("id")) die("blob upload: " + up.dump());
        return up["id"].get<std::string>();
    }

    /// Uploads `size` bytes of content `seed`, submits an item naming it and
    /// waits for its delivery; returns the URL's path (/v1/binaries/...).
    std::string upload_and_deliver(std::uint32_t seed, std::uint64_t size) {
        const std::string id = upload(seed, size);
        Connection c(collector(), rig_.ingest_port());
        const std::size_t urls_before = watch_->urls().size();
        const std::uint64_t items = watch_->items();
        post_item(c, "blob-" + std::to_string(seed), 300, id);
        watch_->wait_items(items + 1, 60s);
        const auto urls = watch_->urls();
        if (urls.size() != urls_before + 1) die("the delivery carried no binary URL");
        const auto at = urls.back().find("/v1/binaries/");
        if (at == std::string::npos) die("not a Model A/C URL: " + urls.back());
        return urls.back().substr(at);
    }

    /// POSTs one item of about `bytes` bytes of JSON (naming `blob` if not
    /// empty) to `task`; dies unless the answer is 202.
    static void post_item(Connection& c, const std::string& key, std::size_t bytes,
                          const std::string& blob = {}, const std::string& task = kTask) {
        using nlohmann::json;
        json j{{"idempotencyKey", key},
               {"timestamp", "2026-01-01T00:00:00.000000Z"},
               {"sender", {{"identifiers", {"+447700900123"}}, {"isTargetedParty", true}}},
               {"receivers", json::array({{{"identifiers", {"peer@example.org"}}}})}};
        if (!blob.empty()) j["binaries"] = json::array({blob});
        // Padded with one more identifier ("n...", its quotes and comma).
        const std::size_t size = j.dump().size();
        if (size + 3 < bytes) {
            j["receivers"][0]["identifiers"].push_back(std::string(bytes - size - 3, 'n'));
        }
        const std::string body = j.dump();
        c.send_all("POST /ingest/v1/tasks/" + task +
                   "/items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
        const Head h = c.read_head();
        std::string answer;
        c.read_body(h.content_length, [&](const char* p, std::size_t n) {
            answer.append(p, n);
            return true;
        });
        if (h.status != 202) die("item POST: " + h.raw + answer);
    }

private:
    static std::string read_text(Connection& c) {
        const Head h = c.read_head();
        std::string body;
        c.read_body(h.content_length, [&](const char* p, std::size_t n) {
            body.append(p, n);
            return true;
        });
        if (h.status / 100 != 2) die("HTTP " + std::to_string(h.status) + ": " + body);
        return body;
    }

    Rig rig_;
    TlsChoice choice_;
    SslCtxPtr collector_, lea_;
    std::unique_ptr<ArrivalWatch> watch_;
};

}  // namespace enclave::bench::binary
