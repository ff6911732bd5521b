// SPDX-License-Identifier: Apache-2.0
// Task intake: the shared D.4 vectors through parse_task(), every refusal
// case, and errors that never carry a value, a salt or a hash.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "audit/task.hpp"
#include "crypto/encoding.hpp"
#include "support/d4_vectors.hpp"
#include "support/paths.hpp"
#include "task_test_util.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using enclave::testing::d4_must_reject_code;
using enclave::testing::load_shared_json;
using nlohmann::json;
using test::field;
using test::task;

constexpr const char* kAlgorithms[] = {"sha256", "sha384", "sha512", "sha3-256", "hmac-sha256"};

/// Every secret-ish string of a task JSON: values, salts and hashes.
std::vector<std::string> sensitive_strings(const json& doc) {
    std::vector<std::string> out;
    if (doc.is_object() && doc.contains("fields") && doc["fields"].is_array()) {
        for (const auto& f : doc["fields"]) {
            if (!f.is_object()) continue;
            for (const char* k : {"value", "salt", "hash"}) {
                if (f.contains(k) && f[k].is_string() && f[k].get<std::string>().size() >= 4) {
                    out.push_back(f[k]);
                }
            }
        }
    }
    return out;
}

void expect_refused(const json& doc, Errc code, const std::string& path_prefix) {
    const std::string text = doc.dump();
    auto r = parse_task(text);
    ASSERT_FALSE(r) << "accepted: expected " << crypto::errc_name(code) << " at " << path_prefix;
    EXPECT_EQ(r.error().code(), code) << r.error().message();
    EXPECT_TRUE(r.error().context().starts_with(path_prefix)) << r.error().message();
    for (const std::string& s : sensitive_strings(doc)) {
        EXPECT_EQ(r.error().message().find(s), std::string::npos) << "error leaks a value, salt or hash: "
                                                                  << r.error().message();
    }
}

TEST(TaskIntakeTest, AcceptsEverySharedVectorWithEveryAlgorithm) {
    const auto doc = load_shared_json("test-vectors/d4-salted-hash.json");
    ASSERT_GE(doc.at("vectors").size(), 4u);
    int accepted = 0;
    for (const auto& v : doc.at("vectors")) {
        for (const char* alg : kAlgorithms) {
            SCOPED_TRACE(v.at("formatName").get<std::string>() + " / " + alg);
            json f{{"formatName", v.at("formatName")}, {"value", v.at("value")}, {"salt", v.at("salt_hex")},
                   {"hash", v.at(alg)}, {"algorithm", alg}};
            auto t = parse_task(task("LIID-V", json::array({f})).dump());
            ASSERT_TRUE(t) << t.error().message();
            ASSERT_EQ(t->fields.size(), 1u);
            const IntakeField& got = t->fields[0];
            EXPECT_EQ(got.format_name, v.at("formatName").get<std::string>());
            EXPECT_EQ(secret_text(got.value), v.at("value").get<std::string>());
            EXPECT_EQ(crypto::hex_encode(got.salt.view()), v.at("salt_hex").get<std::string>());
            EXPECT_EQ(crypto::hex_encode(got.hash), v.at(alg).get<std::string>());
            EXPECT_EQ(crypto::salted_hash_name(got.algorithm), alg);
            ++accepted;
        }
    }
    EXPECT_EQ(accepted, static_cast<int>(doc.at("vectors").size()) * 5);
}

TEST(TaskIntakeTest, AcceptsAllVectorsAsFieldsOfOneTask) {
    const auto doc = load_shared_json("test-vectors/d4-salted-hash.json");
    json fields = json::array();
    std::size_t i = 0;
    for (const auto& v : doc.at("vectors")) {
        const char* alg = kAlgorithms[i++ % 5];
        fields.push_back({{"formatName", v.at("formatName")}, {"value", v.at("value")},
                          {"salt", v.at("salt_hex")}, {"hash", v.at(alg)}, {"algorithm", alg}});
    }
    auto t = parse_task(task("LIID-ALL", fields).dump());
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(t->fields.size(), doc.at("vectors").size());
    EXPECT_EQ(t->reference, "LIID-ALL");
    EXPECT_EQ(t->kind, TaskKind::li);
    EXPECT_EQ(format_utc_time(t->start), "2026-01-01T00:00:00Z");
    EXPECT_EQ(format_utc_time(t->end), "2026-02-01T00:00:00Z");
    EXPECT_EQ(t->endpoint, "lea1");
}

