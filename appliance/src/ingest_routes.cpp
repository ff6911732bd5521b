// SPDX-License-Identifier: Apache-2.0
// Ingest API for collectors (docs/ingest.md), on listeners.ingest (mutual
// TLS with a collector certificate).
//
//   PUT /ingest/v1/blobs     one binary, streamed into the blob store with its
//                            SHA-256 computed on the way; 201
//                            {"id","sha256","size"} once it is durable.
//   POST /ingest/v1/tasks/{reference}/items
//                            handover items for an active task (JSON form or
//                            a handoverItem / handoverItemCollection
//                            document); 202 once they are durably in the
//                            outbox; 429 + Retry-After when it is full.
//
// The bytes go from the listener's fixed read buffer straight into the
// encrypting blob writer: no copy of an upload is ever whole in memory. An
// upload that fails or is cut off leaves nothing (the temp file goes).
#include <chrono>
#include <set>

#include "appliance/log.hpp"
#include "audit/task_store.hpp"
#include "audit_services_impl.hpp"
#include "delivery/ingest_json.hpp"
#include "delivery/uuid.hpp"
#include "delivery/xml_handover.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "delivery_services_impl.hpp"

namespace enclave::appliance::detail {
namespace {

using nlohmann::json;

bool tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// A failed upload: 507 + Retry-After for a full disk (the collector retries
/// later rather than changing its request), otherwise 503.
Response storage_error(const crypto::Error& e) {
    if (is_disk_full(e)) {
        Response res = Response::error(507, "insufficient_storage", "no space left for the upload");
        res.headers.push_back({"Retry-After", "30"});
        return res;
    }
    return Response::error(503, "unavailable", "the upload could not be stored");
}

/// Streams one upload into a new blob.
class BlobUploadSink final : public BodySink {
public:
    BlobUploadSink(DeliveryServices::Impl& s, crypto::BlobWriterHandle writer,
                   std::string content_type, std::string uploader)
        : s_(s),
          writer_(std::move(writer)),
          content_type_(std::move(content_type)),
          uploader_(std::move(uploader)) {}

    std::optional<Response> write(std::string_view chunk) override {
        if (auto r = writer_.write(crypto::as_bytes(chunk)); !r) {
            log(LogLevel::error, "ingest", "blob upload: " + r.error().message());
            return storage_error(r.error());
        }
        hasher_.update(crypto::as_bytes(chunk));
        return std::nullopt;
    }

    Response finish() override {
        const std::string id = writer_.id();
        auto info = writer_.commit();
        if (!info) {
            log(LogLevel::error, "ingest", "blob upload: " + info.error().message());
            return storage_error(info.error());
        }
        UploadedBlob b;
        b.id = id;
        b.content_type = content_type_;
        b.size = info->plaintext_size;
        b.sha256 = crypto::hex_encode(hasher_.finish());
        b.uploader = uploader_;
        b.created = unix_now();
        if (auto r = s_.catalog->insert(b); !r) {
            log(LogLevel::error, "ingest", "blob catalogue: " + r.error().message());
            (void)s_.blobs->remove(id);
            return storage_error(r.error());
        }
        return Response::json(201, json{{"id", b.id}, {"sha256", b.sha256}, {"size", b.size}}.dump());
    }

private:

    DeliveryServices::Impl& s_;
    crypto::BlobWriterHandle writer_;
    crypto::Hasher hasher_{crypto::HashAlg::sha256};
    std::string content_type_;
    std::string uploader_;
};

StreamStart start_upload(DeliveryServices::Impl& s, const Request& head) {
    const std::string* type = head.header("Content-Type");
    if (type == nullptr || !valid_media_type(*type)) {
        return Response::error(415, "unsupported_media_type",
                               "Content-Type: a media type (type/subtype) is required");
    }
    if (const std::string* te = head.header("Content-Encoding"); te != nullptr) {
        return Response::error(415, "unsupported_media_type",
                               "Content-Encoding is not accepted: send the bytes as they are");
    }
    auto writer = s.blobs->create();
    if (!writer) {
        log(LogLevel::error, "ingest", "blob upload: " + writer.error().message());
        return storage_error(writer.error());
    }
    return std::make_unique<BlobUploadSink>(s, std::move(*writer), *type, head.peer.cert_sha256);
}

constexpr std::string_view kBlobUrn = "urn:enclave:blob:";

bool has_prefix(const std::string* text, std::string_view prefix) {
    return text != nullptr && text->size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), text->begin(), [](char a, char b) {
               return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b + 32) : b);
           });
}

