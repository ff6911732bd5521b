// SPDX-License-Identifier: Apache-2.0
// Models A and C (TS 103 707 Annex C.2, C.4): binaries served from the
// encrypted blob store on the LEA listener.
//
//   GET  /v1/binaries/{token}   the whole object (200) or byte ranges (206,
//                               RFC 9110 14; multipart/byteranges for
//                               several), 416 for unsatisfiable ranges
//   HEAD /v1/binaries/{token}   the same header fields, no body
//
// A token is 32 bytes from the CSPRNG (64 hex digits) minted per binary at
// ingest; the catalogue keeps its SHA-256 only. A URL works for the client
// of the endpoint it was minted for, until its expiry. An unknown token, an
// expired one and another client's get the very same answer as an unknown
// path (404, same fields, same body): the answer never says a URL exists.
#include <algorithm>
#include <cctype>
#include <variant>

#include "appliance/blob_response.hpp"
#include "appliance/http_range.hpp"
#include "appliance/log.hpp"
#include "audit/task_time.hpp"
#include "audit_services_impl.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "crypto/secret.hpp"
#include "delivery_services_impl.hpp"
#include "pull_cache.hpp"

namespace enclave::appliance::detail {

namespace {

constexpr std::size_t kTokenBytes = 32;

Response no_such_resource() { return Response::error(404, "not_found", "no such resource"); }

bool token_syntax(std::string_view token) {
    return token.size() == 2 * kTokenBytes &&
           std::all_of(token.begin(), token.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

crypto::Bytes token_hash(std::string_view token) {
    return crypto::digest(crypto::HashAlg::sha256,
                          crypto::ByteView(reinterpret_cast<const std::uint8_t*>(token.data()),
                                           token.size()));
}

std::size_t count_fields(const Request& req, std::string_view name) {
    return static_cast<std::size_t>(std::count_if(
        req.headers.begin(), req.headers.end(), [&](const Header& h) {
            return h.name.size() == name.size() &&
                   std::equal(name.begin(), name.end(), h.name.begin(), [](char a, char b) {
                       return std::tolower(static_cast<unsigned char>(a)) ==
                              std::tolower(static_cast<unsigned char>(b));
                   });
        }));
}

/// The field's value when it appears exactly once; nullptr otherwise.
const std::string* singleton(const Request& req, std::string_view name) {
    return count_fields(req, name) == 1 ? req.header(name) : nullptr;
}

/// Whether the caller is the URL's endpoint's LEA client: its PSK's
/// endpoint, or a certificate subject the endpoint lists.
bool is_endpoint_client(DeliveryServices::Impl& s, const Peer& peer, const std::string& endpoint) {
    if (!peer.psk_identity.empty()) return peer.psk_endpoint == endpoint;
    auto spec = s.endpoints->get(endpoint);
    if (!spec || !*spec) return false;
    const auto& subjects = (*spec)->client_subjects;
    return !peer.cert_subject.empty() &&
           std::find(subjects.begin(), subjects.end(), peer.cert_subject) != subjects.end();
}

/// The first successful access of a URL goes to the audit log (who fetched
/// which upload); later ranges of the same URL do not.
void audit_first_access(DeliveryServices::Impl& s, const Request& req, const PullUrl& url) {
    // Accessed before (as read with the URL): no write for every later range.
    if (url.accessed != 0) return;
    auto first = s.catalog->mark_pull_accessed(url.token_hash, unix_now());
    if (!first) {
        log(LogLevel::error, "delivery", "binary URL access: " + first.error().message());
        return;
    }
    s.pull_cache->set_accessed(url.token_hash, unix_now());
    if (!*first) return;
    auto r = s.audit->audit_sink().append(nlohmann::json{{"event", "binary.accessed"},
                                                         {"endpoint", url.endpoint},
                                                         {"blob", url.blob_id},
                                                         {"size", url.size},
                                                         {"sha256", url.sha256},
                                                         {"actor", actor_of(req.peer)}});
    if (!r) log(LogLevel::error, "delivery", "audit log: " + r.error().message());
}

/// What one request of a URL needs: its row and its open reader.
struct Opened {
    PullUrl url;
    std::shared_ptr<const crypto::BlobReader> reader;
};

/// The full check: the catalogue's row, the URL's expiry, the caller
/// against the endpoint, and the object opened (its key unwrapped on the
/// token). What passes goes into the reader cache for the next range.
std::variant<Opened, Response> open_url(DeliveryServices::Impl& s, const Request& req,
                                        const crypto::Bytes& hash, const std::string& client) {
    auto url = s.catalog->find_pull_url(hash);
    if (!url) {
        log(LogLevel::error, "delivery", "binary URL lookup: " + url.error().message());
        return Response::error(500, "internal", "internal error");
    }
    if (!*url || unix_now() >= (*url)->expires) return no_such_resource();
    if (!is_endpoint_client(s, req.peer, (*url)->endpoint)) {
        log(LogLevel::warning, "delivery",
            "a Model A/C URL of endpoint " + (*url)->endpoint +
                " was presented by another client (" +
                (req.peer.psk_identity.empty() ? "certificate sha256 " + req.peer.cert_sha256
                                               : "PSK " + req.peer.psk_identity) +
                "); answered as unknown");
        return no_such_resource();
    }
    auto reader = s.blobs->open_object((*url)->blob_id);
    if (!reader) {
        if (reader.error().code() == crypto::Errc::not_found) return no_such_resource();
        log(LogLevel::error, "delivery", "serving a binary: " + reader.error().message());
        return Response::error(500, "internal", "internal error");
    }
    Opened out{std::move(**url), std::make_shared<const crypto::BlobReader>(std::move(*reader))};
    s.pull_cache->put(out.url, client, out.reader, std::chrono::steady_clock::now());
    return out;
}

/// The cached row and reader when this client fetched this URL moments
/// ago and the object is still there; otherwise the full check.
std::variant<Opened, Response> find_url(DeliveryServices::Impl& s, const Request& req,
                                        const std::string& token) {
    const crypto::Bytes hash = token_hash(token);
    const std::string client = pull_client_key(req.peer);
    if (auto hit = s.pull_cache->find(hash, client, std::chrono::steady_clock::now(), unix_now())) {
        // Erased meanwhile (delivered, URLs expired, task purged): not from
        // the cached reader; the full check answers as for any unknown URL.
        auto there = s.blobs->exists(hit->url.blob_id);
        if (there && *there) return Opened{std::move(hit->url), std::move(hit->reader)};
        s.pull_cache->drop_blob(hit->url.blob_id);
    }
    return open_url(s, req, hash, client);
}

Response serve(DeliveryServices::Impl& s, const Request& req, bool head) {
    const std::string& token = req.path_params.at(0);
    if (!token_syntax(token)) return no_such_resource();
    auto found = find_url(s, req, token);
    if (auto* refused = std::get_if<Response>(&found)) return std::move(*refused);
    auto& [url, reader] = std::get<Opened>(found);
    const std::uint64_t size = reader->size();
    const std::string etag = strong_etag(url.sha256);
    // Range is defined for GET only (RFC 9110 14.2); HEAD answers as a full
    // GET. Range and If-Range are singletons: either sent twice, no Range.
    const std::string* range = head ? nullptr : singleton(req, "Range");
    const std::string* if_range = range ? singleton(req, "If-Range") : nullptr;
    if (range && count_fields(req, "If-Range") > 1) range = nullptr;
    const RangePlan plan = plan_ranges(range, if_range, etag, size);
    if (plan.outcome == RangeOutcome::unsatisfiable) {
        Response res =
            Response::error(416, "range_not_satisfiable", "no requested range is satisfiable");
        res.headers.push_back({"Content-Range", unsatisfied_content_range(size)});
        res.headers.push_back({"ETag", etag});
        return res;
    }
    Response res;
    res.headers.push_back({"ETag", etag});
    res.headers.push_back({"Accept-Ranges", "bytes"});
    audit_first_access(s, req, url);
    std::vector<BodySegment> segments;
    if (plan.outcome == RangeOutcome::partial) {
        auto body = range_body(plan, url.content_type, size, make_boundary());
        if (!body) {
            log(LogLevel::error, "delivery", "serving ranges: " + body.error().message());
            return Response::error(500, "internal", "internal error");
        }
        res.status = 206;
        res.content_type = body->content_type;
        for (auto& [name, value] : body->headers) res.headers.push_back({name, value});
        segments = std::move(body->segments);
    } else {
        res.content_type = url.content_type;
        segments.push_back(BodySegment{{}, 0, size, true});
    }
    // A chunk that fails authentication ends the response early (the LEA
    // sees a short body and may ask for the range again); the damage is a
    // monitoring event (record: the blob's random id) and an error line.
    EventSink* events = s.event_sink;
    auto on_damage = [events, blob = url.blob_id, endpoint = url.endpoint] {
        log(LogLevel::error, "delivery",
            "a chunk of blob " + blob + " failed authentication while endpoint " + endpoint +
                " fetched it: the blob file is damaged");
        if (events != nullptr) {
            events->emit(events::IntegrityFailure{"blobs", monitoring::Fingerprint(blob)});
        }
    };
    res.source = std::make_shared<BlobSegmentSource>(std::move(reader), std::move(segments),
                                                     std::move(on_damage));
    return res;
}

}  // namespace

std::string pull_base_url(const Config& c) {
    if (!c.delivery.binary_base_url.empty()) return c.delivery.binary_base_url;
    std::string host = c.lea.address;
    if (host == "0.0.0.0" || host == "::" || host.empty()) host = "localhost";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return "https://" + host + ":" + std::to_string(c.lea.port);
}

crypto::Result<PullGrant> grant_pull_url(DeliveryServices::Impl& s, const std::string& blob_id,
                                         const std::string& endpoint) {
    crypto::Secret token_bytes = crypto::Secret::random(kTokenBytes);
    std::string token = crypto::hex_encode(token_bytes.view());
    PullUrl row;
    row.token_hash = token_hash(token);
    row.blob_id = blob_id;
    row.endpoint = endpoint;
    row.created = unix_now();
    row.expires = row.created + s.config.delivery.binary_url_ttl.count();
    if (auto r = s.catalog->add_pull_url(row); !r) {
        crypto::wipe(token);
        return tl::unexpected(r.error().wrap("minting a binary URL"));
    }
    PullGrant out;
    out.url = pull_base_url(s.config) + "/v1/binaries/" + token;
    out.token_hash = std::move(row.token_hash);
    crypto::wipe(token);
    out.expiry = audit::format_utc_time(audit::UtcTime(std::chrono::seconds(row.expires)));
    return out;
}

void add_binary_routes(DeliveryServices::Impl& s, Router& lea) {
    lea.add("GET", "/v1/binaries/{token}", RoleSet{},
            [&s](const Request& req) { return serve(s, req, false); });
    lea.add("HEAD", "/v1/binaries/{token}", RoleSet{},
            [&s](const Request& req) { return serve(s, req, true); });
}

}  // namespace enclave::appliance::detail
