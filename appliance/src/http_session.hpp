// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal (Beast): the HTTP/1.1 request loop shared by the mutual-TLS
// sessions and the admin Unix-socket sessions (CRTP, as Beast's
// advanced_server_flex example does). Included only by tls_listener.cpp and
// admin_server.cpp.
//
// Per connection: one strand (every handler below runs on it), a deadline
// set with expires_after before every asynchronous operation, and a fresh
// request_parser per message with the configured header and body limits.
//
//   idle     waiting for the first byte of the next request: idle_timeout
//   reading  the rest of the header and the body: read_timeout
//   writing  the response: write_timeout
//   closing  TLS close_notify / socket shutdown: min(write_timeout, 5 s)
//
// Derived supplies: stream() (the stream HTTP runs on), lowest() (the
// beast::basic_stream under it), close_transport() (orderly close, must end
// in finish()), write_body_piece(buffer, handler) (writes one piece of a
// streamed body, as net::async_write on stream() would) and
// shared_from_this(). A Derived that sets kBulkPipeline also supplies
// seal_piece(sealer, plain) (callable on a bulk thread) and
// write_sealed(records, handler).
//
// Bulk pipeline (streamed bodies with SessionEnv::bulk set): two piece slots.
// A bulk thread reads the next piece from the source (Model A/C: read and
// decrypt) and seals it into TLS records while the I/O thread sends the
// previous one, so the two halves of the work run on two cores and the I/O
// thread never waits on the disk. At most one job per connection is queued
// or running. While it is, the job alone touches the source, its slot and
// the SSL object (the I/O thread does no SSL operation during a streamed
// body: no read is pending, and closing only closes the socket); the job's
// completion is posted back to the connection's executor. Any end (done,
// write error, timeout, abort) waits for an outstanding job before it
// releases the source and wipes the slots.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "appliance/auth_guard.hpp"
#include "appliance/bulk_pool.hpp"
#include "appliance/config.hpp"
#include "appliance/event_sink.hpp"
#include "appliance/http_types.hpp"
#include "appliance/log.hpp"
#include "appliance/metrics.hpp"
#include "appliance/tls_record_sealer.hpp"
#include "connection_registry.hpp"
#include "crypto/secret.hpp"

namespace enclave::appliance::detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

/// What every session of one listener shares. Owned by the listener and by
/// each session (shared_ptr), so it outlives both.
struct SessionEnv {
    std::string listener;
    Limits limits;
    std::shared_ptr<const Router> router;
    ListenerMetrics* metrics = nullptr;  // owned by the Metrics, which outlives the I/O threads
    EventSink* events = nullptr;
    /// Admin TLS port: a verified peer's roles by certificate subject (null:
    /// the listener's fixed roles).
    std::function<RoleSet(const std::string& subject)> roles_of_subject;
    /// Failed authentication and lockout of this listener (its limits).
    std::shared_ptr<AuthGuard> guard;
    /// Prepares streamed body pieces off the I/O thread (the bulk pipeline
    /// below); null: the I/O thread does it. Outlives the sessions' I/O.
    BulkPool* bulk = nullptr;
    ConnectionRegistry registry;
    std::atomic<bool> draining{false};
};

inline std::shared_ptr<AuthGuard> make_auth_guard(const Limits& limits) {
    AuthGuardOptions o;
    o.max_failures = limits.auth_max_failures;
    o.window = limits.auth_failure_window;
    o.lockout = limits.auth_lockout;
    return std::make_shared<AuthGuard>(o);
}

inline std::chrono::milliseconds shutdown_timeout(const Limits& limits) {
    return std::min<std::chrono::milliseconds>(limits.write_timeout, std::chrono::seconds(5));
}

template <class Derived>
class HttpSession : public Connection {
public:
    void drain() override {
        net::post(self().lowest().get_executor(),
                  [s = self().shared_from_this()] { s->on_drain(); });
    }
    void abort() override {
        net::post(self().lowest().get_executor(),
                  [s = self().shared_from_this()] { s->on_abort(); });
    }

protected:
    enum class Phase { starting, idle, reading, handling, writing, closing, closed };

    explicit HttpSession(std::shared_ptr<SessionEnv> env, Peer peer)
        : env_(std::move(env)), peer_(std::move(peer)) {
        env_->metrics->connection_opened();
    }
    ~HttpSession() override {
        bulk_release(false);
        end_request();
        env_->registry.remove(id_);
        env_->metrics->connection_closed();
    }