/// The task's delivery endpoint, or the answer refusing the items.
tl::expected<EndpointSpec, Response> endpoint_for(DeliveryServices::Impl& s,
                                                  const std::string& reference) {
    auto task = s.audit->tasks().routing(reference);
    if (!task) {
        if (task.error().code() == crypto::Errc::not_found) {
            return tl::unexpected(Response::error(404, "not_found", "no task with this reference"));
        }
        return tl::unexpected(error_response(task.error(), false));
    }
    if (task->state != audit::TaskState::active) {
        return tl::unexpected(Response::error(409, "invalid_state", "the task is closed"));
    }
    if (!task->endpoint) {
        return tl::unexpected(
            Response::error(409, "invalid_state", "the task names no endpoint to deliver to"));
    }
    auto ep = s.endpoints->get(*task->endpoint);
    if (!ep) return tl::unexpected(error_response(ep.error(), false));
    if (!*ep) {
        return tl::unexpected(Response::error(
            409, "invalid_state", "the task's endpoint is not configured for delivery"));
    }
    return std::move(**ep);
}

/// Items of the native XML form: each binaryObject's url is
/// "urn:enclave:blob:<id>" naming an upload.
crypto::Result<std::vector<delivery::HandoverItem>> xml_items(DeliveryServices::Impl& s,
                                                               std::string_view body) {
    auto items = delivery::parse_handover_items(body, *s.schemas);
    if (!items) return items;
    for (std::size_t i = 0; i < items->size(); ++i) {
        for (auto& b : (*items)[i].associated_binary_data) {
            if (b.url.rfind(kBlobUrn, 0) != 0) {
                return crypto::fail(crypto::Errc::invalid_argument,
                                    "handoverItem[" + std::to_string(i) +
                                        "]: a binaryObject url must be urn:enclave:blob:<id> "
                                        "naming an upload (docs/ingest.md)");
            }
            b.blob_id = b.url.substr(kBlobUrn.size());
            b.url.clear();
        }
    }
    return items;
}

/// Undoes the claims of a failed enqueue, except those of a keyed unit that
/// a concurrent request with the same key enqueued meanwhile (its item
/// holds the upload now).
void release_claims(DeliveryServices::Impl& s, const std::string& reference,
                    const std::vector<std::pair<std::string, std::string>>& claims) {
    std::vector<std::pair<std::string, std::string>> mine;
    for (const auto& c : claims) {
        if (!c.second.empty()) {
            auto held = s.outbox->find_key(reference, c.second.substr(reference.size() + 1));
            if (!held || *held) continue;  // enqueued by the other request (or unknown: keep)
        }
        mine.push_back(c);
    }
    if (auto r = s.catalog->release(mine); !r) {
        log(LogLevel::error, "ingest", "blob catalogue: " + r.error().message());
    }
}

