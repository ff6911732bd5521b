// SPDX-License-Identifier: Apache-2.0
// Model B delivery (docs/delivery.md, "Delivery"): per endpoint two lanes.
// Urgent workers take deliveries from the outbox and POST their
// DeliveryObject (HI1 DELIVER); bulk workers POST the Model B binaries of
// deliveries whose object was acknowledged (Expect: 100-continue, streamed
// from the blob store), and DeliveryObjects when no binary waits. Each lane
// has its own LeaClient, so a large binary never holds the connection a
// small item needs (no head-of-line blocking). Once the object and every
// binary are acknowledged the delivery is recorded in the audit log and only
// then marked delivered. Any failure schedules a retry (exponential backoff,
// jittered, each wait at least half its step; the binary lane has its own); the DeliveryID stays, so the LEA
// can drop a duplicate. A supervisor thread starts the workers of endpoints
// with work and turns closed tasks into their final LastSequence delivery.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <fstream>
#include <set>
#include <system_error>

#include "appliance/log.hpp"
#include "audit/task_store.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "delivery/hi1_deliver.hpp"
#include "delivery_services_impl.hpp"

namespace enclave::appliance {

using crypto::Errc;
using crypto::Result;

namespace {

constexpr auto kSupervisorTick = std::chrono::seconds(2);
constexpr auto kIdleWait = std::chrono::seconds(1);

}  // namespace

Result<hsm::SslCtxPtr> DeliveryServices::Impl::make_client_tls(const EndpointSpec& spec) {
    const auto dir = config.data_dir / "state" / "endpoint-anchors";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    const auto anchors = dir / (spec.name + ".pem");
    {
        std::ofstream out(anchors, std::ios::binary | std::ios::trunc);
        out << spec.trust_anchors_pem;
        if (!out) return crypto::fail(Errc::io_error, "writing " + anchors.string());
    }
    std::filesystem::permissions(anchors, std::filesystem::perms::owner_read |
                                              std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace, ec);
    const auto crl = dir / (spec.name + ".crl");
    if (!spec.crl_pem.empty()) {
        std::ofstream out(crl, std::ios::binary | std::ios::trunc);
        out << spec.crl_pem;
        if (!out) return crypto::fail(Errc::io_error, "writing " + crl.string());
    }
    hsm::TlsEndpoint tls;
    if (spec.client_certificate.empty()) {
        std::lock_guard lock(client_identity_mu);
        tls.certificate = client_certificate;
        tls.private_key = client_key;
    } else {
        tls.certificate = config.resolve(spec.client_certificate);
        tls.private_key = spec.client_key.empty() ? config.lea_client.private_key : spec.client_key;
    }
    tls.trust_anchors = anchors;
    if (!spec.crl_pem.empty()) tls.crl = crl;
    auto resolver = hsm::make_key_resolver(pool, false);
    auto ctx = hsm::make_client_context(tls, *resolver);
    if (!ctx) return tl::unexpected(ctx.error().wrap("endpoint " + spec.name + " client TLS"));
    if (spec.auth == EndpointAuth::psk) {
        if (auto ok = detail::use_endpoint_psk(*this, spec, ctx->get()); !ok) {
            return tl::unexpected(ok.error().wrap("endpoint " + spec.name + " PSK"));
        }
    }
    return ctx;
}

Result<std::unique_ptr<delivery::LeaClient>> DeliveryServices::Impl::make_client(
    const EndpointSpec& spec, std::uint32_t connections, std::shared_ptr<LeaIdentityMonitor> identity) {
    auto ctx = make_client_tls(spec);
    if (!ctx) return tl::unexpected(ctx.error());
    delivery::LeaClientOptions o;
    o.base_url = spec.url;
    o.tls = std::move(*ctx);
    o.require_psk = spec.auth == EndpointAuth::psk;
    if (!spec.spki_sha256.empty()) {
        auto pin = crypto::hex_decode(spec.spki_sha256);
        if (!pin) return tl::unexpected(pin.error().wrap("endpoint " + spec.name + " pin"));
        o.spki_sha256_pin = std::move(*pin);
    }
    o.max_connections = connections;
    o.connect_timeout = std::chrono::milliseconds(spec.connect_timeout_ms);
    o.handshake_timeout = std::chrono::milliseconds(spec.connect_timeout_ms);
    o.read_timeout = std::chrono::milliseconds(spec.response_timeout_ms);
    o.write_timeout = std::chrono::milliseconds(spec.response_timeout_ms);
    if (identity) {
        o.on_identity_check = [identity](std::optional<delivery::ServerIdentityFailure> outcome) {
            identity->report(outcome);
        };
    }
    return delivery::LeaClient::create(std::move(o));
}

namespace {

/// Streams a blob into a BodySource, chunk by chunk. `damaged` is set when
/// a chunk fails authentication (the blob file is damaged on disk).
delivery::BodySource blob_source(const crypto::BlobReader& reader,
                                 std::shared_ptr<bool> damaged) {
    auto offset = std::make_shared<std::uint64_t>(0);
    return [&reader, offset, damaged](crypto::MutableByteView out) -> Result<std::size_t> {
        const std::uint64_t left = reader.size() - *offset;
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, out.size()));
        std::size_t filled = 0;
        auto r = reader.read_range(*offset, n, [&](crypto::ByteView plain) -> Result<void> {
            std::copy(plain.begin(), plain.end(), out.begin() + static_cast<std::ptrdiff_t>(filled));
            filled += plain.size();
            return {};
        });
        if (!r) {
            if (r.error().code() == Errc::integrity_failure) *damaged = true;
            return tl::unexpected(r.error());
        }
        *offset += filled;
        return filled;
    };
}

}  // namespace

