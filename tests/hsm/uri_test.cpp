// SPDX-License-Identifier: Apache-2.0
#include "hsm/uri.hpp"

#include <gtest/gtest.h>

#include <random>

namespace enclave::hsm {
namespace {

using crypto::Errc;

Errc parse_error(std::string_view text) {
    auto r = Uri::parse(text);
    EXPECT_FALSE(r) << "accepted: " << text;
    return r ? Errc::internal : r.error().code();
}

TEST(UriTest, ParsesEveryAttribute) {
    auto u = Uri::parse(
        "pkcs11:token=Enclave%20Token;manufacturer=SoftHSM%20project;serial=0123abcd;"
        "model=SoftHSM%20v2;library-manufacturer=SoftHSM;library-description=Implementation"
        "%20of%20PKCS11;library-version=2.6;slot-description=SoftHSM%20slot%20ID%200x1;"
        "slot-manufacturer=SoftHSM%20project;slot-id=42;object=tls-lea;id=%01%02%ff;type=private"
        "?module-name=softhsm2&module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin");
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(u->token, "Enclave Token");
    EXPECT_EQ(u->manufacturer, "SoftHSM project");
    EXPECT_EQ(u->serial, "0123abcd");
    EXPECT_EQ(u->model, "SoftHSM v2");
    EXPECT_EQ(u->library_manufacturer, "SoftHSM");
    EXPECT_EQ(u->library_description, "Implementation of PKCS11");
    ASSERT_TRUE(u->library_version);
    EXPECT_EQ(u->library_version->major, 2);
    EXPECT_EQ(u->library_version->minor, 6);
    EXPECT_EQ(u->slot_description, "SoftHSM slot ID 0x1");
    EXPECT_EQ(u->slot_id, 42u);
    EXPECT_EQ(u->object, "tls-lea");
    EXPECT_EQ(u->id, (crypto::Bytes{0x01, 0x02, 0xff}));
    EXPECT_EQ(u->type, ObjectType::private_key);
    EXPECT_EQ(u->module_name, "softhsm2");
    EXPECT_EQ(u->module_path, "/usr/lib/softhsm/libsofthsm2.so");
    EXPECT_EQ(u->pin_source, "file:/run/pin");
    EXPECT_TRUE(u->names_token());
    // Canonical form round-trips.
    auto again = Uri::parse(u->to_string());
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(*again, *u);
}

TEST(UriTest, AcceptsTheEmptyUriAndCaseInsensitiveScheme) {
    auto empty = Uri::parse("pkcs11:");
    ASSERT_TRUE(empty);
    EXPECT_FALSE(empty->names_token());
    EXPECT_EQ(empty->to_string(), "pkcs11:");
    auto upper = Uri::parse("PKCS11:token=a");
    ASSERT_TRUE(upper);
    EXPECT_EQ(upper->token, "a");
    auto query_only = Uri::parse("pkcs11:?module-name=softhsm2");
    ASSERT_TRUE(query_only);
    EXPECT_EQ(query_only->module_name, "softhsm2");
}

TEST(UriTest, TypesMapToObjectClasses) {
    for (auto [name, cls] : {std::pair{"public", CKO_PUBLIC_KEY}, {"private", CKO_PRIVATE_KEY},
                             {"secret-key", CKO_SECRET_KEY}, {"cert", CKO_CERTIFICATE},
                             {"data", CKO_DATA}}) {
        auto u = Uri::parse(std::string("pkcs11:type=") + name);
        ASSERT_TRUE(u) << name;
        EXPECT_EQ(object_type_class(*u->type), cls);
        EXPECT_EQ(object_type_name(*u->type), name);
    }
    EXPECT_EQ(parse_error("pkcs11:type=secret"), Errc::malformed_input);
    EXPECT_EQ(parse_error("pkcs11:type=PRIVATE"), Errc::malformed_input);
}

TEST(UriTest, RefusesPinValueWithoutEchoingIt) {
    for (const char* text : {"pkcs11:token=a?pin-value=s3cr3t-PIN",
                             "pkcs11:token=a;pin-value=s3cr3t-PIN",
                             "pkcs11:pin-value=s3cr3t-PIN;token=a",
                             "pkcs11:token=a?module-name=x&pin-value=s3cr3t-PIN"}) {
        auto r = Uri::parse(text);
        ASSERT_FALSE(r) << text;
        EXPECT_EQ(r.error().code(), Errc::invalid_argument);
        EXPECT_NE(r.error().message().find("pin-value"), std::string::npos);
        EXPECT_EQ(r.error().message().find("s3cr3t"), std::string::npos) << r.error().message();
    }
}

TEST(UriTest, RefusesMalformedInput) {
    for (const char* text : {
             "", "pkcs11", "pkcs:token=a", "http://x", " pkcs11:token=a",
             "pkcs11:token",                 // no '='
             "pkcs11:=a",                    // no name
             "pkcs11:token=a;;object=b",     // empty element
             "pkcs11:token=a;",              // trailing separator
             "pkcs11:token=",                // empty value
             "pkcs11:token=a?",              // empty query
             "pkcs11:token=a?module-name=",  // empty query value
             "pkcs11:token=%",               // truncated escape
             "pkcs11:token=%4",              // truncated escape
             "pkcs11:token=%zz",             // not hex
             "pkcs11:token=%%41",            // bare percent
             "pkcs11:token=a b",             // space must be encoded
             "pkcs11:token=a\tb",            // control character
             "pkcs11:token=caf\xc3\xa9",     // raw UTF-8 must be encoded
             "pkcs11:token=a/b",             // '/' not allowed in the path
             "pkcs11:token=a?b=c?d",         // unknown query attribute
             "pkcs11:Token=a",               // names are case-sensitive
             "pkcs11:token=a;token=b",       // duplicate
             "pkcs11:x-vendor=1",            // vendor attributes are refused (policy)
             "pkcs11:unknown=1",
             "pkcs11:token=a?unknown=1",
             "pkcs11:object=a?object=b",     // path attribute in the query
             "pkcs11:module-path=/x",        // query attribute in the path
             "pkcs11:slot-id=-1", "pkcs11:slot-id=+1", "pkcs11:slot-id=0x10", "pkcs11:slot-id=1a",
             "pkcs11:slot-id=99999999999999999999999",
             "pkcs11:library-version=1.2.3", "pkcs11:library-version=256", "pkcs11:library-version=.1",
             "pkcs11:library-version=1.",
             "pkcs11:token=%00nul",          // NUL smuggled through an escape
             "pkcs11:object=a%0Ab",          // newline smuggled through an escape
             "pkcs11:token=a?module-path=relative/lib.so",
             "pkcs11:token=a?module-name=../evil",
             "pkcs11:token=%FF",             // not UTF-8
             "pkcs11:token=%C0%AF",          // overlong '/'
             "pkcs11:token=%ED%A0%80",       // UTF-16 surrogate
             "pkcs11:token=%F4%90%80%80",    // above U+10FFFF
             "pkcs11:token=%E2%82",          // truncated sequence
         }) {
        auto r = Uri::parse(text);
        ASSERT_FALSE(r) << "accepted: " << text;
        EXPECT_EQ(r.error().code(), Errc::malformed_input) << text << ": " << r.error().message();
    }
}

TEST(UriTest, RefusesFieldsLongerThanPkcs11Allows) {
    EXPECT_TRUE(Uri::parse("pkcs11:token=" + std::string(32, 'a')));
    auto utf8 = Uri::parse("pkcs11:token=caf%C3%A9%20%E2%82%AC%F0%9F%94%91");
    ASSERT_TRUE(utf8) << utf8.error().message();
    EXPECT_EQ(utf8->token, "caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x94\x91");
    EXPECT_EQ(parse_error("pkcs11:token=" + std::string(33, 'a')), Errc::malformed_input);
    EXPECT_TRUE(Uri::parse("pkcs11:serial=" + std::string(16, '1')));
    EXPECT_EQ(parse_error("pkcs11:serial=" + std::string(17, '1')), Errc::malformed_input);
    EXPECT_EQ(parse_error("pkcs11:model=" + std::string(17, 'm')), Errc::malformed_input);
    // Percent escapes count as one byte each.
    std::string id = "pkcs11:id=";
    for (int i = 0; i < 256; ++i) id += "%41";
    EXPECT_EQ(parse_error(id), Errc::malformed_input);
}

TEST(UriTest, RefusesOversizedUris) {
    const std::string big = "pkcs11:object=" + std::string(kMaxUriLength, 'a');
    auto r = Uri::parse(big);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::too_large);
    const std::string huge(10 * 1024 * 1024, 'x');
    EXPECT_EQ(Uri::parse(huge).error().code(), Errc::too_large);
}

TEST(UriTest, ErrorsGiveAnOffsetButNotTheValue) {
    auto r = Uri::parse("pkcs11:object=top%2Gsecret");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("offset 17"), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find("secret"), std::string::npos) << r.error().message();
}

