// SPDX-License-Identifier: Apache-2.0
// Protective-monitoring events reach a SIEM over RFC 5425 (issue #7): a real
// rsyslog (Debian rsyslog + rsyslog-openssl: imtcp with the ossl stream
// driver, client certificates required) receives enclaved's events over
// mutual TLS; rsyslog's own RFC 5424 parser must see every field (framing
// intact), sequence numbers contiguous, also across a receiver outage, and a
// receiver that refuses our certificate is a sink_failed event, not a
// silent loss.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "harness/http_client.hpp"
#include "harness/instance.hpp"
#include "harness/process.hpp"
#include "harness/tls_client.hpp"
#include "support/test_pki.hpp"

namespace enclave::daemon_test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kRsyslogd = "/usr/sbin/rsyslogd";
constexpr const char* kOsslDriver = "/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so";

template <class Pred>
bool within(std::chrono::seconds limit, Pred pred) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(100ms);
    }
    return pred();
}

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

/// One message as rsyslog parsed it: "PRI|MSGID|STRUCTURED-DATA|MSG".
struct Received {
    int pri = 0;
    std::string msgid;
    std::string sd;
    json record;
};

std::vector<Received> parse_received(const std::filesystem::path& file) {
    std::vector<Received> out;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> parts;
        std::size_t start = 0;
        for (int i = 0; i < 3; ++i) {
            const auto bar = line.find('|', start);
            if (bar == std::string::npos) break;
            parts.push_back(line.substr(start, bar - start));
            start = bar + 1;
        }
        if (parts.size() != 3) continue;
        Received r;
        r.pri = std::stoi(parts[0]);
        r.msgid = parts[1];
        r.sd = parts[2];
        r.record = json::parse(line.substr(start), nullptr, false);
        out.push_back(std::move(r));
    }
    return out;
}

/// A SIEM: rsyslogd in the foreground, mutual TLS on `port`, writing each
/// message it parsed to `out` as PRI|MSGID|SD|MSG.
class Rsyslog {
public:
    Rsyslog(const std::filesystem::path& dir, std::uint16_t port, const std::filesystem::path& client_ca,
            const std::filesystem::path& cert, const std::filesystem::path& key,
            const std::filesystem::path& out)
        : dir_(dir) {
        std::filesystem::create_directories(dir / "work");
        std::ofstream conf(dir / "rsyslog.conf");
        conf << "global(workDirectory=\"" << (dir / "work").string() << "\"\n"
             << "  DefaultNetstreamDriver=\"ossl\"\n"
             << "  DefaultNetstreamDriverCAFile=\"" << client_ca.string() << "\"\n"
             << "  DefaultNetstreamDriverCertFile=\"" << cert.string() << "\"\n"
             << "  DefaultNetstreamDriverKeyFile=\"" << key.string() << "\")\n"
             << "module(load=\"imtcp\" StreamDriver.Name=\"ossl\" StreamDriver.Mode=\"1\"\n"
             << "  StreamDriver.AuthMode=\"x509/certvalid\")\n"
             << "input(type=\"imtcp\" port=\"" << port << "\")\n"
             << "template(name=\"t\" type=\"string\" "
                "string=\"%pri%|%msgid%|%structured-data%|%msg%\\n\")\n"
             << "action(type=\"omfile\" file=\"" << out.string() << "\" template=\"t\")\n";
        conf.close();
        SpawnOptions o;
        o.argv = {kRsyslogd, "-n", "-f", (dir / "rsyslog.conf").string(), "-i",
                  (dir / "rsyslog.pid").string()};
        o.stderr_file = dir / "rsyslog.stderr";
        o.stdout_file = dir / "rsyslog.stdout";
        process_ = std::make_unique<Process>(o);
        // Listening once a TCP connect succeeds.
        ready_ = within(20s, [&] {
            const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(port);
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
            ::close(fd);
            return ok;
        });
    }
    ~Rsyslog() { stop(); }
    void stop() {
        if (!process_) return;
        process_->signal(SIGTERM);
        if (!process_->wait_exit(10s)) process_->signal(SIGKILL);
        process_.reset();
    }
    [[nodiscard]] bool ready() const { return ready_; }
    [[nodiscard]] std::string log() const { return read_file(dir_ / "rsyslog.stderr"); }

private:
    std::filesystem::path dir_;
    std::unique_ptr<Process> process_;
    bool ready_ = false;
};

