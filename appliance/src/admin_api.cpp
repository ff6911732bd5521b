// SPDX-License-Identifier: Apache-2.0
#include "appliance/admin_api.hpp"

#include <nlohmann/json.hpp>

#include "appliance/log.hpp"

namespace enclave::appliance {
namespace {

constexpr RoleSet kAnyRole = RoleSet::all();

Response from_error(const crypto::Error& e) {
    // Errors from the token name operations and CKR codes, never secrets.
    return Response::error(503, crypto::errc_name(e.code()), e.context());
}

bool token_logged_in(hsm::SessionPool& pool) {
    auto lease = pool.acquire();
    if (!lease) return false;
    auto in = lease->session().user_logged_in();
    return in && *in;
}

Response status(const AdminApiContext& ctx) {
    nlohmann::json doc;
    doc["version"] = kEnclaveVersion;
    doc["instance"] = ctx.instance_name;
    doc["ready"] = ctx.metrics->ready();
    doc["uptime_seconds"] = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::steady_clock::now() - ctx.started)
                                .count();
    nlohmann::json listeners = nlohmann::json::array();
    if (ctx.listeners) {
        for (const auto& l : ctx.listeners()) {
            listeners.push_back({{"name", l.name},
                                 {"address", l.address},
                                 {"active_connections", l.active_connections}});
        }
    }
    doc["listeners"] = std::move(listeners);
    doc["token"] = {{"label", ctx.pool->token().label}, {"logged_in", token_logged_in(*ctx.pool)}};
    return Response::json(200, doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

void add_admin_routes(Router& router, AdminApiContext context) {
    auto ctx = std::make_shared<const AdminApiContext>(std::move(context));
    router.add("GET", "/healthz", RoleSet{},
               [](const Request&) { return Response::text(200, "ok\n"); });
    router.add("GET", "/readyz", RoleSet{}, [ctx](const Request&) {
        return ctx->metrics->ready() ? Response::text(200, "ready\n")
                                     : Response::text(503, "not ready\n");
    });
    router.add("GET", "/metrics", kAnyRole, [ctx](const Request&) {
        Response r = Response::text(200, ctx->metrics->render());
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        return r;
    });
    router.add("GET", "/v1/status", kAnyRole, [ctx](const Request&) { return status(*ctx); });
    router.add("GET", "/v1/hsm/status", kAnyRole, [ctx](const Request&) {
        auto doc = hsm_status_json(*ctx->pool);
        if (!doc) {
            log(LogLevel::warning, "admin", "hsm status: " + doc.error().message());
            return from_error(doc.error());
        }
        return Response::json(200, std::move(*doc));
    });
}

void add_role_table_route(Router& router) {
    // The handler belongs to `router`, so the reference outlives every call.
    router.add("GET", "/v1/roles", kAnyRole, [&router](const Request& req) {
        nlohmann::json routes = nlohmann::json::array();
        for (const auto& r : router.describe()) {
            nlohmann::json roles = nlohmann::json::array();
            for (const auto name : r.allowed.names()) roles.push_back(std::string(name));
            routes.push_back({{"method", r.method},
                              {"path", r.path},
                              {"roles", r.allowed.empty() ? nlohmann::json("any") : roles}});
        }
        nlohmann::json caller = nlohmann::json::array();
        for (const auto name : req.peer.roles.names()) caller.push_back(std::string(name));
        return Response::json(200, nlohmann::json{{"routes", routes}, {"your_roles", caller}}.dump());
    });
}

}  // namespace enclave::appliance
