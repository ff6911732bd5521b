// SPDX-License-Identifier: Apache-2.0
// The actor shapes task operations record (audit/task_actor.hpp), and the
// identity that decides whether two actors are the same.
#include "audit/task_actor.hpp"

#include <gtest/gtest.h>

namespace enclave::audit {
namespace {

using nlohmann::json;

TEST(TaskActorTest, EachKindHasItsIdentity) {
    EXPECT_EQ(*actor_identity(json{{"kind", "local"}, {"uid", 1000}}), "local:1000");
    EXPECT_EQ(*actor_identity(json{{"kind", "certificate"}, {"sha256", std::string(64, 'a')}}),
              "certificate:" + std::string(64, 'a'));
    EXPECT_EQ(*actor_identity(json{{"kind", "psk"}, {"listener", "lea"}, {"psk_identity", "lea-in-1"},
                                   {"endpoint", "lea-psk"}}),
              "psk:lea-in-1");
    EXPECT_EQ(*actor_identity(system_actor()), "system");
}

TEST(TaskActorTest, MalformedAndHostileActorsAreRefused) {
    const json bad[] = {
        json::array(),
        json{{"kind", "root"}},
        json{{"kind", 1}},
        json{{"kind", "local"}, {"uid", -1}},
        json{{"kind", "certificate"}, {"sha256", std::string(64, 'A')}},
        json{{"kind", "psk"}},
        json{{"kind", "psk"}, {"psk_identity", ""}},
        json{{"kind", "psk"}, {"psk_identity", "has space"}},
        json{{"kind", "psk"}, {"psk_identity", std::string(129, 'x')}},
        json{{"kind", "psk"}, {"psk_identity", "tab\there"}},
        json{{"kind", "psk"}, {"psk_identity", 7}},
        json{{"kind", "system"}, {"pad", std::string(5000, 'x')}},
    };
    for (const json& a : bad) {
        EXPECT_FALSE(check_actor(a)) << a.dump().substr(0, 80);
        EXPECT_FALSE(actor_identity(a)) << a.dump().substr(0, 80);
    }
    EXPECT_TRUE(check_actor(json{{"kind", "psk"}, {"psk_identity", std::string(128, 'x')}}));
}

}  // namespace
}  // namespace enclave::audit
