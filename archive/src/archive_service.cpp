// SPDX-License-Identifier: Apache-2.0
// ArchiveService: opening, dispatch, the XML entry point, catalogue views.
#include <algorithm>
#include <set>

#include "archive/evidence.hpp"
#include "archive/object_id.hpp"
#include "archive_impl.hpp"

namespace enclave::archive {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace detail {

std::optional<crypto::HashAlg> alg_from_uri(std::string_view uri) noexcept {
    if (uri == "http://www.w3.org/2001/04/xmlenc#sha256") return crypto::HashAlg::sha256;
    if (uri == "http://www.w3.org/2001/04/xmldsig-more#sha384") return crypto::HashAlg::sha384;
    if (uri == "http://www.w3.org/2001/04/xmlenc#sha512") return crypto::HashAlg::sha512;
    return std::nullopt;
}

std::string_view uri_of(crypto::HashAlg alg) noexcept {
    switch (alg) {
        case crypto::HashAlg::sha384: return "http://www.w3.org/2001/04/xmldsig-more#sha384";
        case crypto::HashAlg::sha512: return "http://www.w3.org/2001/04/xmlenc#sha512";
        default: return "http://www.w3.org/2001/04/xmlenc#sha256";
    }
}

}  // namespace detail

bool Caller::can_use(std::string_view object_owner) const {
    if (all_owners) return true;
    return std::find(readable.begin(), readable.end(), object_owner) != readable.end();
}

OperationResponse rejection(const RequestInformation& echo, Notice notice, std::string text) {
    OperationResponse r;
    r.info = echo;
    r.status = StatusInfo::rejection;
    r.error = GeneralErrorNotice{static_cast<std::int32_t>(notice), std::move(text)};
    return r;
}

RequestInformation echo_info(const RequestInformation& in, const ArchiveOptions& options,
                             std::int64_t now_ms) {
    RequestInformation out;
    out.version = in.version;
    out.nonce = in.nonce;
    out.serial_number = in.serial_number;
    out.request_time = std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(now_ms));
    out.request_entities = in.request_entities;
    out.server_entities = {options.server_entity};
    out.service = in.service;
    out.policies = in.policies;
    return out;
}

ArchiveService::ArchiveService(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
ArchiveService::~ArchiveService() = default;

Result<std::unique_ptr<ArchiveService>> ArchiveService::open(ArchiveOptions options,
                                                             crypto::KeyWrapper& kek,
                                                             std::shared_ptr<TimeStampAuthority> tsa) {
    if (options.batch_max_objects == 0 || options.batch_max_objects > 100'000) {
        return fail(Errc::invalid_argument, "archive: batch_max_objects must be 1..100000");
    }
    auto catalog = detail::Catalog::open(options.db_path, kek);
    if (!catalog) return tl::unexpected(catalog.error());
    auto blobs = crypto::BlobStore::open(options.blob_dir, kek);
    if (!blobs) return tl::unexpected(blobs.error().wrap("archive blob store"));
    // A crash between storing an object's data and cataloguing it leaves a
    // blob nothing names: erase it (it was never acknowledged).
    auto named = catalog->blob_ids();
    if (!named) return tl::unexpected(named.error());
    auto stored = blobs->list();
    if (!stored) return tl::unexpected(stored.error());
    const std::set<std::string> keep(named->begin(), named->end());
    for (const auto& id : *stored) {
        if (keep.count(id) == 0) {
            if (auto r = blobs->remove(id); !r) return tl::unexpected(r.error());
        }
    }
    auto impl = std::make_unique<Impl>(std::move(options), std::move(tsa), std::move(*blobs),
                                       std::move(*catalog));
    return std::make_unique<ArchiveService>(std::move(impl));
}

Response ArchiveService::handle(const Request& request, const Caller& caller,
                                std::chrono::system_clock::time_point now) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    if (request.data.empty()) {
        return rejection(echo_info(request.info, impl_->options, ms), Notice::malformed_request,
                         "a request needs at least one Data element");
    }
    // "enclave:" metadata is the archive's own (state, times, modifications):
    // a client may not plant it.
    for (const auto& item : request.data) {
        for (const auto& m : item.metadata) {
            if (m.name.rfind("enclave:", 0) == 0) {
                return rejection(echo_info(request.info, impl_->options, ms), Notice::malformed_request,
                                 "MetaData names starting with \"enclave:\" are the archive's own");
            }
        }
    }
    if (request.info.service == ServiceType::archive) {
        if (!caller.may_archive) {
            return rejection(echo_info(request.info, impl_->options, ms), Notice::not_permitted,
                             "this caller may not archive");
        }
        return impl_->do_archive(request, caller, ms);
    }
    if (request.info.service == ServiceType::delete_ && !caller.may_delete) {
        return rejection(echo_info(request.info, impl_->options, ms), Notice::not_permitted,
                         "this caller may not delete");
    }
    return impl_->do_lookup(request, caller, ms);
}

std::string ArchiveService::handle_xml(std::string_view body, const Caller& caller,
                                       std::chrono::system_clock::time_point now, int& status) {
    auto request = parse_request(body, impl_->options.limits);
    Response response;
    if (!request) {
        const bool big = request.error().code() == Errc::too_large;
        status = big ? 413 : 400;
        response = ErrorNotice{big ? 413 : 400,
                               big ? "request too large: " + request.error().context()
                                   : "request not understood: " + request.error().context()};
    } else {
        status = 200;
        response = handle(*request, caller, now);
    }
    auto xml = render_response(response);
    if (xml) return std::move(*xml);
    // Our own answer failed our schema: a bug. Say so without detail.
    status = 500;
    auto fallback = render_response(ErrorNotice{500, "internal error"});
    return fallback ? std::move(*fallback) : std::string();
}

Result<ObjectSummary> ArchiveService::summary(std::string_view reference) {
    std::lock_guard lock(impl_->mu);
    auto row = impl_->catalog.find(reference);
    if (!row) return tl::unexpected(row.error());
    if (!*row) return fail(Errc::not_found, "archive: no such object");
    const auto& r = **row;
    return ObjectSummary{r.reference, r.owner, r.state, static_cast<std::uint64_t>(r.size),
                         r.created, r.granted, r.expires, r.deleted, r.verified};
}

Result<ArchiveService::Exported> ArchiveService::export_object(std::string_view reference) {
    detail::ObjectRow row;
    {
        std::lock_guard lock(impl_->mu);
        auto found = impl_->catalog.find(reference);
        if (!found) return tl::unexpected(found.error());
        if (!*found) return fail(Errc::not_found, "archive: no such object");
        row = std::move(**found);
    }
    if (row.state != "granted") {
        return fail(Errc::invalid_state, "archive: the object is " + row.state + ", not granted");
    }
    auto data = impl_->read_data(row);
    if (!data) return tl::unexpected(data.error());
    return Exported{std::move(*data), std::move(row.evidence), std::move(row.metadata)};
}

Result<ArchiveService::Counts> ArchiveService::counts() {
    std::lock_guard lock(impl_->mu);
    return impl_->catalog.counts();
}

Result<std::uint64_t> ArchiveService::cursor(std::string_view name) {
    std::lock_guard lock(impl_->mu);
    return impl_->catalog.cursor(name);
}

Result<void> ArchiveService::set_cursor(std::string_view name, std::uint64_t value) {
    std::lock_guard lock(impl_->mu);
    return impl_->catalog.set_cursor(name, value);
}

}  // namespace enclave::archive