Response post_items(DeliveryServices::Impl& s, const Request& req) {
    const std::string& reference = req.path_params.at(0);
    auto endpoint = endpoint_for(s, reference);
    if (!endpoint) return endpoint.error();
    const std::string* type = req.header("Content-Type");
    const bool is_json = has_prefix(type, "application/json");
    const bool is_xml = has_prefix(type, "application/xml") || has_prefix(type, "text/xml");
    if (!is_json && !is_xml) {
        return Response::error(415, "unsupported_media_type",
                               "Content-Type: application/json or application/xml");
    }
    // A keyed unit seen before is answered from its key, before anything it
    // names is checked again: its uploads may be delivered and erased by now.
    std::vector<std::optional<delivery::EnqueueResult>> answers;
    std::vector<delivery::EnqueueUnit> units;
    std::vector<std::pair<std::string, std::string>> blob_ids;
    // Model A/C URLs minted for this request: forgotten again unless its
    // items are enqueued (an item refused later, a claim or enqueue failure).
    struct MintedUrls {
        DeliveryServices::Impl& s;
        std::vector<crypto::Bytes> hashes;
        bool keep = false;
        ~MintedUrls() {
            if (keep) return;
            if (auto r = s.catalog->forget_pull_urls(hashes); !r) {
                log(LogLevel::error, "ingest", "blob catalogue: " + r.error().message());
            }
        }
    } minted{s, {}};
    auto add_unit = [&](std::optional<std::string> key, std::optional<delivery::EnqueueResult> seen,
                        std::vector<delivery::HandoverItem> items) -> crypto::Result<void> {
        if (seen) {
            answers.push_back(std::move(seen));
            return {};
        }
        const std::string by = key ? reference + " " + *key : std::string();
        delivery::EnqueueUnit unit{std::move(key), {}};
        for (auto& item : items) {
            for (const auto& b : item.associated_binary_data) blob_ids.emplace_back(b.blob_id, by);
            auto out = outbox_item(s, *endpoint, std::move(item), req.peer.cert_sha256, by,
                                   minted.hashes);
            if (!out) return tl::unexpected(out.error());
            unit.items.push_back(std::move(*out));
        }
        units.push_back(std::move(unit));
        answers.emplace_back();  // from the enqueue below
        return {};
    };
    if (is_json) {
        auto items = delivery::parse_ingest_items(req.body);
        if (!items) return error_response(items.error());
        std::vector<std::string> keys;
        for (const auto& it : *items) {
            if (it.idempotency_key) keys.push_back(*it.idempotency_key);
        }
        auto seen = s.outbox->find_keys(reference, keys);
        if (!seen) return error_response(seen.error());
        auto next_seen = seen->begin();
        for (auto& it : *items) {
            std::optional<delivery::EnqueueResult> known;
            if (it.idempotency_key) known = std::move(*next_seen++);
            std::vector<delivery::HandoverItem> one;
            one.push_back(std::move(it.item));
            if (auto r = add_unit(std::move(it.idempotency_key), std::move(known), std::move(one)); !r) {
                return error_response(r.error());
            }
        }
    } else {
        auto items = xml_items(s, req.body);
        if (!items) return error_response(items.error());
        std::optional<std::string> key;
        std::optional<delivery::EnqueueResult> known;
        if (const std::string* k = req.header("Idempotency-Key")) {
            key = *k;
            auto seen = s.outbox->find_key(reference, *k);
            if (!seen) return error_response(seen.error());
            known = std::move(*seen);
        }
        if (auto r = add_unit(std::move(key), std::move(known), std::move(*items)); !r) {
            return error_response(r.error());
        }
    }
    {
        std::set<std::string> seen;
        for (const auto& [id, by] : blob_ids) seen.insert(id);
        if (seen.size() != blob_ids.size()) {
            return Response::error(400, "invalid_argument",
                                   "binaries: an upload may belong to one item only");
        }
    }
    if (!units.empty()) {
        // Claimed first, durably: a crash after the enqueue then never
        // leaves an enqueued item whose upload is free to be swept or named
        // again. A crash between the two leaves a claim that the same keyed
        // retry takes over, or that the orphan sweep reclaims.
        if (auto r = s.catalog->claim(blob_ids, unix_now()); !r) return error_response(r.error(), false);
        auto results = s.outbox->enqueue_batch(endpoint->name, reference, std::move(units));
        if (!results) {
            release_claims(s, reference, blob_ids);
            return error_response(results.error(), false);
        }
        minted.keep = true;
        auto next = results->begin();
        for (auto& a : answers) {
            if (!a) a = std::move(*next++);
        }
    }
    json out = json::array();
    std::size_t accepted = 0;
    for (const auto& a : answers) {
        out.push_back(json{{"ids", a->item_ids}, {"duplicate", a->duplicate}});
        if (!a->duplicate) accepted += a->item_ids.size();
    }
    s.wake_workers(endpoint->name);
    return Response::json(202, json{{"reference", reference}, {"accepted", accepted}, {"units", out}}.dump());
}

}  // namespace

