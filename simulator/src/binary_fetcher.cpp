// SPDX-License-Identifier: Apache-2.0
// BinaryFetcher: the queue, the workers, one LeaClient per origin, the files
// and fetched.jsonl. The protocol of one transfer is in binary_transfer.cpp.
#include "simulator/binary_fetcher.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "binary_transfer.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "delivery/lea_client.hpp"
#include "delivery/lea_client_url.hpp"
#include "hsm/tls_context.hpp"

namespace enclave::simulator {

namespace fs = std::filesystem;
using crypto::Errc;
using crypto::fail;

namespace {

constexpr std::string_view kModelBPrefix = "/binaryData/";

/// The store name of a URL's file: no part of the URL (it carries a token).
std::string file_name(std::string_view url) {
    const std::string hex =
        crypto::hex_encode(crypto::digest(crypto::HashAlg::sha256, crypto::as_bytes(url)));
    return hex.substr(0, 32) + ".bin";
}

crypto::Result<void> check_options(const BinaryFetcherOptions& o) {
    using std::chrono::milliseconds;
    if (o.certificate.empty() || o.private_key.empty() || o.trust_anchors.empty()) {
        return fail(Errc::invalid_argument, "fetcher: certificate, key and CA files are required");
    }
    if (o.store.empty()) return fail(Errc::invalid_argument, "fetcher: no store directory");
    if (o.threads == 0 || o.threads > 32) {
        return fail(Errc::invalid_argument, "fetcher: threads must be 1..32");
    }
    if (o.max_attempts == 0 || o.max_attempts > 100) {
        return fail(Errc::invalid_argument, "fetcher: max_attempts must be 1..100");
    }
    if (o.range_bytes > (1ull << 40)) {
        return fail(Errc::invalid_argument, "fetcher: range_bytes must be at most 1 TiB");
    }
    if (o.backoff < milliseconds::zero() || o.max_backoff < o.backoff ||
        o.connect_timeout <= milliseconds::zero() || o.read_timeout <= milliseconds::zero()) {
        return fail(Errc::invalid_argument, "fetcher: bad backoff or timeouts");
    }
    if (o.max_object_bytes == 0 || o.max_pending == 0 || o.max_origins == 0) {
        return fail(Errc::invalid_argument, "fetcher: limits must be positive");
    }
    return {};
}

crypto::Result<hsm::SslCtxPtr> make_tls(const BinaryFetcherOptions& o) {
    // The simulated LEA's key is a file: it stands for another party.
    auto resolver = hsm::make_key_resolver(nullptr, true);
    auto ctx = hsm::make_client_context(
        {o.certificate, o.private_key.string(), o.trust_anchors, o.crl, TLS1_2_VERSION}, *resolver);
    if (!ctx) return tl::unexpected(ctx.error().wrap("fetcher TLS"));
    return ctx;
}

crypto::Result<void> append_line(const fs::path& path, const std::string& line) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return fail(Errc::io_error, "fetcher: cannot open fetched.jsonl");
    const std::string data = line + "\n";
    const ssize_t w = ::write(fd, data.data(), data.size());
    ::close(fd);
    if (w != static_cast<ssize_t>(data.size())) {
        return fail(Errc::io_error, "fetcher: cannot append to fetched.jsonl");
    }
    return {};
}

}  // namespace

bool is_fetchable_url(std::string_view url) {
    auto parsed = delivery::parse_https_url(url);
    return parsed && parsed->target.compare(0, kModelBPrefix.size(), kModelBPrefix) != 0;
}

struct BinaryFetcher::Impl {
    BinaryFetcherOptions o;
    fs::path dir;  // <store>/fetched

    mutable std::mutex mu;
    std::condition_variable work_cv;  // a job, or stop
    std::condition_variable stop_cv;  // backoff sleeps: stop only
    std::condition_variable idle_cv;
    std::deque<BinaryObjectFacts> queue;
    std::set<std::string> seen;
    std::size_t in_flight = 0;
    std::uint64_t fetched = 0, failed = 0;
    bool stopping = false;
    std::atomic<bool> stop_flag{false};
    std::vector<std::thread> workers;

    std::mutex clients_mu;
    std::map<std::string, std::unique_ptr<delivery::LeaClient>> clients;
    std::mutex record_mu;

    crypto::Result<delivery::LeaClient*> client_for(const delivery::HttpsUrl& url);
    FetchResult fetch(const BinaryObjectFacts& object);
    void record(const FetchResult& r);
    void worker();
    bool sleep(std::chrono::milliseconds d) {
        std::unique_lock lock(mu);
        return !stop_cv.wait_for(lock, d, [&] { return stopping; });
    }
};

crypto::Result<delivery::LeaClient*> BinaryFetcher::Impl::client_for(
    const delivery::HttpsUrl& url) {
    std::lock_guard lock(clients_mu);
    std::string key = url.authority();
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto it = clients.find(key); it != clients.end()) return it->second.get();
    if (clients.size() >= o.max_origins) {
        return fail(Errc::resource_exhausted, "fetcher: too many origins");
    }
    auto tls = make_tls(o);
    if (!tls) return tl::unexpected(tls.error());
    delivery::LeaClientOptions lo;
    lo.base_url = "https://" + url.authority() + "/";
    lo.tls = std::move(*tls);
    lo.max_connections = o.threads;
    lo.connect_timeout = o.connect_timeout;
    lo.read_timeout = o.read_timeout;
    lo.max_stream_bytes = o.max_object_bytes;
    lo.user_agent = "enclave-lea-sim";
    auto client = delivery::LeaClient::create(std::move(lo));
    if (!client) return tl::unexpected(client.error());
    return clients.emplace(key, std::move(*client)).first->second.get();
}