TEST(TaskIntakeTest, RefusesEveryMustRejectCaseNamingTheField) {
    const auto doc = load_shared_json("test-vectors/d4-salted-hash.json");
    ASSERT_GE(doc.at("must_reject").size(), 3u);
    for (const auto& c : doc.at("must_reject")) {
        const std::string why = c.at("why");
        SCOPED_TRACE(why);
        // A case without a hash gets one of the right length for sha256, so
        // only the property under test can fail. The bad field is second, so
        // the error must name index 1.
        json bad{{"formatName", "InternationalE164"}, {"value", c.at("value")}, {"salt", c.at("salt_hex")},
                 {"hash", c.value("hash", std::string(64, 'a'))}, {"algorithm", c.at("algorithm")}};
        json fields = json::array({field("IMSI", "001010123456789", "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"), bad});
        const Errc code = d4_must_reject_code(why);
        const std::string member = code == Errc::salt_too_short      ? "fields[1].salt"
                                   : code == Errc::hash_mismatch      ? "fields[1].hash"
                                                                      : "fields[1].algorithm";
        expect_refused(task("LIID-R", fields), code, member);
    }
}

TEST(TaskIntakeTest, MismatchErrorIsTheDocumentedSentence) {
    json fields = json::array({field("IMSI", "001010123456789", "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"),
                               field("InternationalE164", "442079460223", "8f1c2a9b3d4e5f60718293a4b5c6d7e8")});
    fields[1]["value"] = "442079460224";
    auto r = parse_task(task("LIID-M", fields).dump());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::hash_mismatch);
    EXPECT_EQ(r.error().context(), "fields[1].hash: does not match the salted hash of the value");
}

TEST(TaskIntakeTest, DecodesJsonEscapesIntoTheHashedValue) {
    // The shared Username vector, written with \u escapes: the same bytes, so
    // the same hash.
    const auto doc = load_shared_json("test-vectors/d4-salted-hash.json");
    const json* user = nullptr;
    for (const auto& v : doc.at("vectors")) {
        if (v.at("formatName") == "Username") user = &v;
    }
    ASSERT_NE(user, nullptr);
    const std::string text =
        R"({"reference":"LIID-E","kind":"LI","start":"2026-01-01T00:00:00Z","end":"2026-02-01T00:00:00Z",)"
        R"("fields":[{"formatName":"Username","value":"Zo\u00eb_\u00fcn\u00efcode","salt":")" +
        user->at("salt_hex").get<std::string>() + R"(","hash":")" + user->at("sha256").get<std::string>() +
        R"(","algorithm":"sha256"}]})";
    auto t = parse_task(text);
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(secret_text(t->fields[0].value), user->at("value").get<std::string>());
    EXPECT_FALSE(t->endpoint.has_value());

    // A surrogate pair decodes to one 4-byte character.
    const std::string salt = test::random_hex(16);
    const std::string emoji = "smile\xF0\x9F\x98\x80";
    const std::string escaped =
        R"({"reference":"LIID-E","kind":"LI","start":"2026-01-01T00:00:00Z","end":"2026-02-01T00:00:00Z",)"
        R"("fields":[{"formatName":"Username","value":"smile\ud83d\ude00","salt":")" + salt + R"(","hash":")" +
        test::d4_hash("sha256", salt, emoji) + R"(","algorithm":"sha256"}]})";
    auto e = parse_task(escaped);
    ASSERT_TRUE(e) << e.error().message();
    EXPECT_EQ(secret_text(e->fields[0].value), emoji);
}

