// SPDX-License-Identifier: Apache-2.0
// The PSK store (psk_store.hpp) behind the TLS PSK callbacks (hsm/tls_psk.hpp):
// the LEA listener looks a client's identity up, a PSK endpoint's client
// offers the endpoint's current PSK. Each lookup reads the store (one KEK
// unwrap), so a rotation or revocation applies from the next handshake on.
#include <openssl/ssl.h>

#include "appliance/log.hpp"
#include "appliance/psk_store.hpp"
#include "delivery_services_impl.hpp"
#include "hsm/tls_psk.hpp"

namespace enclave::appliance {

namespace {

class StorePskResolver final : public hsm::ServerPskResolver {
public:
    explicit StorePskResolver(PskStore& store) : store_(store) {}
    std::optional<hsm::ServerPsk> find(std::string_view identity) override {
        auto m = store_.find(identity, unix_now());
        if (!m) {
            log(LogLevel::error, "tls", "PSK store: " + m.error().message());
            return std::nullopt;
        }
        if (!*m) return std::nullopt;
        return hsm::ServerPsk{(*m)->info.endpoint, std::move((*m)->key)};
    }

private:
    PskStore& store_;
};

class StorePskSource final : public hsm::ClientPskSource {
public:
    StorePskSource(PskStore& store, std::string endpoint)
        : store_(store), endpoint_(std::move(endpoint)) {}
    std::optional<Current> current() override {
        auto m = store_.current(endpoint_, unix_now());
        if (!m) {
            log(LogLevel::error, "delivery", "PSK store: " + m.error().message());
            return std::nullopt;
        }
        if (!*m) {
            log(LogLevel::warning, "delivery",
                "endpoint " + endpoint_ + " authenticates with a PSK but has none usable now");
            return std::nullopt;
        }
        return Current{(*m)->info.identity, std::move((*m)->key)};
    }

private:
    PskStore& store_;
    std::string endpoint_;
};

}  // namespace

namespace detail {

crypto::Result<void> use_endpoint_psk(DeliveryServices::Impl& s, const EndpointSpec& spec,
                                      SSL_CTX* ctx) {
    return hsm::enable_client_psk(ctx, std::make_shared<StorePskSource>(*s.psks, spec.name));
}

}  // namespace detail

std::shared_ptr<hsm::ServerPskResolver> DeliveryServices::lea_psk_resolver() {
    return std::make_shared<StorePskResolver>(*impl_->psks);
}

}  // namespace enclave::appliance
