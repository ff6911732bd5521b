// SPDX-License-Identifier: Apache-2.0
// Model A/C fetching wired into the simulator: the inspector's binaryObject
// facts, a LeaSimulator that fetches what a delivery names (and not its own
// Model B URLs), the status fields, and the enclave-lea-sim --fetch-* flags.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <thread>

#include "fetch_fixture.hpp"
#include "simulator/lea_simulator.hpp"

extern char** environ;

namespace enclave::testing {
namespace {

using simulator::BinaryObjectFacts;

/// Polls `done` for at most 60 s.
template <class Done>
bool eventually(Done done) {
    for (int i = 0; i < 1200; ++i) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
}

simulator::LeaSimulatorOptions sim_options(const FetchFixture& f,
                                           const std::filesystem::path& store) {
    simulator::LeaSimulatorOptions o;
    o.tls = {f.pki.pki.path("server.pem"), f.pki.pki.path("server.key").string(),
             f.pki.pki.path("ca.pem"), {}, TLS1_2_VERSION};
    o.store = store;
    return o;
}

std::string model_b_url(const std::string& base) {
    return base + "/binaryData/6f1c1f2e-6c1a-4c57-9a57-2b8f0c1d2e3f/";
}

TEST(LeaSimFetchTest, TheInspectorReadsEachBinaryObject) {
    FetchFixture f;
    const BinaryObjectFacts a = f.serve("tok-1", "abc");
    delivery::BinaryObject bare;
    bare.url = "https://lea.example/binaryData/x/";
    std::string xml = delivery_with_binaries({binary_object(a), bare});
    auto facts = simulator::inspect_delivery(xml);
    ASSERT_TRUE(facts) << facts.error().message();
    ASSERT_EQ(facts->binary_objects.size(), 2u);
    EXPECT_EQ(facts->binary_objects[0].url, a.url);
    EXPECT_EQ(facts->binary_objects[0].content_length.value_or(0), 3u);
    EXPECT_EQ(facts->binary_objects[0].checksum, a.checksum);
    EXPECT_EQ(facts->binary_objects[0].expiry, a.expiry);
    EXPECT_EQ(facts->binary_objects[1].url, bare.url);
    EXPECT_FALSE(facts->binary_objects[1].content_length);
    EXPECT_TRUE(facts->binary_objects[1].checksum.empty());
    EXPECT_EQ(facts->binary_urls.size(), 2u);
    // A contentLength that is not a number is left empty, not guessed.
    const auto at = xml.find("contentLength>3<");
    ASSERT_NE(at, std::string::npos);
    xml.replace(at, 16, "contentLength>-3<");
    auto odd = simulator::inspect_delivery(xml);
    ASSERT_TRUE(odd) << odd.error().message();
    EXPECT_FALSE(odd->binary_objects.at(0).content_length);
}

TEST(LeaSimFetchTest, TheSimulatorFetchesWhatADeliveryNames) {
    FetchFixture f;
    TempDir lea;
    const std::string object = pattern_object(250'000, 11);
    const BinaryObjectFacts good = f.serve("tok-good", object);
    BinaryObjectFacts bad = f.serve("tok-bad", pattern_object(1000, 12));
    bad.checksum = sha256_hex("not it");
    auto o = sim_options(f, lea.path());
    o.fetch = f.options(64 * 1024);
    o.fetch->store.clear();  // the simulator's own store
    auto sim = must_ok(simulator::LeaSimulator::start(std::move(o)));
    auto client = f.pki.client(sim->base_url());
    delivery::BinaryObject model_b;
    model_b.url = model_b_url(sim->base_url());
    const std::string xml =
        delivery_with_binaries({binary_object(good), binary_object(bad), model_b});
    auto r = client->post(sim->base_url() + "/hi1/delivery", "application/xml", xml);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->status, 200u) << r->body;
    ASSERT_TRUE(eventually([&] {
        const auto s = sim->status();
        return s.fetch.fetched + s.fetch.failed == 2 && s.fetch.pending == 0;
    }));
    const auto s = sim->status();
    EXPECT_TRUE(s.fetching);
    EXPECT_EQ(s.fetch.fetched, 1u);
    EXPECT_EQ(s.fetch.failed, 1u);
    const auto status = nlohmann::json::parse(sim->status_json());
    EXPECT_EQ(status.at("fetching"), true);
    EXPECT_EQ(status.at("fetched"), 1);
    EXPECT_EQ(status.at("fetch_failed"), 1);
    EXPECT_EQ(status.at("fetch_pending"), 0);
    // Only the two appliance URLs were asked for; the Model B URL was not.
    for (const auto& req : f.server.requests()) {
        EXPECT_EQ(req.target.rfind("/v1/binaries/", 0), 0u) << req.target;
    }
    std::vector<nlohmann::json> recs;
    std::ifstream in(lea.path() / "fetched.jsonl");
    for (std::string line; std::getline(in, line);) recs.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(recs.size(), 2u);
    for (const auto& rec : recs) {
        if (rec.at("url") == good.url) {
            EXPECT_EQ(rec.at("ok"), true);
            EXPECT_EQ(rec.at("sha256"), sha256_hex(object));
            EXPECT_EQ(rec.at("ranges"), 4);
            EXPECT_TRUE(std::filesystem::exists(lea.path() / rec.at("file").get<std::string>()));
        } else {
            EXPECT_EQ(rec.at("url"), bad.url);
            EXPECT_EQ(rec.at("ok"), false);
        }
    }
    // The same delivery again is a duplicate: nothing is fetched twice.
    auto again = client->post(sim->base_url() + "/hi1/delivery", "application/xml", xml);
    ASSERT_TRUE(again);
    EXPECT_EQ(sim->status().fetch.fetched + sim->status().fetch.failed, 2u);
}

TEST(LeaSimFetchTest, WithoutFetchOptionsTheStatusSaysSo) {
    FetchFixture f;
    TempDir lea;
    auto sim = must_ok(simulator::LeaSimulator::start(sim_options(f, lea.path())));
    const auto status = nlohmann::json::parse(sim->status_json());
    EXPECT_EQ(status.at("fetching"), false);
    EXPECT_EQ(status.at("fetched"), 0);
    EXPECT_EQ(status.at("fetch_pending"), 0);
    // Bad fetch material stops the simulator from starting.
    auto o = sim_options(f, lea.path());
    o.fetch = f.options();
    o.fetch->certificate = f.pki.pki.path("absent.pem");
    EXPECT_FALSE(simulator::LeaSimulator::start(std::move(o)));
}

/// enclave-lea-sim as a child process; killed on destruction.
class SimProcess {
public:
    explicit SimProcess(std::vector<std::string> args) {
        args.insert(args.begin(), LEA_SIM_PATH);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (posix_spawn(&pid_, LEA_SIM_PATH, nullptr, nullptr, argv.data(), environ) != 0) {
            throw std::runtime_error("cannot start " LEA_SIM_PATH);
        }
    }
    ~SimProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            wait();
        }
    }
    int terminate() {
        ::kill(pid_, SIGTERM);
        return wait();
    }
    int wait() {
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

private:
    pid_t pid_ = -1;
};

TEST(LeaSimFetchTest, TheProgramFetchesWithItsFetchFlags) {
    FetchFixture f;
    TempDir lea;
    const std::string object = pattern_object(180'000, 13);
    const BinaryObjectFacts facts = f.serve("tok-cli", object);
    const auto& p = f.pki.pki;
    const auto port_file = lea.path() / "port";
    SimProcess sim({"--listen", "127.0.0.1:0", "--cert", p.path("server.pem").string(), "--key",
                    p.path("server.key").string(), "--ca", p.path("ca.pem").string(), "--store",
                    (lea.path() / "store").string(), "--port-file", port_file.string(),
                    "--fetch-cert", p.path("client.pem").string(), "--fetch-key",
                    p.path("client.key").string(), "--fetch-ca", p.path("ca.pem").string(),
                    "--fetch-range-bytes", "50000", "--fetch-threads", "2"});
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(port_file); }));
    std::ifstream pf(port_file);
    std::string port;
    pf >> port;
    const std::string base = "https://127.0.0.1:" + port;
    auto client = f.pki.client(base);
    auto r = client->post(base + "/hi1/delivery", "application/xml",
                          delivery_with_binaries({binary_object(facts)}));
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->status, 200u) << r->body;
    nlohmann::json status;
    ASSERT_TRUE(eventually([&] {
        auto s = client->get(base + "/status");
        if (!s || s->status != 200) return false;
        status = nlohmann::json::parse(s->body);
        return status.at("fetched") == 1;
    })) << status.dump();
    EXPECT_EQ(status.at("fetching"), true);
    EXPECT_EQ(status.at("fetch_failed"), 0);
    EXPECT_EQ(f.server.requests().size(), 4u) << "ranges of 50000 bytes";
    EXPECT_EQ(sim.terminate(), 0);
}

TEST(LeaSimFetchTest, IncompleteFetchFlagsExitWithStatus2) {
    FetchFixture f;
    TempDir lea;
    const auto& p = f.pki.pki;
    SimProcess half({"--cert", p.path("server.pem").string(), "--key",
                     p.path("server.key").string(), "--ca", p.path("ca.pem").string(), "--store",
                     lea.path().string(), "--fetch-cert", p.path("client.pem").string()});
    EXPECT_EQ(half.wait(), 2);
    SimProcess bad_threads({"--cert", p.path("server.pem").string(), "--key",
                            p.path("server.key").string(), "--ca", p.path("ca.pem").string(),
                            "--store", lea.path().string(), "--fetch-cert",
                            p.path("client.pem").string(), "--fetch-key",
                            p.path("client.key").string(), "--fetch-ca",
                            p.path("ca.pem").string(), "--fetch-threads", "0"});
    EXPECT_EQ(bad_threads.wait(), 2);
}

}  // namespace
}  // namespace enclave::testing
