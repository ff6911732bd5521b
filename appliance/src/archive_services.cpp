// SPDX-License-Identifier: Apache-2.0
// ArchiveServices: opening the TSA and the archive, the sealer thread.
#include "appliance/archive_services.hpp"

#include <condition_variable>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include "appliance/log.hpp"
#include "audit/audit_log.hpp"
#include <nlohmann/json.hpp>
#include "archive_services_impl.hpp"
#include "provision_detail.hpp"

namespace enclave::appliance {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

constexpr std::size_t kMaxCertificateBytes = 64 * 1024;

Result<crypto::Bytes> read_certificate(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(Errc::io_error, "cannot read " + path.string());
    crypto::Bytes der;
    char buf[4096];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        der.insert(der.end(), buf, buf + in.gcount());
        if (der.size() > kMaxCertificateBytes) return fail(Errc::too_large, path.string() + ": over 64 KiB");
    }
    return der;
}

/// The TSA: the token key `enclave-tsa` and its certificate, both made by
/// `enclavectl init` (the daemon's sessions are read-only: it never makes
/// keys). null when the certificate is missing (an instance provisioned
/// before the archive existed): the archive is then unavailable.
Result<std::shared_ptr<archive::TimeStampAuthority>> open_tsa(const Config& config,
                                                              std::shared_ptr<hsm::SessionPool> pool) {
    const auto path = config.resolve(config.archive.tsa_certificate);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::shared_ptr<archive::TimeStampAuthority>();
    auto der = read_certificate(path);
    if (!der) return tl::unexpected(der.error());
    return archive::TimeStampAuthority::open(std::move(pool), *der);
}

constexpr std::string_view kAuditCursor = "audit-log";
constexpr std::uint64_t kAuditEntriesPerPass = 10'000;

/// Copies the audit log's closed-task records and delivery receipts into the
/// archive (owner "enclave"), from where the last pass stopped. Idempotent
/// per entry (a crash between archiving and moving the cursor archives
/// nothing twice).
Result<std::size_t> archive_audit_trail(ArchiveServices::Impl& s) {
    auto from = s.service->cursor(kAuditCursor);
    if (!from) return tl::unexpected(from.error());
    const std::uint64_t size = s.audit_log->size();
    if (*from >= size) return std::size_t{0};
    const std::uint64_t count = std::min(size - *from, kAuditEntriesPerPass);
    std::size_t copied = 0;
    const auto now = std::chrono::system_clock::now();
    auto walked = s.audit_log->for_each_entry(*from, count, [&](std::uint64_t index, std::string_view entry) -> Result<void> {
        const auto j = nlohmann::json::parse(entry, nullptr, false);
        if (!j.is_object() || !j.contains("event") || !j["event"].is_string()) return {};
        const std::string event = j["event"].get<std::string>();
        if (event != "task.closed" && event != "delivery.recorded") return {};
        const std::vector<archive::MetaEntry> meta{{"enclave:source", "audit-log"},
                                                   {"enclave:audit-index", std::to_string(index)},
                                                   {"enclave:audit-event", event}};
        auto ref = s.service->archive_internal("enclave", "audit:" + std::to_string(index),
                                               crypto::as_bytes(entry), meta, now);
        if (!ref) return tl::unexpected(ref.error());
        ++copied;
        return {};
    });
    if (!walked) return tl::unexpected(walked.error());
    if (auto r = s.service->set_cursor(kAuditCursor, *from + count); !r) return tl::unexpected(r.error());
    return copied;
}

}  // namespace

ArchiveServices::ArchiveServices(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArchiveServices::~ArchiveServices() { stop(); }

Result<std::unique_ptr<ArchiveServices>> ArchiveServices::open(const Config& config,
                                                               AuditServices& audit,
                                                               std::shared_ptr<hsm::SessionPool> pool,
                                                               DeliveryServices& delivery) {
    if (!config.archive.enabled) return std::unique_ptr<ArchiveServices>();
    // Without its schema the archive could answer nothing: refuse to start.
    if (auto schema = archive::check_ltap_schema(); !schema) {
        return tl::unexpected(schema.error().wrap("the LTAP schema"));
    }
    log(LogLevel::info, "archive", "LTAP schema " + archive::ltap_schema_file().string());
    auto tsa = open_tsa(config, pool);
    if (!tsa) return tl::unexpected(tsa.error().wrap("archive TSA"));
    auto impl = std::make_unique<Impl>();
    impl->config = config;
    impl->delivery = &delivery;
    impl->audit_log = &audit.audit_log();
    if (!*tsa) {
        log(LogLevel::warning, "archive",
            "the archive is unavailable: no TSA certificate " +
                config.resolve(config.archive.tsa_certificate).string() +
                " (instances provisioned before the archive; see docs/archive.md)");
        return std::unique_ptr<ArchiveServices>(new ArchiveServices(std::move(impl)));
    }
    archive::ArchiveOptions o;
    o.db_path = config.data_dir / "state" / "archive.db";
    o.blob_dir = config.data_dir / "state" / "archive-blobs";
    o.batch_max_objects = config.archive.batch_max_objects;
    o.batch_max_wait = config.archive.batch_max_wait;
    o.default_lifetime = std::chrono::seconds(std::int64_t{config.archive.lifetime_days} * 86400);
    o.max_object_bytes = config.archive.max_object_bytes;
    o.default_alg = crypto::hash_from_name(config.archive.digest).value_or(crypto::HashAlg::sha256);
    o.server_entity = config.instance_name;
    o.limits.max_bytes = static_cast<std::size_t>(config.archive.max_request_bytes);
    o.limits.max_raw_bytes = static_cast<std::size_t>(config.archive.max_request_bytes);
    auto svc = archive::ArchiveService::open(std::move(o), audit.kek(), *tsa);
    if (!svc) return tl::unexpected(svc.error());
    impl->tsa = std::move(*tsa);
    impl->service = std::move(*svc);
    return std::unique_ptr<ArchiveServices>(new ArchiveServices(std::move(impl)));
}

archive::ArchiveService* ArchiveServices::service() { return impl_->service.get(); }

void ArchiveServices::add_routes(Routers& routers) { detail::add_archive_routes(*impl_, routers); }

void ArchiveServices::start() {
    Impl& s = *impl_;
    if (s.sealer.joinable() || !s.service) return;
    s.stopping = false;
    s.sealer = std::thread([&s] {
        auto last_expiry = std::chrono::steady_clock::time_point{};
        std::unique_lock lock(s.mu);
        while (!s.stopping) {
            lock.unlock();
            if (auto r = archive_audit_trail(s); !r) {
                log(LogLevel::warning, "archive", "copying the audit trail failed: " + r.error().message());
            }
            if (auto r = s.service->seal_due(std::chrono::system_clock::now(), false); !r) {
                log(LogLevel::warning, "archive", "sealing a batch failed: " + r.error().message());
            }
            if (std::chrono::steady_clock::now() - last_expiry > std::chrono::minutes(10)) {
                last_expiry = std::chrono::steady_clock::now();
                if (auto r = s.service->expire(std::chrono::system_clock::now()); !r) {
                    log(LogLevel::warning, "archive", "removing expired objects failed: " + r.error().message());
                }
            }
            lock.lock();
            s.wake.wait_for(lock, std::chrono::seconds(1), [&s] { return s.stopping; });
        }
    });
}

void ArchiveServices::stop() {
    Impl& s = *impl_;
    {
        std::lock_guard lock(s.mu);
        s.stopping = true;
    }
    s.wake.notify_all();
    if (s.sealer.joinable()) s.sealer.join();
}

}  // namespace enclave::appliance
