// SPDX-License-Identifier: Apache-2.0
// Two-person control: proposals of guarded admin requests and their
// approval by a second officer (appliance/two_person.hpp).
//
// One mutex guards the pending proposals and is held across their audit
// records, so that no proposal can be approved before "approval.proposed"
// is durable and no two approvals of one proposal both run it. The approved
// request itself runs outside the lock (it may take the token or the disk).
#include "appliance/two_person.hpp"

#include <chrono>
#include <ctime>
#include <deque>
#include <mutex>
#include <vector>

#include "appliance/log.hpp"
#include "audit/task_actor.hpp"
#include "audit_services_impl.hpp"
#include "crypto/bytes.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "crypto/secret.hpp"

namespace enclave::appliance {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

const RoleSet kOfficers{Role::security_officer};
constexpr std::size_t kIdBytes = 16;
constexpr std::size_t kMaxApprovalBody = 1024;

std::string utc_text(std::chrono::system_clock::time_point t) {
    const std::time_t s = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&s, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/// A guarded request waiting for its second officer. Its body is the only
/// part that may be sensitive: it lives in `body` (locked memory, wiped when
/// the proposal goes), never in a std::string in here.
struct Proposal {
    std::string id;            ///< 32 lowercase hex digits
    std::string route;         ///< "POST /v1/task/reveal"
    Request head;              ///< the request without its body (peer = proposer)
    crypto::Secret body;
    std::string body_sha256;
    json proposer;             ///< audit Actor
    std::string proposer_id;   ///< audit::actor_identity of it
    std::string created;
    std::string expires;
    Clock::time_point deadline;
    Handler handler;           ///< the guarded route's own
};

enum class Outcome { approved, rejected, expired };

std::string_view outcome_name(Outcome o) {
    switch (o) {
        case Outcome::approved: return "approved";
        case Outcome::rejected: return "rejected";
        case Outcome::expired: return "expired";
    }
    return "finished";
}

bool valid_id(std::string_view id) {
    if (id.size() != kIdBytes * 2) return false;
    for (char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

/// {"proposal": ID} (nothing else), ID well-formed; or the error answer.
tl::expected<std::string, Response> proposal_id_of(const Request& req) {
    if (req.body.size() > kMaxApprovalBody) {
        return tl::unexpected(Response::error(413, "too_large", "body over 1 KiB"));
    }
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || body.size() != 1 ||
        !body.contains("proposal")) {
        return tl::unexpected(Response::error(400, "malformed_input",
                                              "body: {\"proposal\": \"<id>\"} is required"));
    }
    const json& id = body.at("proposal");
    if (!id.is_string() || !valid_id(id.get_ref<const std::string&>())) {
        return tl::unexpected(Response::error(
            400, "invalid_argument", "proposal: 32 lowercase hex digits are required"));
    }
    return id.get<std::string>();
}

json describe(const Proposal& p) {
    return json{{"proposal", p.id},          {"route", p.route},
                {"query", p.head.query},     {"proposer", p.proposer},
                {"created", p.created},      {"expires", p.expires},
                {"body_bytes", p.body.size()}, {"body_sha256", p.body_sha256}};
}

class Control {
public:
    Control(TwoPersonConfig config, audit::AuditSink& audit)
        : config_(std::move(config)), audit_(audit) {}

    Response propose(const std::string& route, const Handler& inner, const Request& req);
    Response list();
    Response approve(const Request& req);
    Response reject(const Request& req);

private:
    using Pending = std::vector<Proposal>;

    void sweep_locked();
    Pending::iterator find_locked(const std::string& id);
    Response finished_answer_locked(const std::string& id) const;
    void remember_locked(const std::string& id, Outcome o);
    crypto::Result<std::uint64_t> record(std::string_view what, const Proposal& p,
                                         const json& actor);
    static Response run(Proposal& p);

    const TwoPersonConfig config_;
    audit::AuditSink& audit_;
    std::mutex mu_;
    Pending pending_;
    std::deque<std::pair<std::string, Outcome>> finished_;
};

crypto::Result<std::uint64_t> Control::record(std::string_view what, const Proposal& p,
                                              const json& actor) {
    json ev{{"event", what},          {"actor", actor},
            {"proposal", p.id},       {"route", p.route},
            {"query", p.head.query},  {"body_bytes", p.body.size()},
            {"body_sha256", p.body_sha256}};
    if (what != "approval.proposed") ev["proposer"] = p.proposer;
    if (what == "approval.proposed") ev["expires"] = p.expires;
    return audit_.append(ev);
}

/// Expired proposals go now: wiped (their Secret) and recorded.
void Control::sweep_locked() {
    const auto now = Clock::now();
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->deadline > now) {
            ++it;
            continue;
        }
        if (auto r = record("approval.expired", *it, audit::system_actor()); !r) {
            log(LogLevel::error, "approvals",
                "recording an expired proposal failed: " + r.error().message());
        }
        remember_locked(it->id, Outcome::expired);
        it = pending_.erase(it);
    }
}

/// Constant-time comparison of ids (an id is what an approval names).
Control::Pending::iterator Control::find_locked(const std::string& id) {
    auto found = pending_.end();
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        if (crypto::constant_time_equal(crypto::as_bytes(std::string_view(it->id)),
                                        crypto::as_bytes(std::string_view(id)))) {
            found = it;
        }
    }
    return found;
}

