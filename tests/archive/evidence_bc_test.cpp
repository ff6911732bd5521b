// SPDX-License-Identifier: Apache-2.0
// An independent implementation verifies our evidence records: BouncyCastle's
// RFC 4998 code (Debian libbcpkix-java, org.bouncycastle.tsp.ers), driven by
// tests/archive/bc/ErsVerify.java, compiled with javac and run as a real
// process. Missing javac or jars make the test fail naming the package.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "archive/evidence.hpp"
#include "ers_fixture.hpp"
#include "support/paths.hpp"

namespace enclave::archive {
namespace {

namespace fs = std::filesystem;
using crypto::Bytes;
using crypto::HashAlg;

const char* const kJars[] = {"/usr/share/java/bcprov.jar", "/usr/share/java/bcpkix.jar",
                             "/usr/share/java/bcutil.jar"};

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Runs `command` through /bin/sh; returns its exit status and output.
std::pair<int, std::string> run(const std::string& command) {
    std::string out;
    FILE* p = popen((command + " 2>&1").c_str(), "r");
    if (p == nullptr) return {-1, "popen failed"};
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    const int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

void write_file(const fs::path& path, const Bytes& data) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!f) throw std::runtime_error("cannot write " + path.string());
}

/// The BouncyCastle verifier, compiled once per test into a temp directory.
class BcVerifier {
public:
    BcVerifier() {
        for (const char* tool : {"javac", "java"}) {
            if (run(std::string("command -v ") + tool).first != 0) {
                throw std::runtime_error(std::string(tool) +
                                         " not found: install the Debian package default-jdk-headless");
            }
        }
        for (const char* jar : kJars) {
            if (!fs::exists(jar)) {
                throw std::runtime_error(std::string(jar) +
                                         " missing: install the Debian package libbcpkix-java");
            }
        }
        classpath_ = std::string(kJars[0]) + ":" + kJars[1] + ":" + kJars[2];
        const std::string source = std::string(ENCLAVE_SOURCE_DIR) + "/tests/archive/bc/ErsVerify.java";
        auto [rc, out] = run("javac -cp " + quote(classpath_) + " -d " + quote(dir_.path().string()) +
                             " " + quote(source));
        if (rc != 0) throw std::runtime_error("javac failed: " + out);
    }

    /// Writes the records and data, runs BouncyCastle, returns accepted-or-not per case.
    std::vector<bool> verify(const Bytes& certificate,
                             const std::vector<std::pair<Bytes, Bytes>>& cases) {
        const fs::path work = dir_.path() / ("run" + std::to_string(runs_++));
        fs::create_directories(work);
        write_file(work / "tsa.der", certificate);
        std::ostringstream manifest;
        for (std::size_t i = 0; i < cases.size(); ++i) {
            const auto rec = work / ("r" + std::to_string(i) + ".ers");
            const auto dat = work / ("d" + std::to_string(i) + ".bin");
            write_file(rec, cases[i].first);
            write_file(dat, cases[i].second);
            manifest << rec.string() << '\t' << dat.string() << '\n';
        }
        std::ofstream(work / "manifest") << manifest.str();
        auto [rc, out] = run("java -cp " + quote(dir_.path().string() + ":" + classpath_) +
                             " ErsVerify " + quote((work / "tsa.der").string()) + " " +
                             quote((work / "manifest").string()));
        EXPECT_EQ(rc, 0) << out;
        std::vector<bool> accepted(cases.size(), false);
        std::map<std::size_t, std::string> seen;
        std::istringstream lines(out);
        for (std::string line; std::getline(lines, line);) {
            std::size_t index = 0;
            std::istringstream ls(line);
            if (!(ls >> index) || index >= cases.size()) continue;
            seen[index] = line;
            accepted[index] = line.find(" ok") != std::string::npos;
        }
        EXPECT_EQ(seen.size(), cases.size()) << out;
        last_output_ = out;
        return accepted;
    }