crypto::Result<delivery::OutboxItem> outbox_item(DeliveryServices::Impl& s,
                                                 const EndpointSpec& endpoint,
                                                 delivery::HandoverItem item,
                                                 const std::string& uploader,
                                                 const std::string& attached_by,
                                                 std::vector<crypto::Bytes>& minted) {
    delivery::OutboxItem out;
    // Models A/C (the LEA fetches from us) when the endpoint takes them, else B.
    const bool pull = endpoint.allows(DeliveryModel::a) || endpoint.allows(DeliveryModel::c);
    if (!item.associated_binary_data.empty() && !pull && !endpoint.allows(DeliveryModel::b)) {
        return crypto::fail(crypto::Errc::invalid_state,
                            "binaries: the task's endpoint takes no binary deliveries");
    }
    for (std::size_t i = 0; i < item.associated_binary_data.size(); ++i) {
        auto& b = item.associated_binary_data[i];
        const std::string where = "binaries[" + std::to_string(i) + "]";
        auto blob = s.catalog->find(b.blob_id);
        if (!blob) return tl::unexpected(blob.error());
        // Another collector's upload answers as an unknown one.
        if (!*blob || (*blob)->uploader != uploader) {
            return crypto::fail(crypto::Errc::invalid_argument, where + ": no such upload");
        }
        // Delivered and erased: a retry of its own keyed submission was
        // answered from the key before this (post_items).
        if ((*blob)->erased != 0) {
            return crypto::fail(crypto::Errc::invalid_argument, where + ": no such upload");
        }
        const bool retry = !attached_by.empty() && (*blob)->attached_by == attached_by;
        // An upload about to be swept as unattached is refused (margin: a
        // tenth of the time to live, at most a minute).
        const auto ttl = s.config.ingest_limits.unattached_blob_ttl.count();
        const auto now = unix_now();
        if (!(*blob)->attached && (*blob)->created < now - ttl + std::min<std::int64_t>(ttl / 10, 60)) {
            return crypto::fail(crypto::Errc::expired,
                                where + ": the upload is too old; upload it again");
        }
        // A retry of the same keyed submission may name its uploads again
        // (the outbox answers it as a duplicate).
        if ((*blob)->attached && !retry) {
            return crypto::fail(crypto::Errc::invalid_argument,
                                where + ": this upload already belongs to an item");
        }
        b.content_length = (*blob)->size;
        b.content_type = (*blob)->content_type;
        b.checksum = (*blob)->sha256;
        if (pull) {
            // Served by us until the expiry; no push, so not an outbox binary.
            auto grant = grant_pull_url(s, b.blob_id, endpoint.name);
            if (!grant) return tl::unexpected(grant.error());
            b.url = std::move(grant->url);
            b.expiry = std::move(grant->expiry);
            minted.push_back(std::move(grant->token_hash));
            continue;
        }
        b.url = endpoint.binary_url_scheme;
        b.url.replace(b.url.find("{id}"), 4, delivery::uuid_v4());
        out.binaries.push_back({b.blob_id, b.url, (*blob)->size, (*blob)->content_type,
                                (*blob)->sha256});
    }
    auto xml = delivery::write_handover_item(item);
    if (!xml) return tl::unexpected(xml.error());
    out.payload = std::move(*xml);
    return out;
}

bool valid_media_type(std::string_view text) {
    if (text.empty() || text.size() > 255) return false;
    const auto slash = text.find('/');
    if (slash == 0 || slash == std::string_view::npos) return false;
    std::size_t i = 0;
    for (; i < slash; ++i) {
        if (!tchar(text[i])) return false;
    }
    ++i;
    const std::size_t sub_start = i;
    while (i < text.size() && tchar(text[i])) ++i;
    if (i == sub_start) return false;
    // Parameters: anything printable after ';' (kept as given).
    if (i == text.size()) return true;
    if (text[i] != ';' && text[i] != ' ') return false;
    for (; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7f) return false;
    }
    return true;
}

void add_ingest_routes(DeliveryServices::Impl& s, Router& ingest) {
    ingest.add_stream("PUT", "/ingest/v1/blobs", RoleSet{}, s.config.ingest_limits.max_blob_bytes,
                      [&s](const Request& head) { return start_upload(s, head); });
    ingest.add("POST", "/ingest/v1/tasks/{reference}/items", RoleSet{},
               [&s](const Request& req) { return post_items(s, req); });
}

}  // namespace enclave::appliance::detail
