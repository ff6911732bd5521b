// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared by the outbox suites: a KEK, a scratch directory, item makers.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/key_wrapper.hpp"
#include "crypto/secret.hpp"
#include "delivery/outbox.hpp"
#include "support/paths.hpp"

namespace enclave::delivery::test {

using namespace std::chrono_literals;

inline OutboxItem item(const std::string& payload, std::vector<PendingBinary> binaries = {}) {
    return OutboxItem{payload, std::move(binaries)};
}

inline std::vector<OutboxItem> items(const std::string& prefix, int n) {
    std::vector<OutboxItem> v;
    for (int i = 0; i < n; ++i) v.push_back(item("<handoverItem>" + prefix + std::to_string(i) + "</handoverItem>"));
    return v;
}

/// The error code of a failed result; std::nullopt when it succeeded.
template <class T>
std::optional<crypto::Errc> errc_of(const crypto::Result<T>& r) {
    return r ? std::nullopt : std::optional<crypto::Errc>(r.error().code());
}

inline PendingBinary binary(const std::string& url, char fill = 'a') {
    return PendingBinary{"blob" + std::string(1, fill), url, 1024, "image/jpeg", std::string(64, fill)};
}

class OutboxFixture : public ::testing::Test {
protected:
    OutboxFixture() : kek_("test-kek", crypto::Secret::random(32)) {}

    std::filesystem::path db_path() const { return dir_.path() / "outbox.db"; }

    std::unique_ptr<Outbox> open(const OutboxOptions& options = {}) {
        auto box = Outbox::open(db_path(), kek_, options);
        EXPECT_TRUE(box) << box.error().message();
        return box ? std::move(*box) : nullptr;
    }

    /// next_delivery that must produce one.
    static Delivery next(Outbox& box, const std::string& endpoint, Outbox::TimePoint now = Outbox::Clock::now()) {
        auto d = box.next_delivery(endpoint, now);
        EXPECT_TRUE(d) << d.error().message();
        EXPECT_TRUE(d && d->has_value()) << "no delivery";
        return d && *d ? std::move(**d) : Delivery{};
    }

    testing::TempDir dir_;
    crypto::SecretKeyWrapper kek_;
};

}  // namespace enclave::delivery::test