/// Sends the delivery's DeliveryObject unless already acknowledged; then,
/// with binaries left, hands it to the binary lane, else finishes it.
Result<void> DeliveryServices::Impl::send(EndpointWorkers& w, delivery::LeaClient& client,
                                          const delivery::Delivery& d) {
    const bool binaries_left = std::any_of(d.binaries.begin(), d.binaries.end(),
                                           [](const delivery::DeliveryBinary& b) { return !b.done; });
    if (!d.object_delivered) {
        auto xml = build_object(w, d);
        if (!xml) return tl::unexpected(xml.error());
        auto reply = client.post_xml(*xml);
        if (!reply) return tl::unexpected(reply.error());
        if (reply->status / 100 != 2) {
            return crypto::fail(Errc::unavailable,
                                "the LEA answered HTTP " + std::to_string(reply->status));
        }
        auto outcome = delivery::parse_deliver_response(reply->body, *schemas);
        if (!outcome) return tl::unexpected(outcome.error().wrap("the LEA's answer"));
        if (!outcome->accepted || outcome->object_id != d.delivery_id) {
            return crypto::fail(Errc::unavailable,
                                outcome->error ? "the LEA refused it: error code " +
                                                     std::to_string(outcome->error->code)
                                               : "the LEA's answer does not acknowledge it");
        }
        {
            std::lock_guard lock(w.sent_mu);
            w.sent[d.delivery_id] = {xml->size(), crypto::digest(crypto::HashAlg::sha256, crypto::as_bytes(*xml))};
        }
        // With binaries left the binary lane takes it over from here.
        if (auto r = outbox->object_delivered(d.delivery_id); !r || binaries_left) return r;
    } else if (binaries_left) {
        return crypto::fail(Errc::invalid_state, "delivery " + d.delivery_id +
                                                     " came back with binaries left (the binary lane's)");
    }
    return finish(w, d);
}

