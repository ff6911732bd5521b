// SPDX-License-Identifier: Apache-2.0
#pragma once
// Admin roles of a local caller on the admin Unix socket.
//
// The kernel tells us who the peer is (SO_PEERCRED: uid, gid, pid at
// connect time); nothing the peer sends is trusted for this. uid 0 and the
// daemon's own uid hold every role. Any other uid gets the roles whose Unix
// group (config admin.roles) it belongs to: its passwd entry's primary group
// plus its supplementary groups (getgrouplist). A uid without a passwd entry
// has no role.

#include <sys/types.h>

#include <string>
#include <vector>

#include "appliance/config.hpp"
#include "appliance/http_types.hpp"

namespace enclave::appliance {

/// Roles granted by membership in the named groups.
RoleSet roles_from_groups(const std::vector<std::string>& group_names, const RoleGroups& groups);

/// Names of the groups `uid` belongs to (primary and supplementary); empty
/// when the uid has no passwd entry.
std::vector<std::string> groups_of_uid(uid_t uid);

/// The roles of a peer uid, as described above. `self` is the daemon's uid.
RoleSet roles_for_uid(uid_t uid, uid_t self, const RoleGroups& groups);

/// The roles admin.tls_roles gives a verified client certificate's RFC 2253
/// subject (exact match; none when it is not listed).
RoleSet roles_of_subject(const TlsRoleSubjects& map, const std::string& subject);

}  // namespace enclave::appliance
