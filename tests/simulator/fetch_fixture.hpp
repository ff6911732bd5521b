// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test fixture for the Model A/C fetcher: an "appliance" RangeServer (file
// key, the project's server policy, client certificates required) and the
// simulated LEA's fetch identity (file key), under one test CA; a store
// directory; helpers to read fetched.jsonl and to build DELIVER messages
// whose binaryObjects point at the server.

#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "delivery/hi1_deliver.hpp"
#include "delivery/stream_test_util.hpp"
#include "delivery/uuid.hpp"
#include "delivery/xml_handover.hpp"
#include "simulator/binary_fetcher.hpp"
#include "support/range_server.hpp"

namespace enclave::testing {

struct FetchFixture {
    StreamPki pki;  // "server" = the appliance's LEA listener, "client" = the LEA
    RangeServer server{pki.server_ctx()};
    TempDir store;

    simulator::BinaryFetcherOptions options(std::uint64_t range_bytes = 0) const {
        simulator::BinaryFetcherOptions o;
        o.certificate = pki.pki.path("client.pem");
        o.private_key = pki.pki.path("client.key");
        o.trust_anchors = pki.pki.path("ca.pem");
        o.store = store.path();
        o.range_bytes = range_bytes;
        o.backoff = std::chrono::milliseconds(1);
        o.max_backoff = std::chrono::milliseconds(4);
        return o;
    }
    std::unique_ptr<simulator::BinaryFetcher> fetcher(std::uint64_t range_bytes = 0) const {
        return must_ok(simulator::BinaryFetcher::create(options(range_bytes)));
    }
    /// Serves `content` at /v1/binaries/<token>; the binaryObject facts for it.
    simulator::BinaryObjectFacts serve(const std::string& token, const std::string& content) {
        server.put("/v1/binaries/" + token, content);
        return {server.base_url() + "/v1/binaries/" + token, content.size(), sha256_hex(content),
                "2030-01-01T00:00:00Z"};
    }
    /// fetched.jsonl, one JSON object per line.
    std::vector<nlohmann::json> records() const {
        std::vector<nlohmann::json> out;
        std::ifstream in(store.path() / "fetched.jsonl");
        for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
        return out;
    }
    std::string stored(const simulator::FetchResult& r) const {
        std::ifstream in(store.path() / r.file, std::ios::binary);
        std::ostringstream s;
        s << in.rdbuf();
        return s.str();
    }
};

inline unsigned file_mode(const std::filesystem::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return 0;
    return st.st_mode & 0777u;
}

/// A schema-valid DELIVER message with one handoverItem carrying `binaries`.
inline std::string delivery_with_binaries(const std::vector<delivery::BinaryObject>& binaries) {
    delivery::HandoverItem item;
    item.timestamp = "2026-01-01T00:00:00Z";
    item.associated_binary_data = binaries;
    const std::string element = delivery::write_handover_item(item).value();
    delivery::DeliverySpec spec;
    spec.sender = {"XX", "CSP-1"};
    spec.reference = "LIID-FETCH-1";
    spec.delivery_id = delivery::uuid_v4();
    return delivery::build_deliver_request(spec, std::vector<std::string>{element}).value();
}

inline delivery::BinaryObject binary_object(const simulator::BinaryObjectFacts& f) {
    delivery::BinaryObject b;
    b.url = f.url;
    b.content_length = f.content_length;
    b.content_type = "application/octet-stream";
    if (!f.expiry.empty()) b.expiry = f.expiry;
    if (!f.checksum.empty()) b.checksum = f.checksum;
    return b;
}

}  // namespace enclave::testing