/// Object and binaries acknowledged: audit record, delivered(), uploads erased.
Result<void> DeliveryServices::Impl::finish(EndpointWorkers& w, const delivery::Delivery& d) {
    std::uint64_t size = 0;
    crypto::Bytes sha;
    {
        std::lock_guard lock(w.sent_mu);
        if (auto it = w.sent.find(d.delivery_id); it != w.sent.end()) {
            size = it->second.first;
            sha = it->second.second;
        }
    }
    if (sha.empty()) {
        // Sent before a restart: the object as rebuilt now.
        auto xml = build_object(w, d);
        if (!xml) return tl::unexpected(xml.error());
        size = xml->size();
        sha = crypto::digest(crypto::HashAlg::sha256, crypto::as_bytes(*xml));
    }
    if (auto r = audit->tasks().record_delivery(d.reference, d.delivery_id, size, sha); !r) {
        // Recorded by an earlier attempt whose acknowledgement a crash lost:
        // each attempt's message differs (transaction id, timestamp), the
        // first recorded one stands.
        if (r.error().code() != Errc::already_exists) {
            return tl::unexpected(r.error().wrap("audit record of the delivery"));
        }
    }
    if (auto r = outbox->delivered(d.delivery_id); !r) return r;
    {
        std::lock_guard lock(w.sent_mu);
        w.sent.erase(d.delivery_id);
    }
    if (d.binaries.empty()) return {};
    // Delivered: its uploads are crypto-erased (an upload belongs to one
    // item), but only once the acknowledgement is on disk: a crash before
    // it resends the delivery, binaries included.
    if (auto r = outbox->flush(); !r) {
        log(LogLevel::error, "delivery",
            "outbox: " + r.error().message() + "; the delivered uploads are kept");
        return {};
    }
    const auto now = unix_now();
    for (const auto& b : d.binaries) {
        if (blobs->remove(b.binary.blob_id)) (void)catalog->mark_erased(b.binary.blob_id, now);
    }
    return {};
}

Result<std::string> DeliveryServices::Impl::build_object(EndpointWorkers& w, const delivery::Delivery& d) {
    auto task = audit->tasks().routing(d.reference);
    if (!task) return tl::unexpected(task.error().wrap("the delivery's task"));
    delivery::DeliverySpec spec;
    spec.sender = {w.spec.sender_country,
                   w.spec.sender_unique_id.empty() ? config.instance_name : w.spec.sender_unique_id};
    spec.receiver = {w.spec.receiver_country, w.spec.receiver_unique_id};
    spec.reference_kind = task->kind == audit::TaskKind::li ? delivery::ReferenceKind::liid
                                                            : delivery::ReferenceKind::ldid;
    spec.reference = d.reference;
    spec.delivery_id = d.delivery_id;
    spec.sequence_number = d.sequence_number;
    spec.last_sequence = d.last_sequence;
    auto xml = delivery::build_deliver_request(spec, d.items);
    if (!xml) return tl::unexpected(xml.error().wrap("DeliveryObject"));
    return std::move(*xml);
}

void DeliveryServices::Impl::send_binary(EndpointWorkers& w, const delivery::BinaryJob& job) {
    const auto fail = [&](const std::string& why) {
        auto when = outbox->retry_binary_later(job.delivery_id, job.binary.url, std::chrono::system_clock::now());
        log(LogLevel::warning, "delivery",
            "endpoint " + w.name + ": a binary of delivery " + job.delivery_id + " (attempt " +
                std::to_string(job.attempts + 1) + ") failed, retrying later: " + why);
        if (!when) log(LogLevel::error, "delivery", "outbox: " + when.error().message());
    };
    auto reader = blobs->open_object(job.binary.blob_id);
    if (!reader && reader.error().code() == Errc::not_found) {
        // Gone for good (erased): retrying cannot help and would keep the
        // delivery (and the reference's LastSequence) open forever.
        log(LogLevel::error, "delivery",
            "delivery " + job.delivery_id + ": a binary's upload no longer exists; "
            "the DeliveryObject names a URL that will not be delivered");
        if (auto r = outbox->binary_delivered(job.delivery_id, job.binary.url); !r) {
            log(LogLevel::error, "delivery", "outbox: " + r.error().message());
        }
        return;
    }
    // A blob that fails authentication (damaged on disk) never will pass:
    // retrying would only hold the delivery open and log forever. It is
    // reported as an error naming the blob, and given up like an erased one.
    const auto damaged = std::make_shared<bool>(false);
    const auto give_up_damaged = [&](const std::string& why) {
        log(LogLevel::error, "delivery",
            "endpoint " + w.name + ": delivery " + job.delivery_id + ": blob '" + job.binary.blob_id +
                "' is damaged in the blob store and will not be delivered (the DeliveryObject "
                "names a URL that will not be delivered): " + why);
        if (event_sink != nullptr) {
            event_sink->emit(events::IntegrityFailure{"blobs", monitoring::Fingerprint(job.binary.blob_id)});
        }
        if (auto r = outbox->binary_delivered(job.delivery_id, job.binary.url); !r) {
            log(LogLevel::error, "delivery", "outbox: " + r.error().message());
        }
    };
    if (!reader && reader.error().code() == Errc::integrity_failure) {
        return give_up_damaged(reader.error().message());
    }
    if (!reader) return fail(reader.error().message());
    auto reply = w.bulk->post_binary(job.binary.url, job.binary.content_type, reader->size(),
                                     blob_source(*reader, damaged));
    if (!reply && *damaged) return give_up_damaged(reply.error().message());
    if (!reply) return fail(reply.error().message());
    if (reply->status / 100 != 2) {
        return fail("the LEA answered HTTP " + std::to_string(reply->status) + " to a binary");
    }
    if (auto r = outbox->binary_delivered(job.delivery_id, job.binary.url); !r) {
        log(LogLevel::error, "delivery", "outbox: " + r.error().message());
    }
}

