// SPDX-License-Identifier: Apache-2.0
// A strict HTTP/1.x response parser for the admin client. It sees the whole
// response at once (the connection is closed after one exchange), so it
// needs no state machine: split the header block, check every line, then
// take the body by Content-Length, by chunks, or to the end.
#include <algorithm>
#include <cctype>
#include <charconv>

#include "admin_client_detail.hpp"
#include "appliance/admin_client.hpp"

namespace enclave::appliance {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

bool is_token_char(unsigned char c) {
    return std::isalnum(c) ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Decimal digits only, no sign, no overflow.
std::optional<std::size_t> parse_size(std::string_view s, int base) {
    if (s.empty() || s.size() > 16) return std::nullopt;
    std::size_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

Result<void> parse_status_line(std::string_view line, HttpResponse& r) {
    // "HTTP/1.1 200 OK" (the reason may be empty)
    if (line.size() < 12 ||
        (line.substr(0, 9) != "HTTP/1.1 " && line.substr(0, 9) != "HTTP/1.0 ")) {
        return fail(Errc::malformed_input, "admin API: response is not HTTP/1.x");
    }
    const auto code = parse_size(line.substr(9, 3), 10);
    if (!code || *code < 100 || *code > 599 || (line.size() > 12 && line[12] != ' ')) {
        return fail(Errc::malformed_input, "admin API: bad HTTP status code");
    }
    if (*code < 200) {
        return fail(Errc::malformed_input, "admin API: unexpected interim (1xx) response");
    }
    r.status = static_cast<int>(*code);
    r.reason = line.size() > 13 ? std::string(line.substr(13)) : std::string();
    for (unsigned char c : r.reason) {
        if (c < 0x20 && c != '\t') {
            return fail(Errc::malformed_input, "admin API: control character in status line");
        }
    }
    return {};
}

Result<void> parse_header_line(std::string_view line, HttpResponse& r) {
    const auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) {
        return fail(Errc::malformed_input, "admin API: header line without a name");
    }
    const std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), [](unsigned char c) { return is_token_char(c); })) {
        return fail(Errc::malformed_input, "admin API: bad header name");  // also refuses obs-fold
    }
    const std::string_view value = trim(line.substr(colon + 1));
    for (unsigned char c : value) {
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return fail(Errc::malformed_input, "admin API: control character in a header value");
        }
    }
    if (r.headers.size() >= detail::kMaxHttpHeaders) {
        return fail(Errc::too_large, "admin API: too many headers");
    }
    r.headers.emplace_back(lower(name), std::string(value));
    return {};
}

// Header block -> status and headers; returns the offset of the body.
Result<std::size_t> parse_head(std::string_view raw, HttpResponse& r) {
    const auto end = raw.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (raw.size() > detail::kMaxHttpHeaderBytes) {
            return fail(Errc::too_large, "admin API: header block over 64 KiB");
        }
        return fail(Errc::malformed_input, "admin API: truncated response (no end of headers)");
    }
    if (end + 4 > detail::kMaxHttpHeaderBytes) {
        return fail(Errc::too_large, "admin API: header block over 64 KiB");
    }
    std::string_view head = raw.substr(0, end + 2);
    bool first = true;
    while (!head.empty()) {
        const auto eol = head.find("\r\n");
        const std::string_view line = head.substr(0, eol);
        if (line.find('\n') != std::string_view::npos ||
            line.find('\r') != std::string_view::npos) {
            return fail(Errc::malformed_input, "admin API: bare CR or LF in the header block");
        }
        auto ok = first ? parse_status_line(line, r) : parse_header_line(line, r);
        if (!ok) return tl::unexpected(ok.error());
        first = false;
        head.remove_prefix(eol + 2);
    }
    return end + 4;
}

