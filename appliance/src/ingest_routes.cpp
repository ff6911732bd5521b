// SPDX-License-Identifier: Apache-2.0
// Ingest API for collectors (docs/ingest.md), on listeners.ingest (mutual
// TLS with a collector certificate).
//
//   PUT /ingest/v1/blobs     one binary, streamed into the blob store with its
//                            SHA-256 computed on the way; 201
//                            {"id","sha256","size"} once it is durable.
//
// The bytes go from the listener's fixed read buffer straight into the
// encrypting blob writer: no copy of an upload is ever whole in memory. An
// upload that fails or is cut off leaves nothing (the temp file goes).
#include <chrono>

#include "appliance/log.hpp"
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
        b.created = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
        if (auto r = s_.catalog->insert(b); !r) {
            log(LogLevel::error, "ingest", "blob catalogue: " + r.error().message());
            (void)s_.blobs->remove(id);
            return Response::error(503, "unavailable", "the upload could not be stored");
        }
        return Response::json(201, json{{"id", b.id}, {"sha256", b.sha256}, {"size", b.size}}.dump());
    }

private:
    static Response storage_error(const crypto::Error& e) {
        // A full disk is the common case: 507 tells the collector to retry
        // later rather than to change its request.
        if (e.code() == crypto::Errc::io_error &&
            e.context().find("No space left") != std::string::npos) {
            return Response::error(507, "insufficient_storage", "no space left for the upload");
        }
        return Response::error(503, "unavailable", "the upload could not be stored");
    }

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
        return Response::error(503, "unavailable", "the upload could not be stored");
    }
    return std::make_unique<BlobUploadSink>(s, std::move(*writer), *type, head.peer.cert_sha256);
}

}  // namespace

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
}

}  // namespace enclave::appliance::detail