/// The receiver's CA and certificate (names 127.0.0.1 and localhost).
struct SiemPki {
    std::filesystem::path ca, cert, key;
};
SiemPki make_siem_pki(const std::filesystem::path& dir) {
    const testing::TestCa ca("siem-ca");
    auto key = testing::generate_test_key(testing::TestKeyType::ec_p256);
    testing::LeafSpec spec;
    spec.common_name = "siem";
    spec.dns = {"localhost"};
    spec.ips = {"127.0.0.1"};
    auto cert = ca.issue(key.get(), spec);
    SiemPki p{dir / "siem-ca.pem", dir / "siem.pem", dir / "siem.key"};
    testing::write_pem_certs(p.ca, {ca.cert()});
    testing::write_pem_certs(p.cert, {cert.get()});
    testing::write_pem_key(p.key, key.get());
    return p;
}

void require_rsyslog() {
    ASSERT_TRUE(std::filesystem::exists(kRsyslogd))
        << "rsyslogd is missing: install the Debian package 'rsyslog' (make deps)";
    ASSERT_TRUE(std::filesystem::exists(kOsslDriver))
        << "rsyslog's OpenSSL driver is missing: install the Debian package 'rsyslog-openssl' (make deps)";
}

/// A handshake without a client certificate on the ingest listener: one
/// tls_handshake_failed event.
void fail_a_handshake(TestInstance& inst) {
    TlsClientConfig none = inst.collector_client();
    none.certificate.clear();
    none.key.clear();
    TlsConnection c(inst.ingest_port(), none);
    if (c.ok()) (void)c.request("GET", "/v1/whoami");
}

std::vector<json> file_sink_records(const TestInstance& inst) {
    std::vector<json> out;
    std::ifstream in(inst.dir() / "log" / "events.jsonl");
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line, nullptr, false));
    return out;
}

bool file_sink_has(const TestInstance& inst, const std::string& event, const std::string& reason = "") {
    for (const auto& j : file_sink_records(inst)) {
        if (!j.is_object() || j["event"] != event) continue;
        if (reason.empty() || j["fields"]["reason"] == reason) return true;
    }
    return false;
}

void enable_syslog(TestInstance& inst, std::uint16_t port, const SiemPki& pki) {
    auto& m = inst.config().monitoring;
    m.syslog_enabled = true;
    m.syslog_host = "127.0.0.1";
    m.syslog_port = port;
    m.syslog_trust_anchors = pki.ca;
    inst.save_config();
}