Response Control::finished_answer_locked(const std::string& id) const {
    for (const auto& [done, outcome] : finished_) {
        if (done != id) continue;
        if (outcome == Outcome::expired) {
            return Response::error(410, "expired", "proposal " + id + " expired unapproved");
        }
        return Response::error(409, "invalid_state",
                               "proposal " + id + " is already " +
                                   std::string(outcome_name(outcome)));
    }
    return Response::error(404, "not_found", "no pending proposal " + id);
}

void Control::remember_locked(const std::string& id, Outcome o) {
    finished_.emplace_back(id, o);
    while (finished_.size() > kFinishedProposalsRemembered) finished_.pop_front();
}

Response Control::propose(const std::string& route, const Handler& inner, const Request& req) {
    if (req.body.size() > kMaxProposalBodyBytes) {
        return Response::error(413, "too_large", "a proposal's body is at most 1 MiB");
    }
    Proposal p;
    p.id = crypto::hex_encode(crypto::Secret::random(kIdBytes).view());
    p.route = route;
    // Everything but the body, which goes straight into locked memory (the
    // session wipes the original).
    p.head.method = req.method;
    p.head.path = req.path;
    p.head.query = req.query;
    p.head.headers = req.headers;
    p.head.peer = req.peer;
    p.head.path_params = req.path_params;
    p.body = crypto::Secret::copy_of(crypto::as_bytes(std::string_view(req.body)));
    p.body_sha256 = crypto::hex_encode(crypto::digest(crypto::HashAlg::sha256, p.body.view()));
    p.proposer = detail::actor_of(req.peer);
    auto who = audit::actor_identity(p.proposer);
    if (!who) return Response::error(403, "forbidden", "the caller has no officer identity");
    p.proposer_id = std::move(*who);
    const auto now = std::chrono::system_clock::now();
    p.created = utc_text(now);
    p.expires = utc_text(now + config_.approval_window);
    p.deadline = Clock::now() + config_.approval_window;
    p.handler = inner;

    std::lock_guard lock(mu_);
    sweep_locked();
    if (pending_.size() >= config_.max_pending) {
        return Response::error(429, "resource_exhausted",
                               std::to_string(pending_.size()) +
                                   " proposals are pending (admin.two_person.max_pending): "
                                   "approve or reject some first");
    }
    if (auto r = record("approval.proposed", p, p.proposer); !r) {
        return detail::error_response(r.error().wrap("not proposed: audit log"));
    }
    json answer{{"proposal", p.id},
                {"route", p.route},
                {"expires", p.expires},
                {"body_sha256", p.body_sha256},
                {"message", "not executed yet: a different security officer must approve it "
                            "(enclavectl approvals approve " + p.id + ") before it expires"}};
    pending_.push_back(std::move(p));
    return Response::json(202, answer.dump());
}