TEST(TaskIntakeTest, RefusesEachRuleWithItsPath) {
    const json good = task("LIID-0001");
    ASSERT_TRUE(parse_task(good.dump())) << parse_task(good.dump()).error().message();
    auto with = [&](const std::string& key, json v) {
        json d = good;
        d[key] = std::move(v);
        return d;
    };
    auto without = [&](const std::string& key) {
        json d = good;
        d.erase(key);
        return d;
    };
    for (const char* k : {"reference", "kind", "start", "end", "fields"}) expect_refused(without(k), Errc::malformed_input, k);
    expect_refused(with("extra", "x"), Errc::malformed_input, "task: unknown member");
    expect_refused(with("reference", 17), Errc::malformed_input, "reference: must be a string");
    expect_refused(with("kind", "li"), Errc::invalid_argument, "kind:");
    expect_refused(with("kind", "LX"), Errc::invalid_argument, "kind:");
    expect_refused(with("kind", json::array()), Errc::malformed_input, "kind:");
    // LIID: ([!-~]{1,25})|([0-9a-f]{26,50})
    expect_refused(with("reference", ""), Errc::invalid_argument, "reference:");
    expect_refused(with("reference", "LIID 0001"), Errc::invalid_argument, "reference:");
    expect_refused(with("reference", std::string(26, 'X')), Errc::invalid_argument, "reference:");
    expect_refused(with("reference", std::string(26, 'A')), Errc::invalid_argument, "reference:");
    expect_refused(with("reference", std::string(51, 'a')), Errc::invalid_argument, "reference:");
    expect_refused(with("reference", "LIID\xC3\xA9"), Errc::invalid_argument, "reference:");
    EXPECT_TRUE(parse_task(with("reference", std::string(25, '~')).dump()));
    EXPECT_TRUE(parse_task(with("reference", std::string(50, 'f')).dump()));
    // LDID: ([A-Z]{2}-.+-.+), for kind LD only.
    json ld = with("kind", "LD");
    expect_refused(ld, Errc::invalid_argument, "reference: not an LDID");
    for (const char* bad : {"gb-a-b", "GB-a", "GB-a-", "GB--b", "G-a-b", "GB-a\tx-b", "GB-a-b\n"}) {
        ld["reference"] = bad;
        expect_refused(ld, Errc::invalid_argument, "reference:");
    }
    for (const char* ok : {"GB-a-b", "GB-ACME-2026-0001", "FR-\xC3\xA9t\xC3\xA9-1", "GB-a--"}) {
        ld["reference"] = ok;
        EXPECT_TRUE(parse_task(ld.dump())) << ok;
    }
    ld["reference"] = "GB-a-" + std::string(250, 'b');
    EXPECT_TRUE(parse_task(ld.dump()));
    ld["reference"] = "GB-a-" + std::string(251, 'b');
    expect_refused(ld, Errc::too_large, "reference:");
    // Times.
    for (const char* bad : {"2026-01-01t00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00+01:00",
                            "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-06-30T23:59:60Z",
                            "2026-01-01T00:00:00.1234567Z", "1969-12-31T23:59:59Z", "2026-1-01T00:00:00Z",
                            "2026-01-01T00:00:00.Z", "２０２６-01-01T00:00:00Z", ""}) {
        expect_refused(with("start", bad), Errc::invalid_argument, "start:");
    }
    expect_refused(with("end", "2026-01-01T00:00:00Z"), Errc::invalid_argument, "end: must be after start");
    expect_refused(with("end", "2025-12-31T23:59:59Z"), Errc::invalid_argument, "end: must be after start");
    // Endpoint name.
    for (const char* bad : {"", "LEA1", "-lea", "lea_1", "lea 1"}) {
        expect_refused(with("endpoint", bad), Errc::invalid_argument, "endpoint:");
    }
    expect_refused(with("endpoint", std::string(64, 'a')), Errc::invalid_argument, "endpoint:");
    expect_refused(with("endpoint", std::string(65, 'a')), Errc::too_large, "endpoint:");
    expect_refused(with("endpoint", nullptr), Errc::malformed_input, "endpoint: must be a string");
    EXPECT_TRUE(parse_task(with("endpoint", std::string(63, 'a')).dump()));
    EXPECT_TRUE(parse_task(without("endpoint").dump()));
}

TEST(TaskIntakeTest, AcceptsFractionalTimesCanonically) {
    json d = task("LIID-T");
    d["start"] = "2026-01-01T00:00:00.5Z";
    d["end"] = "2026-01-01T00:00:00.000001Z";
    auto t = parse_task(d.dump());
    ASSERT_FALSE(t) << "end before start after fractions";
    d["end"] = "2028-02-29T23:59:59.123456Z";
    t = parse_task(d.dump());
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(format_utc_time(t->start), "2026-01-01T00:00:00.500000Z");
    EXPECT_EQ(format_utc_time(t->end), "2028-02-29T23:59:59.123456Z");
}