Result<std::string> decode_chunked(std::string_view in, std::size_t max_bytes) {
    std::string out;
    for (;;) {
        const auto eol = in.find("\r\n");
        if (eol == std::string_view::npos || eol > 1024) {
            return fail(Errc::malformed_input, "admin API: truncated or bad chunk size line");
        }
        std::string_view size_text = in.substr(0, eol);
        size_text = trim(size_text.substr(0, size_text.find(';')));  // drop chunk extensions
        const auto size = parse_size(size_text, 16);
        if (!size) return fail(Errc::malformed_input, "admin API: bad chunk size");
        in.remove_prefix(eol + 2);
        if (*size == 0) break;
        if (*size > max_bytes - out.size()) {
            return fail(Errc::too_large, "admin API: response body too large");
        }
        if (in.size() < *size + 2 || in.substr(*size, 2) != "\r\n") {
            return fail(Errc::malformed_input, "admin API: truncated chunk");
        }
        out.append(in.substr(0, *size));
        in.remove_prefix(*size + 2);
    }
    // Trailer fields are not used; they must still end with an empty line.
    while (true) {
        const auto eol = in.find("\r\n");
        if (eol == std::string_view::npos || eol > 8192) {
            return fail(Errc::malformed_input, "admin API: truncated chunked trailer");
        }
        in.remove_prefix(eol + 2);
        if (eol == 0) break;
    }
    if (!in.empty()) return fail(Errc::malformed_input, "admin API: bytes after the chunked body");
    return out;
}

}  // namespace

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
    const std::string key = lower(name);
    for (const auto& [k, v] : headers) {
        if (k == key) return std::string_view(v);
    }
    return std::nullopt;
}

Result<HttpResponse> parse_http_response(std::string_view raw, std::size_t max_bytes) {
    HttpResponse r;
    auto body_at = parse_head(raw, r);
    if (!body_at) return tl::unexpected(body_at.error());
    std::string_view rest = raw.substr(*body_at);
    std::size_t lengths = 0, encodings = 0;
    for (const auto& [k, v] : r.headers) {
        lengths += k == "content-length";
        encodings += k == "transfer-encoding";
    }
    if (lengths > 1 || encodings > 1 || (lengths && encodings)) {
        return fail(Errc::malformed_input,
                    "admin API: conflicting Content-Length / Transfer-Encoding");
    }
    const bool no_body = r.status == 204 || r.status == 304;
    if (encodings) {
        if (lower(*r.header("transfer-encoding")) != "chunked") {
            return fail(Errc::malformed_input, "admin API: unsupported Transfer-Encoding");
        }
        auto body = decode_chunked(rest, max_bytes);
        if (!body) return tl::unexpected(body.error());
        r.body = std::move(*body);
    } else if (lengths) {
        const auto n = parse_size(*r.header("content-length"), 10);
        if (!n) return fail(Errc::malformed_input, "admin API: bad Content-Length");
        if (*n > max_bytes) return fail(Errc::too_large, "admin API: response body too large");
        if (rest.size() < *n) return fail(Errc::malformed_input, "admin API: truncated body");
        if (rest.size() > *n) return fail(Errc::malformed_input, "admin API: bytes after the body");
        r.body = std::string(rest);
    } else {
        if (rest.size() > max_bytes) {
            return fail(Errc::too_large, "admin API: response body too large");
        }
        r.body = std::string(rest);  // read to end of stream
    }
    if (no_body && !r.body.empty()) {
        return fail(Errc::malformed_input, "admin API: body on a 204/304 response");
    }
    return r;
}

namespace detail {

std::optional<std::size_t> http_expected_length(std::string_view raw) {
    const auto end = raw.find("\r\n\r\n");
    if (end == std::string_view::npos) return std::nullopt;
    HttpResponse r;
    if (!parse_head(raw, r)) return std::nullopt;
    if (r.header("transfer-encoding")) return std::nullopt;
    const auto cl = r.header("content-length");
    if (!cl) return std::nullopt;
    const auto n = parse_size(*cl, 10);
    if (!n || *n > raw.size() + (std::size_t{1} << 40)) return std::nullopt;
    return end + 4 + *n;
}

}  // namespace detail
}  // namespace enclave::appliance
