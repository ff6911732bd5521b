// SPDX-License-Identifier: Apache-2.0
// LeaSimulator (Beast): the listener and the per-connection sessions. The
// only translation unit of the simulator that includes Beast.
//
// Per connection: one strand (the socket's executor), a deadline before
// every asynchronous operation (handshake, each read, each write, the
// close), a fresh parser per request with header and body limits. The
// header is read first (empty_body parser), then the body with a parser of
// the route's type (string_body for XML, buffer_body chunks for binaries).
#include "simulator/lea_simulator.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <thread>
#include <vector>

#include "crypto/encoding.hpp"
#include "sim_control.hpp"

namespace enclave::simulator {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using crypto::Errc;
using crypto::fail;

struct LeaSimulator::State {
    LeaSimulatorOptions options;
    std::unique_ptr<SimStore> store;
    std::shared_ptr<ssl::context> ctx;
    FaultSlot fault;
    std::atomic<std::uint64_t> connections{0}, psk_connections{0}, handshake_failures{0},
        requests{0}, rejected{0}, faults{0}, active{0};
    mutable std::mutex clients_mu;
    std::map<std::string, std::uint64_t> client_certificates;  ///< guarded by clients_mu
    std::uint16_t port = 0;
    std::vector<std::thread> threads;
    std::atomic<bool> stopped{false};
    std::unique_ptr<BinaryFetcher> fetcher;  // Model A/C; null = no fetching
    // Declared last, destroyed first: pending sessions die while the store
    // they write to is still alive.
    net::io_context ioc{2};
    tcp::acceptor acceptor{net::make_strand(ioc)};

    SimStatus status() const {
        SimStatus s;
        s.store = store->counts();
        s.connections = connections.load();
        s.psk_connections = psk_connections.load();
        {
            std::lock_guard lock(clients_mu);
            s.client_certificates = client_certificates;
        }
        s.handshake_failures = handshake_failures.load();
        s.requests = requests.load();
        s.deliveries_rejected = rejected.load();
        s.faults_applied = faults.load();
        s.active_connections = active.load();
        s.fetching = fetcher != nullptr;
        if (fetcher) s.fetch = fetcher->counts();
        return s;
    }
    void do_accept();
};

namespace {

constexpr std::string_view kBinaryPrefix = "/binaryData/";
constexpr std::size_t kChunk = 64 * 1024;

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket&& socket, LeaSimulator::State& st)
        : st_(st), ctx_(st.ctx), stream_(std::move(socket), *ctx_), timer_(stream_.get_executor()) {
        ++st_.active;
    }
    ~Session() { --st_.active; }

    void start() {
        net::dispatch(stream_.get_executor(), [s = shared_from_this()] {
            s->lowest().expires_after(s->st_.options.handshake_timeout);
            s->stream_.async_handshake(ssl::stream_base::server,
                                       [s](beast::error_code ec) { s->on_handshake(ec); });
        });
    }

private:
    beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
    const LeaSimulatorOptions& opt() const { return st_.options; }

    void on_handshake(beast::error_code ec) {
        if (ec) {
            ++st_.handshake_failures;
            return drop();
        }
        ++st_.connections;
        if (hsm::psk_peer(stream_.native_handle())) ++st_.psk_connections;
        if (X509* peer = SSL_get0_peer_certificate(stream_.native_handle())) {
            unsigned char md[EVP_MAX_MD_SIZE];
            unsigned int n = 0;
            if (X509_digest(peer, EVP_sha256(), md, &n) == 1) {
                const std::string fp = crypto::hex_encode(crypto::ByteView(md, n));
                std::lock_guard lock(st_.clients_mu);
                ++st_.client_certificates[fp];
            }
        }
        read_header();
    }

    void read_header() {
        hp_.emplace();
        hp_->header_limit(static_cast<std::uint32_t>(opt().max_header_bytes));
        hp_->body_limit(boost::none);
        lowest().expires_after(opt().idle_timeout);
        http::async_read_header(
            stream_, buffer_, *hp_,
            [s = shared_from_this()](beast::error_code ec, std::size_t) { s->on_header(ec); });
    }