TEST(TaskIntakeTest, RefusesBadFieldsWithTheirIndex) {
    const std::string salt = "8f1c2a9b3d4e5f60718293a4b5c6d7e8";
    const json ok_field = field("InternationalE164", "442079460223", salt);
    auto with_field = [&](json f) { return task("LIID-F", json::array({ok_field, std::move(f)})); };
    auto edit = [&](const std::string& key, json v) {
        json f = ok_field;
        f[key] = std::move(v);
        return with_field(f);
    };
    auto drop = [&](const std::string& key) {
        json f = ok_field;
        f.erase(key);
        return with_field(f);
    };
    for (const char* k : {"formatName", "value", "salt", "hash", "algorithm"}) {
        expect_refused(drop(k), Errc::malformed_input, std::string("fields[1].") + k + ": missing");
    }
    expect_refused(edit("colour", "red"), Errc::malformed_input, "fields[1]: unknown member");
    expect_refused(edit("value", 442079460223LL), Errc::malformed_input, "fields[1].value: must be a string");
    expect_refused(edit("formatName", "PhoneNumber"), Errc::invalid_argument, "fields[1].formatName: unsupported");
    expect_refused(edit("value", "+442079460223"), Errc::invalid_argument, "fields[1].value: not a valid");
    expect_refused(edit("value", "4420794602231234"), Errc::invalid_argument, "fields[1].value:");
    expect_refused(edit("value", ""), Errc::invalid_argument, "fields[1].value:");
    expect_refused(edit("algorithm", "SHA256"), Errc::unsupported_algorithm, "fields[1].algorithm:");
    expect_refused(edit("algorithm", "md5"), Errc::unsupported_algorithm, "fields[1].algorithm:");
    expect_refused(edit("salt", "8f1c2a9b3d4e5f60718293a4b5c6d7eg"), Errc::malformed_input, "fields[1].salt:");
    expect_refused(edit("salt", "8f1c2a9b3d4e5f60718293a4b5c6d7e"), Errc::malformed_input, "fields[1].salt:");
    expect_refused(edit("salt", std::string(30, 'a')), Errc::salt_too_short, "fields[1].salt:");
    expect_refused(edit("salt", std::string(2050, 'a')), Errc::too_large, "fields[1].salt:");
    expect_refused(edit("hash", "zz" + ok_field["hash"].get<std::string>().substr(2)), Errc::malformed_input,
                   "fields[1].hash:");
    expect_refused(edit("hash", ok_field["hash"].get<std::string>().substr(2)), Errc::invalid_argument,
                   "fields[1].hash:");
    expect_refused(edit("hash", std::string(130, 'a')), Errc::too_large, "fields[1].hash:");
    expect_refused(edit("value", std::string(8193, '1')), Errc::too_large, "fields[1].value:");
    expect_refused(task("LIID-F", json::array()), Errc::invalid_argument, "fields: at least one");
    expect_refused(task("LIID-F", json::array({"x"})), Errc::malformed_input, "fields[0]: must be an object");
    expect_refused(task("LIID-F", json::object()), Errc::malformed_input, "fields: must be an array");

    // Uppercase hex in salt and hash is accepted; the record keeps bytes.
    json upper = ok_field;
    upper["salt"] = "8F1C2A9B3D4E5F60718293A4B5C6D7E8";
    upper["hash"] = "AA317B32398CA1604AB7AEDC29C1564F86FA23156E12AA8B17B6BE8395A78BB3";
    EXPECT_TRUE(parse_task(task("LIID-U", json::array({upper})).dump()));
    // Salt lengths at the bounds.
    EXPECT_TRUE(parse_task(task("LIID-S", json::array({field("IMSI", "001010123456789", std::string(32, '1'))})).dump()));
    EXPECT_TRUE(
        parse_task(task("LIID-S", json::array({field("IMSI", "001010123456789", std::string(2048, '1'))})).dump()));
}

TEST(TaskIntakeTest, FieldCountLimits) {
    json fields = json::array();
    for (int i = 0; i < 64; ++i) fields.push_back(field("IMSI", "00101012345" + std::to_string(1000 + i), test::random_hex(16)));
    auto t = parse_task(task("LIID-64", fields).dump());
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(t->fields.size(), 64u);
    fields.push_back(fields[0]);
    expect_refused(task("LIID-65", fields), Errc::too_large, "fields: more than 64");
}