TEST(UriTest, EncodesEverythingOutsideTheUnreservedSet) {
    Uri u;
    u.object = "a b;c?d&e%f/g=h\xff";
    u.id = crypto::Bytes{0x00, 0x41, 0xfe};
    u.module_path = "/usr/lib/x y.so";
    const std::string s = u.to_string();
    EXPECT_EQ(s, "pkcs11:object=a%20b%3Bc%3Fd%26e%25f%2Fg%3Dh%FF;id=%00A%FE?module-path=%2Fusr%2Flib%2Fx%20y.so");
    auto back = Uri::parse(s);
    ASSERT_FALSE(back) << "a 0xFF byte is not a valid label character";
    u.object = "a b;c?d&e%f/g=h";
    auto ok = Uri::parse(u.to_string());
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(*ok, u);
}

TEST(UriTest, SurvivesRandomHostileInput) {
    std::mt19937 rng(7512);
    const std::string alphabet = "pkcs11:;?&=%0123456789abcdefABCDEF-tokenobjectidtype/\x00\xff";
    int accepted = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string s = i % 2 == 0 ? "pkcs11:" : "";
        const int len = static_cast<int>(rng() % 80);
        for (int j = 0; j < len; ++j) s.push_back(alphabet[rng() % alphabet.size()]);
        auto r = Uri::parse(s);
        if (r) {
            ++accepted;
            // Whatever parses must round-trip through the canonical form.
            auto again = Uri::parse(r->to_string());
            ASSERT_TRUE(again) << s;
            EXPECT_EQ(*again, *r) << s;
        } else {
            EXPECT_FALSE(r.error().context().empty());
        }
    }
    EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace enclave::hsm