void DeliveryServices::Impl::work(EndpointWorkers& w, bool bulk) {
    const auto lane = bulk ? delivery::OutboxLane::any : delivery::OutboxLane::objects;
    delivery::LeaClient& client = bulk ? *w.bulk : *w.urgent;
    while (!stopping.load()) {
        const auto now = std::chrono::system_clock::now();
        if (bulk) {
            auto job = outbox->next_binary_job(w.name, now);
            if (!job) {
                log(LogLevel::error, "delivery", "outbox: " + job.error().message());
            } else if (*job) {
                send_binary(w, **job);
                continue;
            }
        }
        auto d = outbox->next_delivery(w.name, now);
        if (!d) {
            log(LogLevel::error, "delivery", "outbox: " + d.error().message());
            outbox->wait_for_work(w.name, now + kIdleWait, lane);
            continue;
        }
        if (!*d) {
            outbox->wait_for_work(w.name, now + kIdleWait, lane);
            continue;
        }
        if (auto r = send(w, client, **d); !r) {
            auto when = outbox->retry_later((*d)->delivery_id, std::chrono::system_clock::now());
            log(LogLevel::warning, "delivery",
                "endpoint " + w.name + ": delivery " + (*d)->delivery_id + " (attempt " +
                    std::to_string((*d)->attempts + 1) + ") failed, retrying later: " +
                    r.error().message());
            if (!when) log(LogLevel::error, "delivery", "outbox: " + when.error().message());
        }
    }
}

void DeliveryServices::Impl::sweep_unattached() {
    const auto now = unix_now();
    auto stale = catalog->unattached_before(now - config.ingest_limits.unattached_blob_ttl.count());
    if (!stale) {
        log(LogLevel::error, "ingest", "blob catalogue: " + stale.error().message());
        return;
    }
    // Rows of delivered uploads are kept for the idempotency window (24 h).
    (void)catalog->forget_erased_before(now - 24 * 3600);
    for (const auto& id : *stale) {
        auto removed = blobs->remove(id);
        if (!removed && removed.error().code() != Errc::not_found) {
            log(LogLevel::error, "ingest", "erasing an unattached upload: " + removed.error().message());
            continue;
        }
        (void)catalog->erase(id);
    }
    if (!stale->empty()) {
        log(LogLevel::info, "ingest",
            "erased " + std::to_string(stale->size()) + " upload(s) no item named in time");
    }
}

void DeliveryServices::Impl::sweep_orphans() {
    const std::int64_t cutoff = unix_now() - config.ingest_limits.unattached_blob_ttl.count();
    std::size_t erased = 0;
    std::string after;
    for (;;) {
        auto page = catalog->claimed_before(cutoff, after, 500);
        if (!page) {
            log(LogLevel::error, "ingest", "blob catalogue: " + page.error().message());
            return;
        }
        for (const auto& id : *page) {
            if (stopping.load()) return;
            auto held = outbox->holds_blob(id);
            if (!held) {
                log(LogLevel::error, "ingest", "outbox: " + held.error().message());
                return;
            }
            if (*held) continue;
            // Served by Model A/C URLs: erased when the last one expires.
            auto pulled = catalog->has_pull_url(id);
            if (!pulled || *pulled) continue;
            // The row first: a retry claiming it meanwhile keeps it (and its
            // bytes); a crash after this leaves bytes no row names, never a
            // row whose bytes are gone.
            auto forgot = catalog->forget_claimed_before(id, cutoff);
            if (!forgot || !*forgot) continue;
            auto removed = blobs->remove(id);
            if (!removed && removed.error().code() != Errc::not_found) {
                log(LogLevel::error, "ingest", "erasing an orphaned upload: " + removed.error().message());
                continue;
            }
            ++erased;
        }
        if (page->size() < 500) break;
        after = page->back();
    }
    if (erased != 0) {
        log(LogLevel::info, "ingest",
            "erased " + std::to_string(erased) + " upload(s) claimed by an item that was never stored");
    }
}