    Derived& self() { return static_cast<Derived&>(*this); }

    /// Called by Derived once the session is owned by a shared_ptr.
    void register_self() { id_ = env_->registry.add(self().shared_from_this()); }

    bool stopping() const noexcept { return draining_ || env_->draining.load(); }

    /// The request loop: wait (idle_timeout) for the next request's first byte.
    void next_request() {
        if (stopping()) return do_close();
        if (buffer_.size() > 0) return read_request();  // pipelined bytes already here
        phase_ = Phase::idle;
        self().lowest().expires_after(env_->limits.idle_timeout);
        self().stream().async_read_some(
            buffer_.prepare(kFirstRead),
            [s = self().shared_from_this()](beast::error_code ec, std::size_t n) {
                s->on_first_bytes(ec, n);
            });
    }

    /// Orderly close (close_notify for TLS); a no-op once closing.
    void do_close() {
        if (phase_ == Phase::closing || phase_ == Phase::closed) return;
        phase_ = Phase::closing;
        self().close_transport();
    }

    /// The end: the socket is closed; the session dies with its last handler.
    void finish() {
        end_request();
        phase_ = Phase::closed;
        beast::error_code ignored;
        self().lowest().socket().close(ignored);
    }

    std::shared_ptr<SessionEnv> env_;
    Peer peer_;
    Phase phase_ = Phase::starting;
    bool aborted_ = false;
    bool logged_in_ = false;  ///< admin_login emitted for this connection

private:
    static constexpr std::size_t kFirstRead = 4096;

    void on_drain() {
        draining_ = true;
        if (aborted_) return;
        // A request in progress finishes; an idle or handshaking connection
        // has none, so it stops waiting now. Bytes already in the socket
        // buffer of an idle connection are a request that has started
        // arriving: it is served (with Connection: close).
        if (phase_ == Phase::starting) return self().lowest().cancel();
        if (phase_ == Phase::idle) {
            beast::error_code ec;
            if (self().lowest().socket().available(ec) == 0 || ec) self().lowest().cancel();
        }
    }

    void begin_request() {
        if (in_request_) return;
        in_request_ = true;
        env_->metrics->request_started();
    }

    void end_request() noexcept {
        if (!in_request_) return;
        in_request_ = false;
        env_->metrics->request_finished();
    }

    void on_abort() {
        aborted_ = true;
        finish();
    }

    void on_first_bytes(beast::error_code ec, std::size_t n) {
        buffer_.commit(n);
        if (aborted_) return;
        if (ec) {
            // Timeout (the stream is already closed), cancel (drain) or EOF.
            if (ec == beast::error::timeout) {
                log(LogLevel::debug, env_->listener, "idle timeout, closing " + peer_.address);
                return finish();
            }
            if (ec == net::error::operation_aborted) return do_close();
            return finish();
        }
        read_request();
    }

    void read_request() {
        phase_ = Phase::reading;
        begin_request();
        head_parser_.emplace();
        head_parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
            env_->limits.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
        // No limit here: the route decides (a streaming route has its own);
        // on_header() checks a declared Content-Length against it and the
        // body parser enforces it for chunked bodies.
        head_parser_->body_limit(boost::none);
        self().lowest().expires_after(env_->limits.read_timeout);
        http::async_read_header(self().stream(), buffer_, *head_parser_,
                                [s = self().shared_from_this()](beast::error_code ec, std::size_t) {
                                    s->on_header(ec);
                                });
    }