    void on_header(beast::error_code ec) {
        if (ec == http::error::header_limit) return respond(431, "text/plain", "", false);
        if (ec == http::error::end_of_stream || ec)
            return ec == http::error::end_of_stream ? close() : drop();
        const auto& req = hp_->get();
        const std::string_view target = req.target();
        const std::string_view path = target.substr(0, target.find('?'));
        keep_ = req.keep_alive();
        // Read now: the header parser is moved into the body parser later.
        expect_continue_ = beast::iequals(req[http::field::expect], "100-continue");
        if (req.method() == http::verb::get && path == "/status") {
            return respond(200, "application/json", status_to_json(st_.status()), true);
        }
        if (req.method() == http::verb::post && path == "/control/fault") return read_control();
        if (req.method() == http::verb::post && path == opt().delivery_path) return begin_xml();
        if (req.method() == http::verb::post &&
            path.substr(0, kBinaryPrefix.size()) == kBinaryPrefix) {
            return begin_binary(path.substr(kBinaryPrefix.size()));
        }
        respond(404, "text/plain", "", false);
    }

    bool take_fault(FaultTarget target) {
        fault_ = Fault{};
        if (!st_.fault.take(target, fault_)) return false;
        ++st_.faults;
        return true;
    }

    /// Sends 100 Continue when the client asked for it, then runs `next`.
    template <class Next>
    void continue_then(Next next) {
        if (!expect_continue_) return next();
        cont_ = {http::status::continue_, 11};
        lowest().expires_after(opt().write_timeout);
        http::async_write(stream_, cont_,
                          [s = shared_from_this(), next](beast::error_code ec, std::size_t) {
                              if (ec) return s->drop();
                              next();
                          });
    }

    template <class Next>
    void after_delay(Next next) {
        if (fault_.kind != FaultKind::delay) return next();
        timer_.expires_after(fault_.delay);
        timer_.async_wait([s = shared_from_this(), next](beast::error_code) { next(); });
    }

    // ---- control -----------------------------------------------------------

    void read_control() {
        sp_.emplace(std::move(*hp_));
        sp_->body_limit(4096);
        continue_then([this] {
            read_string_body([this] {
                auto f = parse_fault_json(sp_->get().body());
                if (!f) return respond(400, "text/plain", f.error().message(), true);
                st_.fault.set(*f);
                respond(200, "application/json", "{}", true);
            });
        });
    }

    template <class Next>
    void read_string_body(Next next) {
        lowest().expires_after(opt().read_timeout);
        http::async_read(stream_, buffer_, *sp_,
                         [s = shared_from_this(), next](beast::error_code ec, std::size_t) {
                             if (ec == http::error::body_limit) {
                                 return s->respond(413, "text/plain", "", false);
                             }
                             if (ec) return s->drop();
                             next();
                         });
    }

    // ---- DeliveryObjects -------------------------------------------------------

    void begin_xml() {
        take_fault(FaultTarget::xml);
        if (fault_.kind == FaultKind::refuse) return refuse();
        if (fault_.kind == FaultKind::reset) return reset();
        if (fault_.kind == FaultKind::stall) return stall();
        sp_.emplace(std::move(*hp_));
        sp_->body_limit(opt().max_xml_bytes);
        continue_then([this] {
            read_string_body([this] {
                if (fault_.kind == FaultKind::close_mid_body) return drop();
                if (fault_.kind == FaultKind::status) return respond(fault_.status, "text/plain", "", true);
                after_delay([this] { handle_xml(); });
            });
        });
    }