void DeliveryServices::Impl::sweep_expired_urls() {
    const std::int64_t now = unix_now();
    std::size_t erased = 0;
    for (;;) {
        auto page = catalog->expired_pull_blobs(now, 500);
        if (!page) {
            log(LogLevel::error, "delivery", "blob catalogue: " + page.error().message());
            return;
        }
        for (const auto& id : *page) {
            if (stopping.load()) return;
            auto last = catalog->forget_expired_pull_urls(id, now);
            if (!last) {
                log(LogLevel::error, "delivery", "blob catalogue: " + last.error().message());
                return;
            }
            if (!*last) continue;  // another URL of the upload still works
            // Rows first, bytes second: a crash in between leaves bytes that
            // no URL serves (the orphan sweep's), never a URL without bytes.
            auto removed = blobs->remove(id);
            if (!removed && removed.error().code() != Errc::not_found) {
                log(LogLevel::error, "delivery",
                    "erasing a binary whose URLs expired: " + removed.error().message());
                continue;
            }
            if (auto m = catalog->mark_erased(id, now); !m) {
                log(LogLevel::error, "delivery", "blob catalogue: " + m.error().message());
            }
            ++erased;
        }
        if (page->size() < 500) break;
    }
    if (erased != 0) {
        log(LogLevel::info, "delivery",
            "erased " + std::to_string(erased) + " binary(ies) whose Model A/C URLs expired");
    }
}

void DeliveryServices::Impl::supervise_once(std::set<std::string>& closed_seen) {
    sweep_unattached();
    sweep_expired_urls();
    if (const auto t = std::chrono::steady_clock::now();
        !last_orphan_sweep || t - *last_orphan_sweep > std::chrono::hours(1)) {
        last_orphan_sweep = t;
        sweep_orphans();
    }
    // Closed tasks: their final delivery carries LastSequence=true. The task
    // list is read at start, when a task closed (task_closed()), and once a
    // minute as a fallback, not on every tick (records grow with deliveries).
    const auto now = std::chrono::steady_clock::now();
    bool scan = false;
    {
        std::lock_guard lock(wake_mu);
        scan = closed_tasks_changed || now - last_closed_scan > std::chrono::minutes(1);
        closed_tasks_changed = false;
    }
    if (scan) {
        last_closed_scan = now;
        // Task rows only: list() would load every delivery ever recorded.
        if (auto tasks = audit->tasks().closed_with_endpoint()) {
            for (const auto& [reference, endpoint] : *tasks) {
                if (closed_seen.count(reference) != 0) continue;
                auto ep = endpoints->get(endpoint);
                if (!ep || !*ep) continue;  // a static endpoint takes no deliveries
                if (auto r = outbox->close_reference(endpoint, reference); !r) {
                    log(LogLevel::error, "delivery",
                        "closing a task's deliveries: " + r.error().message());
                    continue;
                }
                closed_seen.insert(reference);
            }
        }
    }
    for (const std::string& name : outbox->endpoints()) {
        std::lock_guard lock(workers_mu);
        if (workers.count(name) != 0) continue;
        auto spec = endpoints->get(name);
        if (!spec || !*spec) continue;  // waits until the endpoint is configured
        // Lanes (docs/delivery.md): binaries on at most max(1, n - 1)
        // connections, the rest (at least one) kept for DeliveryObjects.
        const std::uint32_t n = (*spec)->max_connections;
        const std::uint32_t bulk_n = std::max<std::uint32_t>(1, n - 1);
        const std::uint32_t urgent_n = std::max<std::uint32_t>(1, n - bulk_n);
        auto identity = std::make_shared<LeaIdentityMonitor>(name, event_sink);
        auto urgent = make_client(**spec, urgent_n, identity);
        if (!urgent) {
            log(LogLevel::error, "delivery", urgent.error().message());
            continue;
        }
        auto bulk = make_client(**spec, bulk_n, identity);
        if (!bulk) {
            log(LogLevel::error, "delivery", bulk.error().message());
            continue;
        }
        auto w = std::make_unique<EndpointWorkers>();
        w->name = name;
        w->spec = **spec;
        w->urgent = std::move(*urgent);
        w->bulk = std::move(*bulk);
        w->identity = std::move(identity);
        EndpointWorkers* raw = w.get();
        for (std::uint32_t i = 0; i < urgent_n; ++i) raw->threads.emplace_back([this, raw] { work(*raw, false); });
        for (std::uint32_t i = 0; i < bulk_n; ++i) raw->threads.emplace_back([this, raw] { work(*raw, true); });
        log(LogLevel::info, "delivery",
            "endpoint " + name + ": " + std::to_string(urgent_n) + " urgent + " + std::to_string(bulk_n) +
                " bulk workers");
        workers.emplace(name, std::move(w));
    }
}

