// SPDX-License-Identifier: Apache-2.0
// One Model A/C transfer (TS 103 707 Annex C/E over RFC 9110 ranges): the
// requests, the checks on every answer, resume after an interruption, and
// the final size and SHA-256 checks.
#include "binary_transfer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "delivery/lea_client_range.hpp"

namespace enclave::simulator::detail {
namespace {

using crypto::Errc;
using crypto::fail;
using delivery::Reply;

crypto::Result<void> write_all(int fd, crypto::ByteView data) {
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail(Errc::io_error, std::string("write: ") + std::strerror(errno));
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return {};
}

bool parse_decimal(std::string_view s, std::uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

class Transfer {
public:
    Transfer(delivery::LeaClient& client, const BinaryObjectFacts& object, int fd,
             const TransferSettings& s, const TransferControl& c)
        : client_(client), object_(object), fd_(fd), s_(s), c_(c), total_(object.content_length) {}

    TransferOutcome run();

private:
    crypto::Result<void> transfer();
    crypto::Result<void> one_request();
    crypto::Result<void> on_head(const Reply& head);
    crypto::Result<void> on_partial(const Reply& head);
    crypto::Result<void> on_whole(const Reply& head);
    crypto::Result<void> take(crypto::ByteView piece);
    crypto::Result<void> check_object(const std::string& sha256_hex) const;
    [[nodiscard]] bool done() const {
        return finished_ || (answers_ > 0 && total_ && written_ == *total_);
    }

    delivery::LeaClient& client_;
    const BinaryObjectFacts& object_;
    int fd_;
    const TransferSettings& s_;
    const TransferControl& c_;
    crypto::Hasher hasher_{crypto::HashAlg::sha256};
    std::optional<std::uint64_t> total_;  ///< the object's length, once known
    std::uint64_t written_ = 0;
    std::string etag_;  ///< strong ETag of the version being fetched ("" = none)
    unsigned answers_ = 0;
    unsigned attempts_ = 0;
    unsigned ranges_ = 0;
    bool finished_ = false;
    // The request in flight.
    bool ranged_ = false;
    std::uint64_t asked_first_ = 0;
    std::optional<std::uint64_t> asked_last_;
    std::optional<std::uint64_t> expected_;  ///< body length a 206 announced
    std::uint64_t got_ = 0;
    bool whole_ = false;
};

TransferOutcome Transfer::run() {
    TransferOutcome out;
    auto r = transfer();
    if (r) {
        // The digest of what arrived, also when a check below fails.
        out.sha256 = crypto::hex_encode(hasher_.finish());
        r = check_object(out.sha256);
    }
    if (!r) out.error = r.error();
    out.size = written_;
    out.attempts = attempts_;
    out.ranges = ranges_;
    return out;
}

/// Requests until the object is complete; a failure that may pass (the
/// transport, 5xx) is retried from the last byte received.
crypto::Result<void> Transfer::transfer() {
    attempts_ = 1;
    while (!done()) {
        auto r = one_request();
        if (r) continue;
        if (c_.stopping()) return fail(Errc::invalid_state, "the fetcher is stopping");
        if (r.error().code() != Errc::unavailable) return r;
        if (attempts_ >= s_.max_attempts) {
            return tl::unexpected(
                r.error().wrap("gave up after " + std::to_string(attempts_) + " attempts"));
        }
        const unsigned doublings = std::min(attempts_ - 1, 20u);
        const auto delay = std::min(s_.max_backoff, s_.backoff * (1u << doublings));
        if (!c_.sleep(delay)) return fail(Errc::invalid_state, "the fetcher is stopping");
        ++attempts_;
    }
    return {};
}

crypto::Result<void> Transfer::one_request() {
    std::vector<delivery::HttpHeader> headers;
    // A Range unless this is the first request of a Model A fetch (or of an
    // empty object, where any range would be unsatisfiable).
    ranged_ = written_ > 0 || (s_.range_bytes > 0 && total_.value_or(1) > 0);
    asked_first_ = written_;
    asked_last_.reset();
    if (ranged_) {
        if (s_.range_bytes > 0) {
            std::uint64_t last = written_ + s_.range_bytes - 1;
            if (total_) last = std::min(last, *total_ - 1);
            asked_last_ = last;
        }
        headers.push_back({"Range", delivery::byte_range_header(written_, asked_last_)});
        if (!etag_.empty()) headers.push_back({"If-Range", etag_});
        ++ranges_;
    }
    expected_.reset();
    got_ = 0;
    whole_ = false;
    auto r = client_.get_stream(
        object_.url, headers, [this](crypto::ByteView piece) { return take(piece); }, "GET",
        [this](const Reply& head) { return on_head(head); });
    if (!r) return tl::unexpected(r.error());
    ++answers_;
    if (expected_ && got_ != *expected_) {
        return fail(Errc::integrity_failure, "a 206 body of " + std::to_string(got_) +
                                                 " bytes for a range of " +
                                                 std::to_string(*expected_));
    }
    if (whole_) {
        finished_ = true;
        if (!total_) total_ = written_;
    }
    return {};
}

crypto::Result<void> Transfer::on_head(const Reply& head) {
    const unsigned st = head.status;
    if (st == 206) {
        if (!ranged_) return fail(Errc::integrity_failure, "a 206 to a request without Range");
        return on_partial(head);
    }
    if (st == 200) return on_whole(head);
    const std::string what = "HTTP " + std::to_string(st);
    if (st == 416) {
        return fail(Errc::integrity_failure,
                    what + ": the object is shorter than the range asked for");
    }
    if (st >= 500 || st == 408 || st == 429) return fail(Errc::unavailable, what);
    if (st == 404 || st == 410) return fail(Errc::not_found, what);
    if (st == 401 || st == 403) return fail(Errc::permission_denied, what);
    return fail(Errc::invalid_state, what + " (unexpected)");
}

/// A 206: the range must be the one asked for, of the same object.
crypto::Result<void> Transfer::on_partial(const Reply& head) {
    if (lower(std::string(head.header("content-type").value_or(""))).rfind("multipart/", 0) == 0) {
        return fail(Errc::integrity_failure, "a multipart 206 for a single range");
    }
    auto cr = delivery::parse_content_range(head.header("content-range").value_or(""));
    if (!cr) return tl::unexpected(cr.error().wrap("206"));
    if (cr->first != asked_first_ || (asked_last_ && cr->last > *asked_last_)) {
        return fail(Errc::integrity_failure,
                    "the 206 is for bytes " + std::to_string(cr->first) + "-" +
                        std::to_string(cr->last) + ", not the range asked for");
    }
    if (cr->complete_length) {
        if (total_ && *total_ != *cr->complete_length) {
            return fail(Errc::integrity_failure,
                        "the 206 gives a length of " + std::to_string(*cr->complete_length) +
                            " bytes, not " + std::to_string(*total_));
        }
        total_ = cr->complete_length;
    } else if (!total_) {
        return fail(Errc::integrity_failure, "the 206 gives no complete length");
    }
    if (cr->last >= *total_) return fail(Errc::integrity_failure, "the 206 ends past the object");
    if (*total_ > s_.max_object_bytes) return fail(Errc::too_large, "the object is over the limit");
    const std::string etag(head.header("etag").value_or(""));
    if (!etag_.empty() && !etag.empty() && etag != etag_) {
        return fail(Errc::integrity_failure, "the object changed during the transfer (ETag)");
    }
    if (etag_.empty() && delivery::is_strong_etag(etag)) etag_ = etag;
    expected_ = cr->length();
    return {};
}

/// A 200: the whole object, from byte 0 (also when a range was asked for).
crypto::Result<void> Transfer::on_whole(const Reply& head) {
    if (written_ > 0) {
        if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) {
            return fail(Errc::io_error, "cannot restart the file");
        }
        (void)hasher_.finish();  // resets it
        written_ = 0;
    }
    const std::string etag(head.header("etag").value_or(""));
    etag_ = delivery::is_strong_etag(etag) ? etag : std::string();
    total_ = object_.content_length;
    if (auto cl = head.header("content-length")) {
        std::uint64_t n = 0;
        if (!parse_decimal(*cl, n)) return fail(Errc::malformed_input, "200: bad Content-Length");
        if (total_ && *total_ != n) {
            return fail(Errc::integrity_failure, "the 200 declares " + std::to_string(n) +
                                                     " bytes, contentLength " +
                                                     std::to_string(*total_));
        }
        total_ = n;
    }
    if (total_ && *total_ > s_.max_object_bytes) {
        return fail(Errc::too_large, "the object is over the limit");
    }
    whole_ = true;
    return {};
}

crypto::Result<void> Transfer::take(crypto::ByteView piece) {
    if (c_.stopping()) return fail(Errc::invalid_state, "the fetcher is stopping");
    const std::uint64_t n = piece.size();
    if (expected_ && got_ + n > *expected_) {
        return fail(Errc::integrity_failure, "more bytes than the 206 range");
    }
    if (total_ && written_ + n > *total_) {
        return fail(Errc::integrity_failure, "more bytes than the object's length");
    }
    if (written_ + n > s_.max_object_bytes) {
        return fail(Errc::too_large, "the object is over the limit");
    }
    if (auto ok = write_all(fd_, piece); !ok) return ok;
    hasher_.update(piece);
    written_ += n;
    got_ += n;
    return {};
}

/// What the binaryObject promised: contentLength and checksum (SHA-256).
crypto::Result<void> Transfer::check_object(const std::string& sha256_hex) const {
    if (object_.content_length && written_ != *object_.content_length) {
        return fail(Errc::integrity_failure, "size " + std::to_string(written_) +
                                                 " bytes, contentLength " +
                                                 std::to_string(*object_.content_length));
    }
    if (!object_.checksum.empty() && sha256_hex != lower(object_.checksum)) {
        return fail(Errc::integrity_failure,
                    "the SHA-256 of the bytes received differs from the binaryObject checksum");
    }
    return {};
}

}  // namespace

bool is_sha256_hex(std::string_view t) noexcept {
    if (t.size() != 64) return false;
    return std::all_of(t.begin(), t.end(),
                       [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

TransferOutcome run_transfer(delivery::LeaClient& client, const BinaryObjectFacts& object, int fd,
                             const TransferSettings& settings, const TransferControl& control) {
    if (!object.checksum.empty() && !is_sha256_hex(object.checksum)) {
        TransferOutcome out;
        out.error = crypto::Error(Errc::malformed_input,
                                  "the binaryObject checksum is not a SHA-256 in hex");
        return out;
    }
    Transfer t(client, object, fd, settings, control);
    return t.run();
}

}  // namespace enclave::simulator::detail