    void handle_xml() {
        const std::string& xml = sp_->get().body();
        auto facts = inspect_delivery(xml);
        if (!facts) return reject(DeliveryFacts{}, 400, facts.error().context());
        if (opt().validator) {
            if (auto ok = opt().validator(xml); !ok)
                return reject(*facts, 400, ok.error().context());
        }
        auto stored = st_.store->store_delivery(*facts, xml);
        if (!stored) return reject(*facts, 500, "the LEA could not store the delivery");
        if (*stored && st_.fetcher) st_.fetcher->submit(*facts);  // queues only
        if (*stored && opt().on_delivery) opt().on_delivery(*facts);
        std::string body = opt().responder.accepted ? opt().responder.accepted(*facts)
                                                    : minimal_deliver_response(*facts);
        respond(200, "application/xml", std::move(body), true);
    }

    void reject(const DeliveryFacts& facts, unsigned status, std::string_view why) {
        ++st_.rejected;
        // TS 103 120 ErrorCode: 1000-range codes are the LEA's own; the
        // simulator uses the HTTP status as the code.
        std::string body = opt().responder.error ? opt().responder.error(facts, status, why)
                                                 : minimal_error_response(facts, status, why);
        respond(status, "application/xml", std::move(body), true);
    }

    // ---- Model B binaries ------------------------------------------------------

    void begin_binary(std::string_view rest) {
        if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
        if (!is_uuid(rest)) return respond(404, "text/plain", "", false);
        uuid_.assign(rest);
        for (auto& c : uuid_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        take_fault(FaultTarget::binary);
        if (fault_.kind == FaultKind::refuse) return refuse();
        if (fault_.kind == FaultKind::reset) return reset();
        if (fault_.kind == FaultKind::status) return respond(fault_.status, "text/plain", "", false);
        switch (st_.store->binary_state(uuid_)) {
            case SimStore::BinaryState::stored:
                st_.store->count_binary_duplicate();
                return respond(200, "application/json", "{\"duplicate\":true}", false);
            case SimStore::BinaryState::in_progress:
                return respond(409, "text/plain", "", false);
            case SimStore::BinaryState::absent:
                break;
        }
        const auto length = hp_->content_length();
        if (!length) return respond(411, "text/plain", "", false);
        if (*length > opt().max_binary_bytes) return respond(413, "text/plain", "", false);
        const auto ctype = hp_->get()[http::field::content_type];
        auto upload = st_.store->begin_binary(uuid_, ctype);
        if (!upload) return respond(409, "text/plain", "", false);
        upload_ = std::move(*upload);
        bp_.emplace(std::move(*hp_));
        bp_->body_limit(boost::none);
        chunk_.resize(kChunk);
        after_delay([this] { continue_then([this] { read_chunk(); }); });
    }

    void read_chunk() {
        if (bp_->is_done()) return finish_binary();
        bp_->get().body().data = chunk_.data();
        bp_->get().body().size = chunk_.size();
        lowest().expires_after(opt().read_timeout);
        http::async_read(
            stream_, buffer_, *bp_,
            [s = shared_from_this()](beast::error_code ec, std::size_t) { s->on_chunk(ec); });
    }

    void on_chunk(beast::error_code ec) {
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
            upload_.reset();  // incomplete: removed and counted
            return drop();
        }
        const std::size_t n = chunk_.size() - bp_->get().body().size;
        if (auto ok = upload_->write({chunk_.data(), n}); !ok) {
            upload_.reset();
            return respond(500, "text/plain", "", false);
        }
        if (fault_.kind == FaultKind::close_mid_body && upload_->written() > 0) {
            upload_.reset();
            return drop();
        }
        if (fault_.kind == FaultKind::stall && upload_->written() > 0) {
            upload_.reset();
            return hold();
        }
        read_chunk();
    }

    void finish_binary() {
        auto rec = upload_->commit();
        upload_.reset();
        if (!rec) return respond(500, "text/plain", "", false);
        respond(200, "application/json",
                "{\"uuid\":\"" + rec->uuid + "\",\"size\":" + std::to_string(rec->size) +
                    ",\"sha256\":\"" + rec->sha256_hex + "\"}",
                true);
    }

