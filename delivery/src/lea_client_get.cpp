// SPDX-License-Identifier: Apache-2.0
// LeaClient::get_stream: a GET (or HEAD) whose response body goes to a sink
// in chunk_size pieces, for Model A/C fetches (TS 103 707 Annex C/E). See
// lea_client.hpp for the behaviour; the pool and connection set-up are in
// lea_client.cpp.
#include <array>

#include "crypto/secret.hpp"
#include "lea_client_impl.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::fail;
using detail::describe;
using detail::is_timeout;
using detail::run_op;

namespace {

/// RFC 9110 section 5.6.2 tchar.
bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// Headers whose value the client itself decides (framing, the connection,
/// the origin): a caller may not set or override them.
constexpr std::array<std::string_view, 10> kReservedHeaders = {
    "host", "content-length", "transfer-encoding", "connection",       "keep-alive",
    "upgrade", "te",          "trailer",           "expect",           "proxy-connection"};

crypto::Result<http::verb> stream_verb(std::string_view method) {
    if (method == "GET") return http::verb::get;
    if (method == "HEAD") return http::verb::head;
    return fail(Errc::invalid_argument, "get_stream: the method must be GET or HEAD");
}

Reply head_of(const http::response_parser<http::buffer_body>& p) {
    Reply r;
    r.status = p.get().result_int();
    for (const auto& f : p.get()) {
        r.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    }
    return r;
}

}  // namespace

crypto::Result<void> check_extra_header(const HttpHeader& h) {
    if (h.name.empty() || h.name.size() > 256) {
        return fail(Errc::invalid_argument, "extra header: the name must be 1..256 characters");
    }
    for (char c : h.name) {
        if (!is_tchar(c)) {
            return fail(Errc::invalid_argument, "extra header: the name is not an HTTP token");
        }
    }
    for (std::string_view reserved : kReservedHeaders) {
        if (beast::iequals(h.name, reserved)) {
            return fail(Errc::invalid_argument,
                        "extra header " + h.name + ": set by the client, not by the caller");
        }
    }
    if (h.name.size() + h.value.size() > kMaxExtraHeaderBytes) {
        return fail(Errc::invalid_argument, "extra header " + h.name + ": too long");
    }
    for (char ch : h.value) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            // CR, LF and NUL would split or end the header (request smuggling).
            return fail(Errc::invalid_argument,
                        "extra header " + h.name + ": the value has a control character");
        }
    }
    return {};
}

crypto::Result<Reply> LeaClient::Impl::get_stream(const HttpsUrl& url, http::verb verb,
                                                  const std::vector<HttpHeader>& extra,
                                                  const HeadHandler& on_head,
                                                  const BodySink& sink) {
    // Neither handler runs before the first response byte, so a resend on a
    // fresh connection (with_retry) never repeats a handler call.
    return with_retry([&](Connection& c, bool& /*body_started: no request body*/) {
        return stream_once(c, verb, url.target, extra, on_head, sink);
    });
}

Outcome LeaClient::Impl::stream_once(Connection& c, http::verb verb, const std::string& target,
                                     const std::vector<HttpHeader>& extra,
                                     const HeadHandler& on_head, const BodySink& sink) {
    http::request<http::empty_body> req{verb, target, 11};
    req.set(http::field::host, base.authority());
    req.set(http::field::user_agent, options.user_agent);
    for (const auto& h : extra) req.insert(h.name, h.value);
    req.keep_alive(true);
    const auto ec = run_op(c, options.write_timeout, [&](auto handler) {
        http::async_write(c.stream, req, std::move(handler));
    });
    if (ec) {
        Outcome out;
        out.result = tl::unexpected(error(Errc::unavailable, "write request", describe(ec)));
        out.retry_fresh = !is_timeout(ec);
        return out;
    }
    std::optional<StreamParser> parser;
    Outcome head = read_stream_head(c, parser, verb == http::verb::head);
    if (!head.result) return head;
    if (on_head) {
        if (auto ok = on_head(*head.result); !ok) {
            head.result = tl::unexpected(ok.error().wrap(where() + ": response head refused"));
            return head;  // keep = false: the body is still on the wire
        }
    }
    Outcome body = read_stream_body(c, *parser, sink);
    if (body.result) body.result = std::move(head.result);
    return body;
}

