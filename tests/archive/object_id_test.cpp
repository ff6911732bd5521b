// SPDX-License-Identifier: Apache-2.0
// Object references and artifacts (archive/object_id.hpp): structure, and
// check digits that catch every single-character error and every swap of
// two neighbours.
#include <gtest/gtest.h>

#include <set>

#include "archive/object_id.hpp"

namespace enclave::archive {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

TEST(ObjectIdTest, ReferencesAreWellFormedUniqueAndCheckThemselves) {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const std::string ref = new_object_reference();
        ASSERT_TRUE(object_reference_ok(ref)) << ref;
        ASSERT_EQ(ref.rfind(kObjectReferencePrefix, 0), 0u);
        EXPECT_TRUE(seen.insert(ref).second);
    }
    // ISO 7064 MOD 97-10 as ISO 13616 uses it: the IBAN GB82 WEST 1234 5698
    // 7654 32 has check digits 82 over "WEST12345698765432" + "GB", its
    // letters spelled W=32 E=14 S=28 T=29 G=16 B=11.
    EXPECT_EQ(mod97_check_digits("32142829123456987654321611"), "82");
}

TEST(ObjectIdTest, EverySubstitutionAndAdjacentSwapInTheBodyIsCaught) {
    const std::string ref = new_object_reference();
    const std::size_t body = kObjectReferencePrefix.size();
    for (std::size_t i = body; i < body + 26; ++i) {
        for (const char c : kAlphabet) {
            if (c == ref[i]) continue;
            std::string bad = ref;
            bad[i] = c;
            EXPECT_FALSE(object_reference_ok(bad)) << bad;
        }
        if (i + 1 < body + 26 && ref[i] != ref[i + 1]) {
            std::string swapped = ref;
            std::swap(swapped[i], swapped[i + 1]);
            EXPECT_FALSE(object_reference_ok(swapped)) << swapped;
        }
    }
}

TEST(ObjectIdTest, HostileReferencesAndArtifactsAreRefused) {
    const std::string ref = new_object_reference();
    for (const std::string& bad :
         {std::string(), std::string(kObjectReferencePrefix), ref + "0", ref.substr(1),
          std::string("urn:x-enclave:ltap:obj:../../../../etc/passwd-00"), ref.substr(0, ref.size() - 3) + "+12",
          std::string(kObjectReferencePrefix) + std::string(26, 'I') + "-00",
          std::string(kObjectReferencePrefix) + std::string(26, 'a') + "-00"}) {
        EXPECT_FALSE(object_reference_ok(bad)) << bad;
    }
    const std::string art = new_artifact();
    EXPECT_TRUE(artifact_ok(art));
    EXPECT_NE(art, new_artifact());
    EXPECT_FALSE(artifact_ok(art + "0"));
    EXPECT_FALSE(artifact_ok("art-" + std::string(32, 'G')));
    EXPECT_FALSE(artifact_ok("ART-" + art.substr(4)));
    EXPECT_FALSE(artifact_ok("art-' OR 1=1 --"));
}

}  // namespace
}  // namespace enclave::archive