    // ---- answers and closing ---------------------------------------------------

    void refuse() {
        res_ = {http::status::service_unavailable, 11};
        res_.set(http::field::retry_after, "1");
        respond_prepared("text/plain", "", false);
    }

    void respond(unsigned status, std::string_view content_type, std::string body, bool keep) {
        res_ = {};
        res_.version(11);
        res_.result(status);
        res_.body() = std::move(body);
        respond_prepared(content_type, {}, keep);
    }

    void respond_prepared(std::string_view content_type, std::string_view, bool keep) {
        ++st_.requests;
        keep = keep && keep_ && !st_.stopped.load();
        res_.set(http::field::content_type, content_type);
        res_.set(http::field::server, "enclave-lea-sim");
        res_.keep_alive(keep);
        res_.prepare_payload();
        lowest().expires_after(opt().write_timeout);
        http::async_write(stream_, res_,
                          [s = shared_from_this(), keep](beast::error_code ec, std::size_t) {
                              if (ec) return s->drop();
                              if (!keep) return s->close();
                              s->sp_.reset();
                              s->bp_.reset();
                              s->read_header();
                          });
    }

    /// A TCP reset right after the request header: SO_LINGER 0, then close.
    void reset() {
        ++st_.requests;
        beast::error_code ignored;
        lowest().socket().set_option(net::socket_base::linger(true, 0), ignored);
        lowest().socket().close(ignored);
    }

    /// Stall (XML): part of the body read (what came with the header, else
    /// one read), then hold(). A binary stalls after its first chunk.
    void stall() {
        if (buffer_.size() > 0) return hold();
        lowest().expires_after(opt().read_timeout);
        stream_.async_read_some(buffer_.prepare(4096),
                                [s = shared_from_this()](beast::error_code ec, std::size_t n) {
                                    if (ec) return s->drop();
                                    s->buffer_.commit(n);
                                    s->hold();
                                });
    }

    /// Reads no more and answers nothing for delay_ms, then drops the
    /// connection (a client that gave up earlier is noticed only then).
    void hold() {
        lowest().expires_never();
        timer_.expires_after(fault_.delay);
        timer_.async_wait([s = shared_from_this()](beast::error_code) {
            ++s->st_.requests;
            s->drop();
        });
    }

    /// Orderly close: TLS close_notify, then the socket.
    void close() {
        lowest().expires_after(
            std::min<std::chrono::milliseconds>(opt().write_timeout, std::chrono::seconds(5)));
        stream_.async_shutdown([s = shared_from_this()](beast::error_code) { s->drop(); });
    }

    /// Abrupt close (errors, faults).
    void drop() {
        beast::error_code ignored;
        lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
        lowest().socket().close(ignored);
    }

    LeaSimulator::State& st_;
    std::shared_ptr<ssl::context> ctx_;
    beast::ssl_stream<beast::tcp_stream> stream_;
    net::steady_timer timer_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::empty_body>> hp_;
    std::optional<http::request_parser<http::string_body>> sp_;
    std::optional<http::request_parser<http::buffer_body>> bp_;
    http::response<http::string_body> res_;
    http::response<http::empty_body> cont_;
    std::unique_ptr<SimStore::BinaryUpload> upload_;
    std::vector<std::uint8_t> chunk_;
    std::string uuid_;
    Fault fault_;
    bool keep_ = true;
    bool expect_continue_ = false;
};

crypto::Result<std::shared_ptr<ssl::context>> adopt(hsm::SslCtxPtr ctx) {
    if (SSL_CTX_get_app_data(ctx.get()) != nullptr ||
        SSL_CTX_get_default_passwd_cb_userdata(ctx.get()) != nullptr) {
        return fail(Errc::internal, "the SSL context carries callback data asio would take over");
    }
    return std::make_shared<ssl::context>(ctx.release());
}

}  // namespace

