// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internals of ArchiveServices (archive_services.cpp, archive_routes.cpp).

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "appliance/archive_services.hpp"
#include "archive/tsa.hpp"

namespace enclave::appliance {

struct ArchiveServices::Impl {
    Config config;
    std::shared_ptr<archive::TimeStampAuthority> tsa;
    std::unique_ptr<archive::ArchiveService> service;
    DeliveryServices* delivery = nullptr;
    audit::AuditLog* audit_log = nullptr;
    std::mutex mu;
    std::condition_variable wake;
    bool stopping = false;
    std::thread sealer;
};

namespace detail {
void add_archive_routes(ArchiveServices::Impl& s, Routers& routers);  // archive_routes.cpp
}

}  // namespace enclave::appliance
