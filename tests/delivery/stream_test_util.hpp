// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test helpers for LeaClient::get_stream: a PKI with file keys (a server and
// a client, one CA), the project's server and client TLS contexts, a
// deterministic object, and a sink that collects what it is given.

#include <memory>
#include <stdexcept>
#include <string>

#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "delivery/lea_client.hpp"
#include "hsm/tls_context.hpp"
#include "hsm/tls_context_test_util.hpp"

namespace enclave::testing {

template <class T>
T must_ok(crypto::Result<T> r) {
    if (!r) throw std::runtime_error(r.error().message());
    return std::move(*r);
}

/// `size` deterministic pseudo-random bytes (xorshift), as a string.
inline std::string pattern_object(std::size_t size, std::uint64_t seed = 7) {
    std::string out(size, '\0');
    std::uint64_t s = seed | 1;
    for (auto& c : out) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        c = static_cast<char>(s);
    }
    return out;
}

inline std::string sha256_hex(std::string_view data) {
    return crypto::hex_encode(crypto::digest(crypto::HashAlg::sha256, crypto::as_bytes(data)));
}

/// Collects a streamed body; counts the pieces and remembers the largest.
struct Collector {
    std::string data;
    std::size_t pieces = 0;
    std::size_t largest = 0;

    delivery::BodySink sink() {
        return [this](crypto::ByteView piece) -> crypto::Result<void> {
            ++pieces;
            largest = std::max(largest, piece.size());
            data.append(reinterpret_cast<const char*>(piece.data()), piece.size());
            return {};
        };
    }
};

/// A CA, "server" (127.0.0.1 / localhost) and "client" certificates with
/// file keys, and the project's TLS contexts for both sides.
struct StreamPki {
    PkiDir pki;
    std::unique_ptr<hsm::PrivateKeyResolver> resolver = hsm::make_key_resolver(nullptr, true);

    StreamPki() {
        pki.issue_file_key("server", TestKeyType::ec_p256, server_spec());
        pki.issue_file_key("client", TestKeyType::ec_p256, client_spec("lea-fetcher"));
    }
    hsm::SslCtxPtr server_ctx() {
        return must_ok(hsm::make_server_context({pki.path("server.pem"),
                                                 pki.path("server.key").string(),
                                                 pki.path("ca.pem"), {}, TLS1_2_VERSION},
                                                *resolver));
    }
    hsm::SslCtxPtr client_ctx() {
        return must_ok(hsm::make_client_context({pki.path("client.pem"),
                                                 pki.path("client.key").string(),
                                                 pki.path("ca.pem"), {}, TLS1_2_VERSION},
                                                *resolver));
    }
    std::unique_ptr<delivery::LeaClient> client(const std::string& base_url,
                                                std::size_t chunk_size = 16 * 1024) {
        delivery::LeaClientOptions o;
        o.base_url = base_url + "/";
        o.tls = client_ctx();
        o.chunk_size = chunk_size;
        return must_ok(delivery::LeaClient::create(std::move(o)));
    }
};

}  // namespace enclave::testing