void LeaSimulator::State::do_accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
        if (!ec) {
            if (active.load() >= options.max_connections) {
                beast::error_code ignored;
                socket.close(ignored);
            } else {
                beast::error_code ignored;
                socket.set_option(tcp::no_delay(true), ignored);
                std::make_shared<Session>(std::move(socket), *this)->start();
            }
        }
        do_accept();
    });
}

crypto::Result<std::unique_ptr<LeaSimulator>> LeaSimulator::start(LeaSimulatorOptions options) {
    if (options.threads == 0 || options.threads > 64) {
        return fail(Errc::invalid_argument, "simulator: threads must be 1..64");
    }
    if (options.delivery_path.empty() || options.delivery_path.front() != '/') {
        return fail(Errc::invalid_argument, "simulator: the delivery path must start with '/'");
    }
    auto state = std::make_shared<State>();
    auto store = SimStore::open(options.store);
    if (!store) return tl::unexpected(store.error());
    state->store = std::move(*store);
    auto resolver = hsm::make_key_resolver(nullptr, true);
    auto raw = hsm::make_server_context(options.tls, *resolver);
    if (!raw) return tl::unexpected(raw.error().wrap("simulator TLS"));
    if (options.psk) {
        if (auto ok = hsm::enable_server_psk(raw->get(), options.psk); !ok) {
            return tl::unexpected(ok.error().wrap("simulator TLS PSK"));
        }
    }
    auto ctx = adopt(std::move(*raw));
    if (!ctx) return tl::unexpected(ctx.error());
    state->ctx = std::move(*ctx);
    state->fault.set(options.fault);
    if (options.fetch) {
        if (options.fetch->store.empty()) options.fetch->store = options.store;
        auto fetcher = BinaryFetcher::create(*options.fetch);
        if (!fetcher) return tl::unexpected(fetcher.error().wrap("simulator"));
        state->fetcher = std::move(*fetcher);
    }
    state->options = std::move(options);

    beast::error_code ec;
    const auto addr = net::ip::make_address(state->options.address, ec);
    if (ec) return fail(Errc::invalid_argument, "simulator: the address is not an IP literal");
    const tcp::endpoint ep(addr, state->options.port);
    auto& acc = state->acceptor;
    acc.open(ep.protocol(), ec);
    if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec && addr.is_v6()) acc.set_option(net::ip::v6_only(true), ec);
    if (!ec) acc.bind(ep, ec);
    if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return fail(Errc::io_error, "simulator: cannot listen: " + ec.message());
    state->port = acc.local_endpoint(ec).port();
    state->do_accept();
    for (unsigned i = 0; i < state->options.threads; ++i) {
        state->threads.emplace_back([s = state.get()] { s->ioc.run(); });
    }
    return std::unique_ptr<LeaSimulator>(new LeaSimulator(std::move(state)));
}

LeaSimulator::LeaSimulator(std::shared_ptr<State> state) : state_(std::move(state)) {}

LeaSimulator::~LeaSimulator() { stop(); }

void LeaSimulator::stop() {
    if (state_->stopped.exchange(true)) return;
    net::post(state_->acceptor.get_executor(), [s = state_.get()] {
        beast::error_code ignored;
        s->acceptor.close(ignored);
    });
    state_->ioc.stop();
    for (auto& t : state_->threads) t.join();
    state_->threads.clear();
    if (state_->fetcher) state_->fetcher->stop();
}

std::uint16_t LeaSimulator::port() const noexcept { return state_->port; }

std::string LeaSimulator::base_url() const {
    const bool v6 = state_->options.address.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + state_->options.address + "]" : state_->options.address;
    return "https://" + host + ":" + std::to_string(state_->port);
}

void LeaSimulator::set_fault(const Fault& fault) { state_->fault.set(fault); }

SimStatus LeaSimulator::status() const { return state_->status(); }

std::string LeaSimulator::status_json() const { return status_to_json(state_->status()); }

}  // namespace enclave::simulator