/// Reads the final response header into a fresh parser (interim 1xx answers
/// are skipped, at most 8 of them). The Outcome carries the head on success.
Outcome LeaClient::Impl::read_stream_head(Connection& c, std::optional<StreamParser>& p,
                                          bool head_request) {
    Outcome out;
    for (int interim = 0;; ++interim) {
        p.emplace();
        p->header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
        p->body_limit(options.max_stream_bytes);
        if (head_request) p->skip(true);  // a HEAD answer has no body, whatever it declares
        const auto ec = run_op(c, options.read_timeout, [&](auto handler) {
            http::async_read_header(c.stream, c.buffer, *p, std::move(handler));
        });
        if (ec == http::error::header_limit) {
            out.result = tl::unexpected(
                error(Errc::too_large, "read response",
                      "header over " + std::to_string(options.max_header_bytes) + " bytes"));
            return out;
        }
        if (ec == http::error::body_limit) {
            out.result = tl::unexpected(
                error(Errc::too_large, "read response",
                      "declared body over " + std::to_string(options.max_stream_bytes) + " bytes"));
            return out;
        }
        if (ec) {
            out.result = tl::unexpected(error(Errc::unavailable, "read response", describe(ec)));
            out.retry_fresh = interim == 0 && !is_timeout(ec) && !p->got_some();
            return out;
        }
        const unsigned status = p->get().result_int();
        if (status / 100 != 1) break;
        if (status == 101 || interim == 8) {
            out.result = tl::unexpected(error(Errc::malformed_input, "read response",
                                              status == 101 ? "unexpected 101 Switching Protocols"
                                                            : "too many interim responses"));
            return out;
        }
    }
    out.result = head_of(*p);
    return out;
}

/// Hands the body to the sink chunk by chunk; bytes that arrived before an
/// error still reach the sink (a resuming caller keeps them).
Outcome LeaClient::Impl::read_stream_body(Connection& c, StreamParser& p,
                                          const BodySink& sink) {
    Outcome out;
    std::vector<std::uint8_t> chunk(p.is_done() ? 0 : options.chunk_size);
    auto finish = [&](crypto::Result<Reply> r) {
        crypto::wipe(crypto::MutableByteView(chunk));  // interception content
        out.result = std::move(r);
        return out;
    };
    while (!p.is_done()) {
        p.get().body().data = chunk.data();
        p.get().body().size = chunk.size();
        auto ec = run_op(c, options.read_timeout, [&](auto handler) {
            http::async_read(c.stream, c.buffer, p, std::move(handler));
        });
        if (ec == http::error::need_buffer) ec = {};
        const std::size_t n = chunk.size() - p.get().body().size;
        if (n > 0) {
            if (auto ok = sink(crypto::ByteView(chunk.data(), n)); !ok) {
                return finish(tl::unexpected(ok.error().wrap(where() + ": body sink")));
            }
        }
        if (ec == http::error::body_limit) {
            return finish(tl::unexpected(
                error(Errc::too_large, "read response body",
                      "body over " + std::to_string(options.max_stream_bytes) + " bytes")));
        }
        if (ec) {
            return finish(
                tl::unexpected(error(Errc::unavailable, "read response body", describe(ec))));
        }
    }
    // Bytes already waiting after the declared end (a body longer than its
    // Content-Length, or junk) would be read as the next response: close.
    out.keep = p.get().keep_alive() && !p.need_eof() && c.buffer.size() == 0;
    return finish(Reply{});
}

crypto::Result<Reply> LeaClient::get_stream(std::string_view url,
                                            const std::vector<HttpHeader>& extra_headers,
                                            const BodySink& sink, std::string_view method,
                                            const HeadHandler& on_head) {
    auto target = impl_->resolve_target(url);
    if (!target) return tl::unexpected(target.error());
    auto verb = stream_verb(method);
    if (!verb) return tl::unexpected(verb.error());
    if (!sink && *verb == http::verb::get) {
        return fail(Errc::invalid_argument, "get_stream: no body sink");
    }
    if (extra_headers.size() > kMaxExtraHeaders) {
        return fail(Errc::invalid_argument, "get_stream: too many extra headers");
    }
    for (const auto& h : extra_headers) {
        if (auto ok = check_extra_header(h); !ok) return tl::unexpected(ok.error());
    }
    const BodySink none = [](crypto::ByteView) -> crypto::Result<void> { return {}; };
    return impl_->get_stream(*target, *verb, extra_headers, on_head, sink ? sink : none);
}

}  // namespace enclave::delivery