TEST(TaskIntakeTest, RefusesDuplicateMembersAtEveryLevel) {
    const json base = task("LIID-D");
    const std::string f = base["fields"][0].dump();
    const std::string top = base.dump();
    // Duplicate top-level member (JSON text, since nlohmann cannot make one).
    std::string dup_top = top;
    dup_top.insert(1, R"("reference":"LIID-OTHER",)");
    auto r = parse_task(dup_top);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::malformed_input);
    EXPECT_TRUE(r.error().context().starts_with("reference: duplicate member")) << r.error().message();

    std::string dup_value = top;
    const auto at = dup_value.find(R"("value":)");
    ASSERT_NE(at, std::string::npos);
    dup_value.insert(at, R"("value":"442079460224",)");
    r = parse_task(dup_value);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().context().starts_with("fields[0].value: duplicate member")) << r.error().message();
    EXPECT_EQ(r.error().message().find("442079460224"), std::string::npos);

    std::string dup_fields = top;
    dup_fields.insert(1, R"("fields":[],)");
    r = parse_task(dup_fields);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().context().starts_with("fields: duplicate member")) << r.error().message();
}

TEST(TaskIntakeTest, RefusesMalformedAndHostileDocuments) {
    const std::string good = task("LIID-H").dump();
    std::vector<std::string> bad = {
        "",
        " ",
        "null",
        "[]",
        "\"task\"",
        "{",
        good.substr(0, good.size() - 1),
        good + "x",
        good + "{}",
        "\xEF\xBB\xBF" + good,                       // BOM
        std::string("{\"reference\":\"LIID\xFF\"}"),  // invalid UTF-8
        std::string("{\"reference\":\"LI\x01ID\"}"),   // raw control character
        R"({"reference":"LIID\x"})",                  // bad escape
        R"({"reference":"LIID\u12"})",                // short \u
        R"({"reference":"\ud800"})",                  // lone high surrogate
        R"({"reference":"\udc00x"})",                 // lone low surrogate
        R"({"reference":"\ud800\u0041"})",            // high surrogate + non-low
        R"({"reference" "x"})",
        R"({"reference":"x",})",
        R"({,"reference":"x"})",
        R"({"fields":[{"value":"1"},]})",
        R"({"fields":[,]})",
        R"({'reference':'x'})",
        std::string(100000, '['),
        "{\"fields\":" + std::string(50000, '[') + "}",
        std::string(kMaxTaskJsonBytes + 1, ' '),
    };
    for (const std::string& text : bad) {
        auto r = parse_task(text);
        EXPECT_FALSE(r) << "accepted: " << text.substr(0, 60);
        if (!r) {
            EXPECT_TRUE(r.error().code() == Errc::malformed_input || r.error().code() == Errc::too_large ||
                        r.error().code() == Errc::invalid_argument)
                << r.error().message();
            EXPECT_LT(r.error().message().size(), 600u) << "error message grows with the input";
        }
    }
    // Size is refused before parsing: a huge valid-looking document costs nothing.
    std::string big = good;
    big.insert(1, std::string(kMaxTaskJsonBytes, ' '));
    auto r = parse_task(big);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::too_large);
    EXPECT_TRUE(r.error().context().starts_with("task:"));
}

TEST(TaskIntakeTest, RandomMutationsNeverCrashNorLeak) {
    // A deterministic mutation fuzz over a valid document: flips, inserts and
    // deletes bytes. Every outcome is either a parsed task or an error whose
    // text holds neither the value, the salt nor the hash.
    const std::string salt = "00112233445566778899aabbccddeeff";
    const json doc = task("LIID-Z", json::array({field("EmailAddress", "canary.mutation@example.org", salt)}));
    const std::string text = doc.dump();
    const std::string hash = doc["fields"][0]["hash"];
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    auto rnd = [&] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    int errors = 0;
    for (int iter = 0; iter < 5000; ++iter) {
        std::string m = text;
        const int edits = 1 + static_cast<int>(rnd() % 4);
        for (int e = 0; e < edits && !m.empty(); ++e) {
            const std::size_t pos = rnd() % m.size();
            switch (rnd() % 3) {
                case 0: m[pos] = static_cast<char>(rnd() & 0xff); break;
                case 1: m.insert(pos, 1, "{}[]\",:\\u0 \x80"[rnd() % 13]); break;
                default: m.erase(pos, 1); break;
            }
        }
        auto r = parse_task(m);
        if (!r) {
            ++errors;
            const std::string msg = r.error().message();
            ASSERT_EQ(msg.find("canary.mutation"), std::string::npos) << msg;
            ASSERT_EQ(msg.find(salt.substr(0, 12)), std::string::npos) << msg;
            ASSERT_EQ(msg.find(hash.substr(0, 12)), std::string::npos) << msg;
        }
    }
    EXPECT_GT(errors, 4000);
}