    [[nodiscard]] const std::string& last_output() const noexcept { return last_output_; }

private:
    testing::TempDir dir_;
    std::string classpath_;
    std::string last_output_;
    int runs_ = 0;
};

// Changes one byte of the first reduced-hash-tree value found in `record`.
Bytes tamper_tree(const Bytes& record, const Bytes& some_hash) {
    Bytes out = record;
    auto at = std::search(out.begin(), out.end(), some_hash.begin(), some_hash.end());
    if (at == out.end()) throw std::runtime_error("hash not in the record");
    at[5] ^= 0x20;
    return out;
}

TEST(EvidenceBcTest, BouncyCastleVerifiesBatchesOf1_2_3And1000) {
    BcVerifier bc;
    test::TsaOnToken t;
    const std::uint32_t seed = 4998;
    std::cout << "seed " << seed << "\n";
    std::vector<std::pair<Bytes, Bytes>> cases;
    std::vector<bool> expected;
    for (std::size_t n : {1u, 2u, 3u, 1000u}) {
        const auto objs = test::objects(n, seed + static_cast<std::uint32_t>(n));
        auto records = make_evidence_records(HashAlg::sha256, test::digests(HashAlg::sha256, objs), *t.tsa);
        ASSERT_TRUE(records) << records.error().message();
        for (std::size_t i = 0; i < n; ++i) {
            cases.emplace_back((*records)[i], objs[i]);
            expected.push_back(true);
        }
        // The wrong object for a record, and a record whose tree was changed.
        Bytes wrong = objs[n - 1];
        wrong.push_back(0);
        cases.emplace_back((*records)[n - 1], wrong);
        expected.push_back(false);
        if (n > 1) {
            // Leaf 1's hash is leaf 0's sibling in record 0's tree.
            cases.emplace_back(tamper_tree((*records)[0], crypto::digest(HashAlg::sha256, objs[1])),
                               objs[0]);
            expected.push_back(false);
        }
    }
    const auto accepted = bc.verify(t.certificate, cases);
    ASSERT_EQ(accepted.size(), expected.size());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        if (accepted[i] != expected[i] && ++mismatches < 5) {
            ADD_FAILURE() << "case " << i << " expected " << (expected[i] ? "ok" : "rejected");
        }
    }
    EXPECT_EQ(mismatches, 0u) << bc.last_output().substr(0, 4000);
}

TEST(EvidenceBcTest, BouncyCastleVerifiesRenewedRecords) {
    BcVerifier bc;
    test::TsaOnToken t;
    const auto objs = test::objects(3, 5998);
    std::cout << "seed 5998\n";
    auto r0 = make_evidence_records(HashAlg::sha256, test::digests(HashAlg::sha256, objs), *t.tsa);
    ASSERT_TRUE(r0) << r0.error().message();
    auto r1 = renew_timestamps(*r0, *t.tsa);  // chain of 2 stamps
    ASSERT_TRUE(r1) << r1.error().message();
    auto r2 = renew_timestamps(*r1, *t.tsa);  // chain of 3: the new stamp covers a group
    ASSERT_TRUE(r2) << r2.error().message();
    auto r3 = renew_hash_trees(*r2, test::digests(HashAlg::sha512, objs), HashAlg::sha512, *t.tsa);
    ASSERT_TRUE(r3) << r3.error().message();
    auto r4 = renew_timestamps(*r3, *t.tsa);  // the SHA-512 chain gets a second stamp
    ASSERT_TRUE(r4) << r4.error().message();
    // One record alone renewed (a batch of one under SHA-512).
    auto r5 = renew_hash_trees({(*r4)[1]}, {crypto::digest(HashAlg::sha512, objs[1])},
                               HashAlg::sha512, *t.tsa);
    ASSERT_TRUE(r5) << r5.error().message();

    std::vector<std::pair<Bytes, Bytes>> cases;
    std::vector<bool> expected;
    for (const auto* set : {&*r0, &*r1, &*r2, &*r3, &*r4}) {
        for (std::size_t i = 0; i < objs.size(); ++i) {
            cases.emplace_back((*set)[i], objs[i]);
            expected.push_back(true);
            auto check = verify_evidence_record((*set)[i], test::digest_of(objs[i]), {t.certificate});
            EXPECT_TRUE(check) << check.error().message();
        }
    }
    cases.emplace_back((*r5)[0], objs[1]);
    expected.push_back(true);
    // Wrong data after each kind of renewal. (Not objs[1] for record 0 of
    // the first chain: leaves 0 and 1 share the first PartialHashtree, and
    // RFC 4998 section 4.3 accepts any hash of that list.)
    const std::pair<const Bytes*, const Bytes*> wrong[] = {
        {&(*r2)[0], &objs[2]}, {&(*r3)[0], &objs[1]}, {&(*r4)[2], &objs[0]}};
    for (const auto& [record, data] : wrong) {
        cases.emplace_back(*record, *data);
        expected.push_back(false);
        auto check = verify_evidence_record(*record, test::digest_of(*data), {t.certificate});
        ASSERT_FALSE(check);
        EXPECT_EQ(check.error().code(), crypto::Errc::integrity_failure);
    }
    const auto accepted = bc.verify(t.certificate, cases);
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(accepted[i], expected[i]) << "case " << i << "\n" << bc.last_output();
    }
}

}  // namespace
}  // namespace enclave::archive