TEST(MonitoringSyslogTest, EventsReachRsyslogOverMutualTlsWithFramingAndSequenceIntact) {
    require_rsyslog();
    TestInstance inst;
    const SiemPki pki = make_siem_pki(inst.scratch());
    const std::uint16_t port = free_port();
    const auto received = inst.scratch() / "received-1.log";
    auto siem = std::make_unique<Rsyslog>(inst.scratch() / "siem1", port, inst.pki("demo-ca.pem"),
                                          pki.cert, pki.key, received);
    ASSERT_TRUE(siem->ready()) << siem->log();
    enable_syslog(inst, port, pki);
    auto daemon = inst.start_ready();
    ASSERT_TRUE(daemon);
    fail_a_handshake(inst);
    ASSERT_TRUE(within(30s, [&] {
        for (const auto& r : parse_received(received)) {
            if (r.msgid == "tls_handshake_failed") return true;
        }
        return false;
    })) << read_file(received) << "\n" << siem->log() << "\n" << inst.log();
    for (const auto& r : parse_received(received)) {
        ASSERT_TRUE(r.record.is_object()) << "MSG is not the JSON record";
        const std::string event = r.record["event"];
        EXPECT_EQ(r.msgid, event);
        const std::uint64_t seq = r.record["seq"];
        EXPECT_NE(r.sd.find("seq=\"" + std::to_string(seq) + "\""), std::string::npos) << r.sd;
        EXPECT_EQ(r.sd.rfind("[enclave@32473 ", 0), 0u) << r.sd;
        const std::map<std::string, int> sev{{"critical", 2}, {"error", 3}, {"warning", 4},
                                             {"notice", 5}, {"info", 6}};
        EXPECT_EQ(r.pri, 13 * 8 + sev.at(r.record["severity"])) << event;
    }

    // The receiver goes away: events queue, sink_failed says so (in the
    // file sink), and everything arrives once a receiver is back.
    siem->stop();
    fail_a_handshake(inst);
    fail_a_handshake(inst);
    ASSERT_TRUE(within(60s, [&] {
        fail_a_handshake(inst);
        return file_sink_has(inst, "sink_failed");
    })) << inst.log();
    const auto received2 = inst.scratch() / "received-2.log";
    siem = std::make_unique<Rsyslog>(inst.scratch() / "siem2", port, inst.pki("demo-ca.pem"),
                                     pki.cert, pki.key, received2);
    ASSERT_TRUE(siem->ready()) << siem->log();
    ASSERT_TRUE(within(90s, [&] {
        for (const auto& r : parse_received(received2)) {
            if (r.msgid == "sink_recovered") return true;
        }
        return false;
    })) << read_file(received2) << "\n" << inst.log();
    // Every sequence number from 1 to the newest arrived (a record may come twice: never lost).
    std::set<std::uint64_t> seqs;
    for (const auto& file : {received, received2}) {
        for (const auto& r : parse_received(file)) seqs.insert(r.record["seq"].get<std::uint64_t>());
    }
    ASSERT_FALSE(seqs.empty());
    EXPECT_EQ(*seqs.begin(), 1u);
    EXPECT_EQ(seqs.size(), *seqs.rbegin()) << "a gap in the sequence numbers at the SIEM";
    daemon->signal(SIGTERM);
    EXPECT_EQ(daemon->wait_exit(30s), 0);
}

TEST(MonitoringSyslogTest, AReceiverThatRefusesOurCertificateIsASinkFailure) {
    require_rsyslog();
    TestInstance inst;
    const SiemPki pki = make_siem_pki(inst.scratch());
    const std::uint16_t port = free_port();
    const auto received = inst.scratch() / "received.log";
    // The receiver trusts only its own CA: our demo-CA client certificate fails.
    Rsyslog siem(inst.scratch() / "siem", port, pki.ca, pki.cert, pki.key, received);
    ASSERT_TRUE(siem.ready()) << siem.log();
    enable_syslog(inst, port, pki);
    auto daemon = inst.start_ready();
    ASSERT_TRUE(daemon);
    ASSERT_TRUE(within(60s, [&] { return file_sink_has(inst, "sink_failed", "tls"); }))
        << inst.log() << "\n" << siem.log();
    EXPECT_TRUE(parse_received(received).empty()) << read_file(received);
    EXPECT_GT(file_sink_records(inst).size(), 0u);
}

TEST(MonitoringSyslogTest, ASyslogSinkWithoutTrustAnchorsIsAConfigError) {
    TestInstance inst;
    inst.config().monitoring.syslog_enabled = true;
    inst.config().monitoring.syslog_host = "127.0.0.1";
    inst.save_config();
    auto daemon = inst.start();
    const auto rc = daemon->wait_exit(60s);
    ASSERT_TRUE(rc.has_value());
    EXPECT_NE(*rc, 0);
    EXPECT_NE(inst.log().find("monitoring.syslog.trust_anchors: required"), std::string::npos)
        << inst.log();
}

}  // namespace
}  // namespace enclave::daemon_test