FetchResult BinaryFetcher::Impl::fetch(const BinaryObjectFacts& object) {
    FetchResult res;
    res.url = object.url;
    auto parsed = delivery::parse_https_url(object.url);
    crypto::Result<delivery::LeaClient*> client =
        parsed ? client_for(*parsed)
               : crypto::Result<delivery::LeaClient*>(tl::unexpected(parsed.error()));
    if (!client) {
        res.error = client.error().message();
        record(res);
        return res;
    }
    const std::string name = file_name(object.url);
    const fs::path part = dir / (name + ".part");
    const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        res.error = "io_error: fetcher: cannot create a file in the store";
        record(res);
        return res;
    }
    const detail::TransferSettings settings{o.range_bytes, o.max_attempts, o.backoff,
                                            o.max_backoff, o.max_object_bytes};
    const detail::TransferControl control{
        [this](std::chrono::milliseconds d) { return sleep(d); },
        [this] { return stop_flag.load(); }};
    auto out = detail::run_transfer(**client, object, fd, settings, control);
    const bool closed = ::close(fd) == 0;
    std::error_code ec;
    if (!out.error && !closed) out.error = crypto::Error(Errc::io_error, "fetcher: close failed");
    if (!out.error) {
        fs::rename(part, dir / name, ec);
        if (ec) out.error = crypto::Error(Errc::io_error, "fetcher: cannot rename a fetched file");
    }
    if (out.error) fs::remove(part, ec);
    res.size = out.size;
    res.sha256 = out.sha256;
    res.attempts = out.attempts;
    res.ranges = out.ranges;
    res.ok = !out.error;
    if (res.ok) res.file = "fetched/" + name;
    if (out.error) res.error = out.error->message();
    if (stop_flag.load() && !res.ok) return res;  // abandoned, not a result
    record(res);
    return res;
}

void BinaryFetcher::Impl::record(const FetchResult& r) {
    {
        std::lock_guard lock(mu);
        ++(r.ok ? fetched : failed);
    }
    const nlohmann::json line = {{"url", r.url},       {"file", r.file},
                                 {"size", r.size},     {"sha256", r.sha256},
                                 {"ok", r.ok},         {"error", r.error},
                                 {"attempts", r.attempts}, {"ranges", r.ranges}};
    std::lock_guard lock(record_mu);
    // A record that cannot be written still counts; the status shows it.
    (void)append_line(o.store / "fetched.jsonl",
                      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void BinaryFetcher::Impl::worker() {
    for (;;) {
        std::unique_lock lock(mu);
        work_cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping) return;
        BinaryObjectFacts job = std::move(queue.front());
        queue.pop_front();
        ++in_flight;
        lock.unlock();
        (void)fetch(job);
        lock.lock();
        --in_flight;
        idle_cv.notify_all();
    }
}

crypto::Result<std::unique_ptr<BinaryFetcher>> BinaryFetcher::create(BinaryFetcherOptions options) {
    if (auto ok = check_options(options); !ok) return tl::unexpected(ok.error());
    if (auto tls = make_tls(options); !tls) return tl::unexpected(tls.error());
    auto impl = std::make_unique<Impl>();
    impl->dir = options.store / "fetched";
    std::error_code ec;
    fs::create_directories(impl->dir, ec);
    if (!ec) fs::permissions(impl->dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return fail(Errc::io_error, "fetcher: cannot create " + impl->dir.string());
    for (const auto& entry : fs::directory_iterator(impl->dir, ec)) {
        if (entry.path().extension() == ".part") fs::remove(entry.path(), ec);  // an old run's
    }
    impl->o = std::move(options);
    Impl* raw = impl.get();
    for (unsigned i = 0; i < raw->o.threads; ++i) {
        raw->workers.emplace_back([raw] { raw->worker(); });
    }
    return std::unique_ptr<BinaryFetcher>(new BinaryFetcher(std::move(impl)));
}

BinaryFetcher::BinaryFetcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BinaryFetcher::~BinaryFetcher() { stop(); }

void BinaryFetcher::submit(const DeliveryFacts& facts) {
    for (const auto& object : facts.binary_objects) (void)submit(object);
}

bool BinaryFetcher::submit(const BinaryObjectFacts& object) {
    if (!is_fetchable_url(object.url)) return false;
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->stopping || !impl_->seen.insert(object.url).second) return false;
        std::error_code ec;
        if (fs::exists(impl_->dir / file_name(object.url), ec)) return false;
        if (impl_->queue.size() + impl_->in_flight < impl_->o.max_pending) {
            impl_->queue.push_back(object);
            impl_->work_cv.notify_one();
            return true;
        }
    }
    FetchResult full;
    full.url = object.url;
    full.error = "resource_exhausted: fetcher: the queue is full";
    impl_->record(full);
    return false;
}

FetchResult BinaryFetcher::fetch(const BinaryObjectFacts& object) { return impl_->fetch(object); }

FetchCounts BinaryFetcher::counts() const {
    std::lock_guard lock(impl_->mu);
    return {impl_->fetched, impl_->failed, impl_->queue.size() + impl_->in_flight};
}

bool BinaryFetcher::wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(impl_->mu);
    return impl_->idle_cv.wait_for(lock, timeout,
                                   [&] { return impl_->queue.empty() && impl_->in_flight == 0; });
}

void BinaryFetcher::stop() {
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->stopping) return;
        impl_->stopping = true;
        impl_->stop_flag = true;
        impl_->queue.clear();
    }
    impl_->work_cv.notify_all();
    impl_->stop_cv.notify_all();
    for (auto& t : impl_->workers) t.join();
    impl_->workers.clear();
    std::lock_guard lock(impl_->clients_mu);
    impl_->clients.clear();
}

}  // namespace enclave::simulator