void DeliveryServices::Impl::supervise() {
    std::set<std::string> closed_seen;
    std::unique_lock lock(wake_mu);
    while (!stopping.load()) {
        lock.unlock();
        supervise_once(closed_seen);
        lock.lock();
        wake.wait_for(lock, kSupervisorTick, [this] { return stopping.load() || poke; });
        poke = false;
    }
}

void DeliveryServices::Impl::task_closed() {
    std::lock_guard lock(wake_mu);
    closed_tasks_changed = true;
    poke = true;
    wake.notify_all();
}

void DeliveryServices::Impl::wake_workers(const std::string& endpoint) {
    {
        std::lock_guard lock(workers_mu);
        if (workers.count(endpoint) != 0) return;  // the outbox wakes its waiters itself
    }
    std::lock_guard lock(wake_mu);
    poke = true;
    wake.notify_all();
}

void DeliveryServices::start() {
    impl_->stopping = false;
    impl_->supervisor = std::thread([this] { impl_->supervise(); });
}

Result<std::size_t> DeliveryServices::switch_client_identity(const std::filesystem::path& certificate,
                                                             const std::string& private_key) {
    std::lock_guard lock(impl_->workers_mu);
    std::string old_certificate;
    std::string old_key;
    {
        std::lock_guard id(impl_->client_identity_mu);
        old_certificate = impl_->client_certificate.string();
        old_key = impl_->client_key;
        impl_->client_certificate = certificate;
        impl_->client_key = private_key;
    }
    // Every context first: one that cannot be built leaves everything as it was.
    std::vector<std::pair<delivery::LeaClient*, hsm::SslCtxPtr>> ready;
    std::size_t endpoints = 0;
    for (auto& [name, w] : impl_->workers) {
        if (!w->spec.client_certificate.empty()) continue;  // its own identity
        ++endpoints;
        for (delivery::LeaClient* c : {w->urgent.get(), w->bulk.get()}) {
            auto ctx = impl_->make_client_tls(w->spec);
            if (!ctx) {
                std::lock_guard id(impl_->client_identity_mu);
                impl_->client_certificate = old_certificate;
                impl_->client_key = old_key;
                return tl::unexpected(ctx.error());
            }
            ready.emplace_back(c, std::move(*ctx));
        }
    }
    for (auto& [client, ctx] : ready) {
        // replace_tls refuses only what make_client_tls never builds (a
        // context carrying callback data).
        if (auto ok = client->replace_tls(std::move(ctx)); !ok) return tl::unexpected(ok.error());
    }
    return endpoints;
}

void DeliveryServices::stop() {
    if (!impl_->supervisor.joinable()) return;
    {
        std::lock_guard lock(impl_->wake_mu);
        impl_->stopping = true;
        impl_->wake.notify_all();
    }
    impl_->outbox->interrupt_waits();
    impl_->supervisor.join();
    std::lock_guard lock(impl_->workers_mu);
    for (auto& [name, w] : impl_->workers) {
        for (auto& t : w->threads) t.join();
    }
    impl_->workers.clear();
    (void)impl_->outbox->flush();
}

}  // namespace enclave::appliance