TEST(TaskIntakeTest, ParseAndWipeClearsTheRequestBuffer) {
    std::string ok_body = task("LIID-W").dump();
    auto t = parse_task_and_wipe(crypto::MutableByteView(reinterpret_cast<std::uint8_t*>(ok_body.data()), ok_body.size()));
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(ok_body, std::string(ok_body.size(), '\0'));
    EXPECT_EQ(secret_text(t->fields[0].value), "442079460223");

    json bad = task("LIID-W");
    bad["fields"][0]["value"] = "442079460224";
    std::string bad_body = bad.dump();
    auto r = parse_task_and_wipe(crypto::MutableByteView(reinterpret_cast<std::uint8_t*>(bad_body.data()), bad_body.size()));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::hash_mismatch);
    EXPECT_EQ(bad_body, std::string(bad_body.size(), '\0'));
}

TEST(TaskIntakeTest, CheckIntakeRefusesAHandBuiltTaskThatBreaksARule) {
    auto t = parse_task(task("LIID-C").dump());
    ASSERT_TRUE(t);
    EXPECT_TRUE(check_intake(*t));
    t->fields[0].hash[0] ^= 1;
    auto r = check_intake(*t);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::hash_mismatch);
    EXPECT_EQ(r.error().context(), "fields[0].hash: does not match the salted hash of the value");
    t->fields[0].hash[0] ^= 1;
    t->reference = "LIID 1";
    EXPECT_EQ(check_intake(*t).error().code(), Errc::invalid_argument);
    t->reference = "LIID-1";
    t->fields[0].salt = crypto::Secret::random(15);
    EXPECT_EQ(check_intake(*t).error().code(), Errc::salt_too_short);
    t->fields.clear();
    EXPECT_EQ(check_intake(*t).error().code(), Errc::invalid_argument);
}

TEST(ReverifyInputTest, ParsesValueAndSaltIntoSecretsAndRefusesEverythingElse) {
    auto in = parse_reverify_input(R"({"value":"442079460223","salt":"8f1c2a9b3d4e5f60718293a4b5c6d7e8"})");
    ASSERT_TRUE(in) << in.error().message();
    EXPECT_EQ(secret_text(in->value), "442079460223");
    EXPECT_EQ(secret_text(in->salt_hex), "8f1c2a9b3d4e5f60718293a4b5c6d7e8");
    const std::vector<std::pair<std::string, std::string>> bad = {
        {R"({"value":"1"})", "salt: missing"},
        {R"({"salt":"00"})", "value: missing"},
        {R"({"value":"1","salt":"00","hash":"x"})", "input: unknown member"},
        {R"({"value":"1","value":"2","salt":"00"})", "value: duplicate member"},
        {R"({"value":1,"salt":"00"})", "value: must be a string"},
        {R"(["value"])", "input: must be an object"},
        {R"({"value":"1","salt":"00"} x)", "input: unexpected data"},
    };
    for (const auto& [text, prefix] : bad) {
        auto r = parse_reverify_input(text);
        ASSERT_FALSE(r) << text;
        EXPECT_TRUE(r.error().context().starts_with(prefix)) << text << " -> " << r.error().message();
    }
    std::string body = R"({"value":"secret-value","salt":"00112233445566778899aabbccddeeff"})";
    auto w = parse_reverify_input_and_wipe(crypto::MutableByteView(reinterpret_cast<std::uint8_t*>(body.data()), body.size()));
    ASSERT_TRUE(w);
    EXPECT_EQ(body, std::string(body.size(), '\0'));
}

}  // namespace
}  // namespace enclave::audit