    /// Maps a read error to its answer; true when the session went on
    /// (answered or closed) and the caller must stop.
    bool read_failed(beast::error_code ec) {
        if (!ec) return false;
        if (ec == http::error::end_of_stream) {
            do_close();
        } else if (ec == http::error::header_limit) {
            send(Response::error(431, "too_large", "request header fields too large"), false, 11);
        } else if (ec == http::error::body_limit) {
            send(Response::error(413, "too_large", "request body too large"), false, 11);
        } else if (ec == beast::error::timeout) {
            log(LogLevel::info, env_->listener, "read timeout, closing " + peer_.address);
            finish();
        } else if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
            send(Response::error(400, "malformed_input", "malformed HTTP request"), false, 11);
        } else {
            finish();  // I/O error, reset, abort
        }
        return true;
    }

    void on_header(beast::error_code ec) {
        if (aborted_ || read_failed(ec)) return;
        Request head = to_request(head_parser_->get());
        if (auto plan = env_->router->begin_stream(head)) {
            if (auto* res = std::get_if<Response>(&plan->start)) {
                // Refused before the body: answer and close (the body is not read).
                head_parser_.reset();
                return send(std::move(*res), false, 11);
            }
            if (declared_too_large(plan->max_body_bytes)) return;
            sink_ = std::move(std::get<std::unique_ptr<BodySink>>(plan->start));
            stream_parser_.emplace(std::move(*head_parser_));
            head_parser_.reset();
            stream_parser_->body_limit(plan->max_body_bytes);
            return continue_then([s = self().shared_from_this()] { s->read_chunk(); });
        }
        if (declared_too_large(env_->limits.max_body_bytes)) return;
        parser_.emplace(std::move(*head_parser_));
        head_parser_.reset();
        parser_->body_limit(env_->limits.max_body_bytes);
        continue_then([s = self().shared_from_this()] {
            s->self().lowest().expires_after(s->env_->limits.read_timeout);
            http::async_read(s->self().stream(), s->buffer_, *s->parser_,
                             [s](beast::error_code e, std::size_t) { s->on_read(e); });
        });
    }

    /// A Content-Length over `limit`: answers 413 (and closes) at once.
    bool declared_too_large(std::uint64_t limit) {
        const auto length = head_parser_->content_length();
        if (!length || *length <= limit) return false;
        head_parser_.reset();
        send(Response::error(413, "too_large", "request body too large"), false, 11);
        return true;
    }

    /// Sends "100 Continue" first when the client asked for it (RFC 9110
    /// 10.1.1), then goes on with `next`.
    template <class Next>
    void continue_then(Next next) {
        const auto& h = stream_parser_ ? stream_parser_->get().base() : parser_->get().base();
        const auto expect = h[http::field::expect];
        if (!beast::iequals(expect, "100-continue") || h.version() < 11) return next();
        continue_ = {http::status::continue_, 11};
        self().lowest().expires_after(env_->limits.write_timeout);
        http::async_write(self().stream(), continue_,
                          [s = self().shared_from_this(), next = std::move(next)](
                              beast::error_code ec, std::size_t) mutable {
                              if (s->aborted_) return;
                              if (ec) return s->finish();
                              next();
                          });
    }

    void read_chunk() {
        if (stream_parser_->is_done()) return finish_stream();
        chunk_.resize(kChunk);
        stream_parser_->get().body().data = chunk_.data();
        stream_parser_->get().body().size = chunk_.size();
        self().lowest().expires_after(env_->limits.read_timeout);
        http::async_read(self().stream(), buffer_, *stream_parser_,
                         [s = self().shared_from_this()](beast::error_code ec, std::size_t) {
                             s->on_chunk(ec);
                         });
    }

    void on_chunk(beast::error_code ec) {
        if (aborted_) return;
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
            sink_.reset();  // an unfinished upload is discarded
            stream_parser_.reset();
            wipe_chunk();
            read_failed(ec);
            return;
        }
        const std::size_t got = chunk_.size() - stream_parser_->get().body().size;
        if (got > 0) {
            if (auto stop = sink_->write(std::string_view(chunk_.data(), got))) {
                sink_.reset();
                stream_parser_.reset();
                wipe_chunk();
                return send(std::move(*stop), false, 11);
            }
        }
        read_chunk();
    }

    void finish_stream() {
        phase_ = Phase::handling;
        head_request_ = stream_parser_->get().method() == http::verb::head;
        const bool keep = stream_parser_->get().keep_alive();
        const unsigned version = stream_parser_->get().version();
        stream_parser_.reset();
        Response res;
        try {
            res = sink_->finish();
        } catch (const std::exception& e) {
            log(LogLevel::error, env_->listener, std::string("upload handler failed: ") + e.what());
            res = Response::error(500, "internal", "internal error");
        }
        sink_.reset();
        wipe_chunk();
        wipe_read_buffer();
        send(std::move(res), keep, version);
    }

    void wipe_chunk() noexcept {
        crypto::wipe(crypto::MutableByteView(reinterpret_cast<std::uint8_t*>(chunk_.data()),
                                             chunk_.size()));
    }

    void on_read(beast::error_code ec) {
        if (aborted_ || read_failed(ec)) return;
        handle();
    }

    void handle() {
        phase_ = Phase::handling;
        http::request<http::string_body> msg = parser_->release();
        parser_.reset();
        const bool keep = msg.keep_alive();
        const unsigned version = msg.version();
        head_request_ = msg.method() == http::verb::head;
        Request req = to_request(msg);
        req.body = std::move(msg.body());
        Response res = answer(req);
        // A body may have carried a value and salt (task intake,
        // re-verification): wipe it and the read buffer's used bytes now
        // rather than leave them to the heap.
        crypto::wipe(req.body);
        wipe_read_buffer();
        send(std::move(res), keep, version);
    }

    /// The admin account a refusal counts against: the uid on the Unix
    /// socket, the certificate on the admin TLS port; "" elsewhere.
    [[nodiscard]] std::string account() const {
        if (peer_.transport == Peer::Transport::unix_socket) return "uid " + std::to_string(peer_.uid);
        if (!peer_.roles.empty() && !peer_.cert_sha256.empty()) return "certificate " + peer_.cert_sha256;
        return {};
    }

    /// The router's answer, unless the caller's account is locked (429);
    /// a refusal (403) counts towards its lockout.
    Response answer(const Request& req) {
        const std::string who = env_->guard ? account() : std::string();
        const auto now = AuthGuard::Clock::now();
        if (!who.empty() && env_->guard->locked(who, now)) {
            Response locked = Response::error(429, "locked",
                                              "too many refused requests: try again later");
            locked.headers.push_back(
                {"Retry-After", std::to_string(env_->guard->lockout().count())});
            return locked;
        }
        Response res = env_->router->handle(req);
        if (!peer_.roles.empty() && res.status != 403) observe_admin_act(req, res.status);
        if (res.status == 403) {
            env_->events->emit(events::AdminAccessDenied{monitoring_account(peer_), req.method,
                                                         req.path});
            if (!who.empty() && env_->guard->failure(who, now)) {
                env_->events->emit(events::AuthLockout{
                    env_->listener, monitoring::Account::parse(who),
                    static_cast<std::uint64_t>(env_->guard->lockout().count())});
            }
        }
        return res;
    }

    /// Protective monitoring of an admin caller holding roles: its first
    /// request on this connection is its login (admin_login); every act
    /// feeds account behaviour monitoring (monitoring.hpp).
    /// Admin routes have no "{name}" segments, so a routed path is a route
    /// template; an unknown path (404, 405) is not named.
    void observe_admin_act(const Request& req, unsigned status) {
        const monitoring::Account who = monitoring_account(peer_);
        const std::string roles = roles_text(peer_.roles);
        if (!logged_in_) {
            logged_in_ = true;
            env_->events->emit(events::AdminLogin{env_->listener, who, roles});
        }
        std::uint8_t bits = 0;
        for (const Role r : {Role::security_officer, Role::auditor, Role::operator_}) {
            if (peer_.roles.has(r)) bits |= static_cast<std::uint8_t>(r);
        }
        const bool routed = status != 404 && status != 405;
        env_->events->admin_act(AdminAct{who, bits, roles, routed ? req.path : std::string()});
    }

    /// Zeroes the read buffer's storage except the bytes not yet parsed
    /// (a pipelined next request).
    void wipe_read_buffer() noexcept {
        const std::size_t pending = buffer_.size();
        const std::size_t spare = buffer_.capacity() - pending;
        if (spare == 0) return;
        auto region = buffer_.prepare(spare);
        crypto::wipe(crypto::MutableByteView(static_cast<std::uint8_t*>(region.data()),
                                             region.size()));
    }

    template <class Body>
    Request to_request(const http::request<Body>& msg) {
        return to_request_head(msg.base());
    }
    Request to_request_head(const http::request_header<>& msg) {
        Request req;
        req.method = std::string(msg.method_string());
        set_target(req, msg.target());
        for (const auto& f : msg) {
            req.headers.push_back({std::string(f.name_string()), std::string(f.value())});
        }
        req.peer = peer_;
        return req;
    }

    void send(Response res, bool keep_alive, unsigned version) {
        // Protocol errors (bad request syntax, limits) are sent with
        // keep_alive false by their callers; a handler's 4xx keeps the
        // connection (its request was read whole).
        keep_alive = keep_alive && !stopping();
        // HEAD (RFC 9110 9.3.2): the same header fields as GET, Content-Length
        // included, and no body.
        const bool head = std::exchange(head_request_, false);
        res_ = {};
        res_.version(version == 10 ? 10 : 11);
        res_.result(res.status);
        res_.set(http::field::content_type, res.content_type);
        res_.set(http::field::cache_control, "no-store");
        for (auto& h : res.headers) res_.set(h.name, h.value);
        res_.keep_alive(keep_alive);
        if (res.source) {
            res_.content_length(res.source->size());
            if (!head) source_ = std::move(res.source);
        } else {
            res_.body() = std::move(res.body);
            res_.prepare_payload();
        }
        env_->metrics->request_served(res.status);
        phase_ = Phase::writing;
        self().lowest().expires_after(env_->limits.write_timeout);
        if (head || source_) {
            // The header alone; a streamed body follows it raw (its length
            // is declared, so no framing is needed).
            head_writer_.emplace(res_);
            return http::async_write_header(
                self().stream(), *head_writer_,
                [s = self().shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                    s->head_writer_.reset();
                    if (s->source_ && !ec && !s->aborted_) return s->stream_body(keep_alive);
                    s->on_write(ec, keep_alive);
                });
        }
        http::async_write(self().stream(), res_,
                          [s = self().shared_from_this(), keep_alive](
                              beast::error_code ec, std::size_t) { s->on_write(ec, keep_alive); });
    }

    /// Sends the next piece of a streamed body; the connection is closed on
    /// any failure (the client then has a body shorter than declared).
    void stream_body(bool keep_alive) {
        if constexpr (Derived::kBulkPipeline) {
            if (env_->bulk != nullptr && !bulk_) return bulk_start(keep_alive);
        }
        if (aborted_) return end_stream();
        const std::uint64_t left = source_->size() - streamed_;
        if (left == 0) {
            end_stream();
            return on_write({}, keep_alive);
        }
        if (out_buf_.empty()) out_buf_.resize(kOutPiece);
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, out_buf_.size()));
        auto got = source_->read(crypto::MutableByteView(out_buf_.data(), want));
        if (!got || *got == 0 || *got > want) {
            log(LogLevel::error, env_->listener,
                "a streamed response failed after " + std::to_string(streamed_) + " bytes: " +
                    (got ? std::string("the source ran dry") : got.error().message()));
            end_stream();
            return finish();
        }
        streamed_ += *got;
        self().lowest().expires_after(env_->limits.write_timeout);
        self().write_body_piece(net::buffer(out_buf_.data(), *got),
                                [s = self().shared_from_this(), keep_alive](beast::error_code ec,
                                                                            std::size_t) {
                                    if (s->aborted_) return s->end_stream();
                                    if (ec) {
                                        s->end_stream();
                                        return s->finish();
                                    }
                                    s->stream_body(keep_alive);
                                });
    }

    // ---- Bulk pipeline (see the top of this file) ----

    static constexpr std::size_t kBulkSlots = BulkBuffers::kSlots;

    struct BulkSlot {
        enum class State { free, filling, ready, writing };
        State state = State::free;
        std::size_t got = 0;  ///< plaintext bytes of this piece
        RecordSealer::Outcome outcome = RecordSealer::Outcome::declined;
    };
    /// Shared by the I/O thread and the bulk job; `mu` guards every field
    /// but the slots' buffers, which belong to whoever set the slot's state
    /// (filling: the job; writing: the I/O thread).
    struct BulkState {
        std::mutex mu;
        BulkSlot slots[kBulkSlots];
        std::unique_ptr<BulkBuffers> buf;  ///< from the pool, given back at the end
        std::size_t fill_at = 0;   ///< the slot the job fills next
        std::size_t write_at = 0;  ///< the slot sent next
        std::uint64_t filled = 0;  ///< bytes the source has handed out
        std::uint64_t size = 0;    ///< the body's length
        bool job = false;          ///< a job is queued or running
        bool writing = false;      ///< the I/O thread is sending a slot
        bool serial = false;       ///< a piece went through the SSL stream: no overlap
        bool dead = false;         ///< ending in failure: waiting for the job
        std::string error;         ///< the source's failure (logged once)
        bool keep_alive = false;
    };

    void bulk_start(bool keep_alive) {
        if (aborted_) return end_stream();
        bulk_ = std::make_shared<BulkState>();
        bulk_->buf = env_->bulk->take_buffers();
        bulk_->keep_alive = keep_alive;
        bulk_->size = source_->size();
        if (bulk_->size == 0) return bulk_event();  // nothing to fill: done
        bulk_kick();
    }

    /// Whether the job may fill the next slot now (`mu` held).
    static bool bulk_can_fill(const BulkState& b) {
        if (b.dead || b.filled >= b.size) return false;
        if (b.slots[b.fill_at].state != BulkSlot::State::free) return false;
        // After a piece that had to go through the SSL stream, the next is
        // sealed only once nothing is waiting or being written.
        if (b.serial) {
            for (const auto& slot : b.slots) {
                if (slot.state != BulkSlot::State::free) return false;
            }
        }
        return true;
    }

    /// On the I/O thread: starts the job unless it runs or has nothing to do.
    void bulk_kick() {
        {
            std::lock_guard lock(bulk_->mu);
            if (bulk_->job || !bulk_can_fill(*bulk_)) return;
            bulk_->job = true;
        }
        bulk_queue(self().shared_from_this(), self().lowest().get_executor());
    }

    /// Puts the job (already marked running) at the back of the pool's
    /// queue. When the pool is stopping, and so the daemon, the stream ends.
    template <class Self, class Executor>
    void bulk_queue(Self s, Executor ex) {
        if (env_->bulk->submit([s, ex]() mutable {
                Derived* d = s.get();
                d->bulk_job(std::move(s), ex);
            })) {
            return;
        }
        {
            std::lock_guard lock(bulk_->mu);
            bulk_->job = false;
            bulk_->dead = true;
        }
        net::post(ex, [s = std::move(s)] { s->bulk_event(); });
    }

    /// On a bulk thread: fills one slot (read, decrypt, seal), then queues
    /// itself again at the back of the pool's queue while there is a free
    /// slot (so connections take turns), and tells the I/O thread when it
    /// has something for it.
    template <class Self, class Executor>
    void bulk_job(Self s, Executor ex) noexcept {
        BulkState& b = *bulk_;
        std::size_t i = 0;
        std::size_t want = 0;
        {
            std::lock_guard lock(b.mu);
            if (!bulk_can_fill(b)) {
                b.job = false;
                net::post(ex, [s = std::move(s)] { s->bulk_event(); });
                return;
            }
            i = b.fill_at;
            b.slots[i].state = BulkSlot::State::filling;
            want = static_cast<std::size_t>(std::min<std::uint64_t>(b.size - b.filled, kOutPiece));
        }
        BulkSlot& slot = b.slots[i];
        std::vector<std::uint8_t>& plain = b.buf->plain[i];
        std::string error;
        try {
            if (plain.size() < kOutPiece) plain.resize(kOutPiece);
            auto got = source_->read(crypto::MutableByteView(plain.data(), want));
            if (!got || *got == 0 || *got > want) {
                error = got ? std::string("the source ran dry") : got.error().message();
            } else {
                slot.got = *got;
                slot.outcome = self().seal_piece(
                    b.buf->sealer[i], std::span<const std::uint8_t>(plain.data(), *got));
                if (slot.outcome == RecordSealer::Outcome::failed) error = "sealing failed";
            }
        } catch (const std::exception& e) {
            error = e.what();
        } catch (...) {
            error = "unknown failure";
        }
        bool tell = false;
        bool again = false;
        {
            std::lock_guard lock(b.mu);
            if (!error.empty()) {
                slot.state = BulkSlot::State::free;
                b.error = std::move(error);
                b.dead = true;
            } else {
                slot.state = BulkSlot::State::ready;
                if (slot.outcome == RecordSealer::Outcome::declined) b.serial = true;
                b.filled += slot.got;
                b.fill_at = (b.fill_at + 1) % kBulkSlots;
            }
            // A sending I/O thread finds the slot when its write completes.
            tell = b.dead || !b.writing;
            again = bulk_can_fill(b);
            if (!again) b.job = false;
        }
        if (tell) net::post(ex, [s] { s->bulk_event(); });
        if (again) bulk_queue(std::move(s), ex);
    }

    /// On the I/O thread: sends the next ready slot, or ends the stream.
    void bulk_event() {
        if (!bulk_) return;
        BulkState& b = *bulk_;
        std::unique_lock lock(b.mu);
        if (aborted_) b.dead = true;
        if (b.dead) {
            if (!b.error.empty()) {
                log(LogLevel::error, env_->listener,
                    "a streamed response failed after " + std::to_string(streamed_) +
                        " bytes: " + b.error);
                b.error.clear();
            }
            if (b.job || b.writing) return;  // their completions come back here
            lock.unlock();
            const bool was_aborted = aborted_;
            bulk_release();
            if (!was_aborted) finish();
            return;
        }
        if (b.writing) return;
        if (streamed_ >= b.size) {
            // Every byte sent; the job, if still out, has nothing to fill
            // and its completion comes back here.
            if (b.job) return;
            lock.unlock();
            const bool keep_alive = b.keep_alive;
            bulk_release();
            return on_write({}, keep_alive);
        }
        BulkSlot& slot = b.slots[b.write_at];
        if (slot.state != BulkSlot::State::ready) return;
        slot.state = BulkSlot::State::writing;
        b.writing = true;
        const std::size_t i = b.write_at;
        lock.unlock();
        self().lowest().expires_after(env_->limits.write_timeout);
        auto done = [s = self().shared_from_this(), i](beast::error_code ec, std::size_t) {
            s->bulk_written(i, ec);
        };
        if (slot.outcome == RecordSealer::Outcome::sealed) {
            return self().write_sealed(b.buf->sealer[i].sealed(), std::move(done));
        }
        self().write_body_piece(net::buffer(b.buf->plain[i].data(), slot.got), std::move(done));
    }

    void bulk_written(std::size_t i, beast::error_code ec) {
        BulkState& b = *bulk_;
        {
            std::lock_guard lock(b.mu);
            b.writing = false;
            b.slots[i].state = BulkSlot::State::free;
            if (aborted_ || ec) {
                b.dead = true;
            } else {
                streamed_ += b.slots[i].got;
                b.write_at = (b.write_at + 1) % kBulkSlots;
            }
        }
        bulk_event();
        if (bulk_) bulk_kick();
    }

    /// Wipes the slots' plaintext, gives their buffers back to the pool
    /// (`recycle`; not from the destructor, which may run after the pool has
    /// gone) and drops the source. No job may be out.
    void bulk_release(bool recycle = true) noexcept {
        if (bulk_ && bulk_->buf) {
            for (auto& plain : bulk_->buf->plain) {
                crypto::wipe(crypto::MutableByteView(plain.data(), plain.size()));
            }
            if (recycle && env_->bulk != nullptr) env_->bulk->give_buffers(std::move(bulk_->buf));
        }
        bulk_.reset();
        end_stream();
    }

    /// Drops the source and wipes the piece buffer (it held plaintext).
    void end_stream() noexcept {
        source_.reset();
        streamed_ = 0;
        crypto::wipe(crypto::MutableByteView(out_buf_.data(), out_buf_.size()));
        out_buf_.clear();
        out_buf_.shrink_to_fit();
    }

    void on_write(beast::error_code ec, bool keep_alive) {
        // A response may have carried a value (reveal, review).
        crypto::wipe(res_.body());
        end_request();
        if (aborted_) return;
        if (ec) return finish();
        if (!keep_alive || stopping()) return do_close();
        next_request();
    }

    std::uint64_t id_ = 0;
    bool draining_ = false;
    bool in_request_ = false;
    beast::flat_buffer buffer_;
    static constexpr std::size_t kChunk = 64 * 1024;
    std::optional<http::request_parser<http::empty_body>> head_parser_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::optional<http::request_parser<http::buffer_body>> stream_parser_;
    std::unique_ptr<BodySink> sink_;
    std::vector<char> chunk_;
    http::response<http::empty_body> continue_;
    http::response<http::string_body> res_;
    static constexpr std::size_t kOutPiece = 256 * 1024;
    bool head_request_ = false;
    std::optional<http::response_serializer<http::string_body>> head_writer_;
    std::shared_ptr<ResponseSource> source_;
    std::uint64_t streamed_ = 0;
    std::vector<std::uint8_t> out_buf_;
    std::shared_ptr<BulkState> bulk_;  ///< while a body streams through the pool
};

}  // namespace enclave::appliance::detail