Response Control::list() {
    std::lock_guard lock(mu_);
    sweep_locked();
    json out = json::array();
    for (const auto& p : pending_) out.push_back(describe(p));
    return Response::json(
        200, json{{"enabled", config_.enabled},
                  {"approval_window_s", config_.approval_window.count()},
                  {"proposals", out}}.dump());
}

/// The stored request, as its proposer sent it; its body copy is wiped after.
Response Control::run(Proposal& p) {
    Request req = p.head;
    req.body.assign(reinterpret_cast<const char*>(p.body.data()), p.body.size());
    Response answer;
    try {
        answer = p.handler(req);
    } catch (const std::exception& e) {
        log(LogLevel::error, "approvals", "approved " + p.route + " failed: " + e.what());
        answer = Response::error(500, "internal", "internal error");
    } catch (...) {
        log(LogLevel::error, "approvals", "approved " + p.route + " failed");
        answer = Response::error(500, "internal", "internal error");
    }
    crypto::wipe(req.body);
    return answer;
}

Response Control::approve(const Request& req) {
    auto id = proposal_id_of(req);
    if (!id) return id.error();
    const json approver = detail::actor_of(req.peer);
    auto approver_id = audit::actor_identity(approver);
    if (!approver_id) return Response::error(403, "forbidden", "the caller has no officer identity");
    Proposal p;
    {
        std::lock_guard lock(mu_);
        sweep_locked();
        auto it = find_locked(*id);
        if (it == pending_.end()) return finished_answer_locked(*id);
        if (*approver_id == it->proposer_id) {
            return Response::error(403, "same_officer",
                                   "the proposer cannot approve: a different officer must");
        }
        if (auto r = record("approval.approved", *it, approver); !r) {
            return detail::error_response(r.error().wrap("not approved: audit log"));
        }
        p = std::move(*it);
        pending_.erase(it);
        remember_locked(p.id, Outcome::approved);
    }
    return run(p);  // p's body is wiped when p goes
}

Response Control::reject(const Request& req) {
    auto id = proposal_id_of(req);
    if (!id) return id.error();
    std::lock_guard lock(mu_);
    sweep_locked();
    auto it = find_locked(*id);
    if (it == pending_.end()) return finished_answer_locked(*id);
    if (auto r = record("approval.rejected", *it, detail::actor_of(req.peer)); !r) {
        return detail::error_response(r.error().wrap("not rejected: audit log"));
    }
    remember_locked(it->id, Outcome::rejected);
    pending_.erase(it);
    return Response::json(200, json{{"rejected", *id}}.dump());
}

}  // namespace

crypto::Result<void> install_two_person(Router& admin, const TwoPersonConfig& config,
                                        audit::AuditSink& audit) {
    auto control = std::make_shared<Control>(config, audit);
    const auto routes = admin.describe();
    for (const std::string& route : config.routes) {
        const auto sp = route.find(' ');
        const std::string method = route.substr(0, sp);
        const std::string path = sp == std::string::npos ? std::string() : route.substr(sp + 1);
        bool known = false;
        for (const auto& r : routes) known = known || (r.method == method && r.path == path);
        const bool wrapped =
            known && (!config.enabled ||
                      admin.wrap(method, path, [control, route](Handler inner) -> Handler {
                          return [control, route, inner = std::move(inner)](const Request& r) {
                              return control->propose(route, inner, r);
                          };
                      }));
        if (!wrapped) {
            return crypto::fail(crypto::Errc::invalid_argument,
                                "admin.two_person.routes: \"" + route +
                                    "\" is not an admin route this daemon can guard");
        }
    }
    admin.add("GET", "/v1/approvals", kOfficers, [control](const Request&) { return control->list(); });
    admin.add("POST", "/v1/approvals/approve", kOfficers,
              [control](const Request& req) { return control->approve(req); });
    admin.add("POST", "/v1/approvals/reject", kOfficers,
              [control](const Request& req) { return control->reject(req); });
    return {};
}

}  // namespace enclave::appliance
