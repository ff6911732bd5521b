// SPDX-License-Identifier: Apache-2.0
// Certificates at run time: keys on the token, requests, chains, the live
// switch of a listener, retirement and expiry (cert_services.hpp).
#include "appliance/cert_services.hpp"

#include <array>
#include <chrono>
#include <fstream>
#include <iterator>

#include "appliance/log.hpp"
#include "cert_services_impl.hpp"
#include "hsm/keygen.hpp"
#include "hsm/object.hpp"
#include "hsm/public_key.hpp"
#include "hsm/signer.hpp"
#include "hsm/uri.hpp"

namespace enclave::appliance {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using nlohmann::json;

namespace {

constexpr std::array<int, 3> kThresholds{30, 7, 1};
constexpr auto kExpiryInterval = std::chrono::hours(1);
/// Keys the appliance itself depends on beyond TLS: never retired here.
constexpr std::array<std::string_view, 3> kReserved{"kek", "audit-signing", "enclave-tsa"};

std::int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// A label as a Prometheus label value: anything outside A-Z a-z 0-9 . _ -
/// becomes '_' (a configured URI's label may hold any character).
std::string metric_label(std::string_view s) {
    std::string out;
    for (const char c : s) {
        const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
        out += ok ? c : '_';
    }
    return out;
}

std::string key_uri(const std::string& label) { return "pkcs11:object=" + label + ";type=private"; }

json summary_json(const certs::Summary& s) {
    return json{{"subject", s.subject},   {"issuer", s.issuer},       {"serial", s.serial},
                {"sha256", s.sha256},     {"not_before", s.not_before}, {"not_after", s.not_after}};
}

}  // namespace

namespace detail {
std::string label_of_uri(const std::string& uri) {
    auto parsed = hsm::Uri::parse(uri);
    if (!parsed || !parsed->object) return "";
    return *parsed->object;
}
}  // namespace detail

const ListenerConfig* CertServices::Impl::listener_config(const std::string& name) const {
    const ListenerConfig* l = nullptr;
    if (name == "lea") l = &config.lea;
    if (name == "ingest") l = &config.ingest;
    if (name == "admin-tls") l = &config.admin.tls_listener;
    return l != nullptr && l->enabled ? l : nullptr;
}

TlsConfig CertServices::Impl::effective(const std::string& listener, const TlsConfig& tls) const {
    auto label = store->binding(listener);
    if (!label) return tls;
    TlsConfig out = tls;
    out.certificate = store->chain_path(*label);
    out.private_key = key_uri(*label);
    return out;
}

TlsConfig CertServices::Impl::lea_client_tls() const {
    TlsConfig t;
    t.certificate = config.lea_client.certificate;
    t.private_key = config.lea_client.private_key;
    return effective("lea-client", t);
}

std::optional<TlsConfig> CertServices::Impl::target_tls(const std::string& target) const {
    if (target == "lea-client") {
        if (config.lea_client.certificate.empty()) return std::nullopt;
        return lea_client_tls();
    }
    const ListenerConfig* l = listener_config(target);
    if (l == nullptr) return std::nullopt;
    return effective(target, l->tls);
}

std::vector<CertInUse> CertServices::Impl::in_use() const {
    std::vector<CertInUse> out;
    const auto add = [&](const std::string& who, const TlsConfig& tls) {
        CertInUse c;
        c.used_by = who;
        c.label = detail::label_of_uri(tls.private_key);
        c.chain = config.resolve(tls.certificate);
        auto chain = certs::read_chain_file(c.chain);
        if (chain) {
            auto s = certs::summarize(chain->front().get());
            if (s) c.summary = std::move(*s);
            else c.error = s.error().message();
        } else {
            c.error = chain.error().message();
        }
        out.push_back(std::move(c));
    };
    for (const char* name : {"lea", "ingest", "admin-tls"}) {
        if (const ListenerConfig* l = listener_config(name)) add(name, effective(name, l->tls));
    }
    if (!config.lea_client.certificate.empty()) add("lea-client", lea_client_tls());
    return out;
}

std::vector<std::string> CertServices::Impl::users_of(const std::string& label) const {
    std::vector<std::string> out;
    for (const char* name : {"lea", "ingest", "admin-tls"}) {
        if (const ListenerConfig* l = listener_config(name)) {
            if (detail::label_of_uri(effective(name, l->tls).private_key) == label) {
                out.emplace_back(name);
            }
        }
    }
    if (!config.lea_client.certificate.empty() &&
        detail::label_of_uri(lea_client_tls().private_key) == label) {
        out.emplace_back("lea-client");
    }
    return out;
}

Result<json> CertServices::Impl::list() const {
    json rows = json::array();
    std::map<std::string, bool> shown;
    for (const auto& c : in_use()) {
        json r{{"label", c.label}, {"state", "in_use"}, {"used_by", json::array({c.used_by})}};
        if (c.summary) r.update(summary_json(*c.summary));
        else r["error"] = c.error;
        rows.push_back(std::move(r));
        shown[c.label] = true;
    }
    for (const auto& [label, key] : store->state().keys) {
        if (shown.count(label) != 0) continue;
        json r{{"label", label}, {"used_by", json::array()}, {"created", key.created}};
        if (!key.staged_for.empty()) r["staged_for"] = key.staged_for;
        std::error_code ec;
        auto chain = std::filesystem::exists(store->chain_path(label), ec)
                         ? certs::read_chain_file(store->chain_path(label))
                         : Result<std::vector<certs::X509Ptr>>(fail(Errc::not_found, ""));
        if (chain) {
            r["state"] = "ready";
            if (auto s = certs::summarize(chain->front().get())) r.update(summary_json(*s));
        } else {
            r["state"] = "staged";
            std::ifstream in(store->csr_path(label));
            std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (auto subject = certs::csr_subject(pem)) r["subject"] = *subject;
        }
        rows.push_back(std::move(r));
    }
    return json{{"certificates", rows}};
}

Result<CertServices::Impl::Defaults> CertServices::Impl::rotation_defaults(
    const NewKeyRequest& req) const {
    const auto tls = target_tls(req.listener);
    if (!tls) {
        return fail(Errc::not_found, req.listener == "lea-client"
                                         ? std::string("no [lea_client] certificate is configured")
                                         : "no enabled listener " + req.listener);
    }
    for (const auto& [label, key] : store->state().keys) {
        if (key.staged_for == req.listener) {
            return fail(Errc::already_exists, "key '" + label + "' is already staged for " +
                                                  req.listener + ": import its certificate "
                                                  "or retire it first");
        }
    }
    auto chain = certs::read_chain_file(config.resolve(tls->certificate));
    if (!chain) return tl::unexpected(chain.error().wrap("the listener's current certificate"));
    return Defaults{certs::name_text(X509_get_subject_name(chain->front().get())),
                    certs::sans_of(chain->front().get())};
}

Result<json> CertServices::Impl::new_key(const NewKeyRequest& req, const audit::Actor& actor) {
    if (!certs::valid_label(req.label)) {
        return fail(Errc::invalid_argument,
                    "label: 1..64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit");
    }
    std::lock_guard change(change_mu);
    std::string subject_text = req.subject;
    certs::GeneralNamesPtr current_sans;
    if (!req.listener.empty()) {
        auto d = rotation_defaults(req);
        if (!d) return tl::unexpected(d.error());
        if (subject_text.empty()) subject_text = std::move(d->subject);
        if (!req.sans_given) current_sans = std::move(d->sans);
    }
    if (subject_text.empty()) return fail(Errc::invalid_argument, "subject is required");
    auto subject = certs::parse_subject(subject_text);
    if (!subject) return tl::unexpected(subject.error());
    auto parsed_sans = certs::parse_sans(req.sans);
    if (!parsed_sans) return tl::unexpected(parsed_sans.error());
    const GENERAL_NAMES* san_ext = current_sans ? current_sans.get() : parsed_sans->get();
    if (store->state().keys.count(req.label) != 0) {
        return fail(Errc::already_exists, "a key labelled '" + req.label + "' was made before");
    }
    auto rw = pool->open_read_write_session();
    if (!rw) return tl::unexpected(rw.error());
    auto key = hsm::generate_ec_key_pair(*rw, pool->token(), hsm::EcCurve::p256,
                                         hsm::KeySpec{req.label, {}});
    if (!key) return tl::unexpected(key.error());
    // From here on a failure destroys the new key again: nothing half made stays.
    const auto undo = [&](const crypto::Error& e) -> Result<json> {
        (void)hsm::destroy_key(*rw, pool->token(), *key);
        store->remove_files(req.label);
        return tl::unexpected(e);
    };
    auto spki = hsm::export_public_key_spki(*rw, *key, pool->token());
    if (!spki) return undo(spki.error());
    auto signer = hsm::Signer::open(pool, key->query());
    if (!signer) return undo(signer.error());
    auto csr = certs::make_csr(subject->get(), san_ext, *spki, [&](crypto::ByteView tbs) -> Result<crypto::Bytes> {
        auto sig = signer->sign_ecdsa(crypto::HashAlg::sha256, tbs);
        if (!sig) return tl::unexpected(sig.error());
        return sig->der;
    });
    if (!csr) return undo(csr.error());
    if (auto ok = store->write_public(store->csr_path(req.label), *csr); !ok) return undo(ok.error());
    json ev{{"event", "certificate.key_created"}, {"actor", actor}, {"label", req.label},
            {"key_type", "ec-p256"}, {"subject", certs::name_text(subject->get())}};
    if (!req.listener.empty()) ev["staged_for"] = req.listener;
    if (auto logged = audit->append(ev); !logged) return undo(logged.error().wrap("audit log"));
    certs::CertState st = store->state();
    st.keys[req.label] = certs::ManagedKey{now_s(), req.listener};
    if (auto ok = store->save(st); !ok) return undo(ok.error());
    events->emit(events::CertificateChanged{"key_created", req.label, req.listener});
    json out{{"key", {{"label", req.label}, {"uri", key->uri(pool->token()).to_string()},
                      {"key_type", "ec-p256"}}},
             {"csr_pem", *csr}};
    if (!req.listener.empty()) out["key"]["staged_for"] = req.listener;
    return out;
}

std::string CertServices::Impl::switch_target(const std::string& label,
                                            const certs::CertState& st) const {
    // The listener a rotation staged the key for, or the one using it now
    // (a renewed certificate for the same key).
    if (auto it = st.keys.find(label); it != st.keys.end() && !it->second.staged_for.empty()) {
        return it->second.staged_for;
    }
    std::string target;
    bool client = false;
    for (const auto& u : users_of(label)) {
        if (u == "lea-client") client = true;
        else target = u;
    }
    return target.empty() && client ? "lea-client" : target;
}

std::vector<std::filesystem::path> CertServices::Impl::anchors_for(const std::string& target) const {
    std::vector<std::filesystem::path> anchors;
    // The LEA client's chain: to any listener's anchors, like a key nothing
    // uses (the CSP's CA is among them; docs/security-officer-guide.md).
    const bool any = target.empty() || target == "lea-client";
    for (const char* name : {"lea", "ingest", "admin-tls"}) {
        const ListenerConfig* l = listener_config(name);
        if (l != nullptr && (any || target == name)) {
            anchors.push_back(config.resolve(l->tls.trust_anchors));
        }
    }
    return anchors;
}

Result<json> CertServices::Impl::import(const std::string& label, std::string_view chain_pem,
                                        const audit::Actor& actor) {
    if (!certs::valid_label(label)) return fail(Errc::invalid_argument, "label: not a valid key label");
    auto chain = certs::parse_chain_pem(chain_pem);
    if (!chain) return tl::unexpected(chain.error());
    std::lock_guard change(change_mu);
    auto found = hsm::find_key(*pool, hsm::KeyQuery::by_label(label, hsm::ObjectType::private_key));
    if (!found) return tl::unexpected(found.error());
    auto token_spki = hsm::export_public_key_spki(*pool, *found);
    if (!token_spki) return tl::unexpected(token_spki.error());
    auto leaf_spki = certs::spki_of(chain->front().get());
    if (!leaf_spki) return tl::unexpected(leaf_spki.error());
    if (*leaf_spki != *token_spki) {
        return fail(Errc::invalid_argument, "the certificate's public key is not the public key "
                                            "of token key '" + label + "'");
    }
    const certs::CertState st = store->state();
    const std::string target = switch_target(label, st);
    const bool client = target == "lea-client";
    if (!target.empty() && !target_tls(target)) {
        return fail(Errc::invalid_state, "listener " + target + " is not enabled");
    }
    const auto purpose = target.empty() ? certs::ChainPurpose::any
                         : client       ? certs::ChainPurpose::tls_client
                                        : certs::ChainPurpose::tls_server;
    if (auto ok = certs::verify_chain(*chain, anchors_for(target), purpose); !ok) {
        return tl::unexpected(ok.error());
    }
    auto summary = certs::summarize(chain->front().get());
    if (!summary) return tl::unexpected(summary.error());
    const auto final_path = store->chain_path(label);
    const auto staged = store->temp_for(final_path).string() + ".new";
    if (auto ok = store->write_public(staged, chain_pem); !ok) return tl::unexpected(ok.error());
    const auto drop = [&](const crypto::Error& e) -> Result<json> {
        std::error_code ec;
        std::filesystem::remove(staged, ec);
        return tl::unexpected(e);
    };
    hsm::SslCtxPtr ctx;
    if (client) {
        // The delivery side builds its contexts at the switch; this one only
        // proves now that chain and token key make a working client identity.
        if (!client_switch) {
            return drop(crypto::Error(Errc::unavailable, "the delivery services are not running yet"));
        }
        hsm::TlsEndpoint ep;
        ep.certificate = staged;
        ep.private_key = key_uri(label);
        ep.trust_anchors = anchors_for(target).front();
        auto resolver = hsm::make_key_resolver(pool, false);
        auto built = hsm::make_client_context(ep, *resolver);
        if (!built) return drop(built.error().wrap("building the LEA client's context"));
    } else if (!target.empty()) {
        if (!swap) return drop(crypto::Error(Errc::unavailable, "the listeners are not serving yet"));
        TlsConfig tls = listener_config(target)->tls;
        tls.certificate = staged;
        tls.private_key = key_uri(label);
        auto built = make_context(target, tls);
        if (!built) return drop(built.error().wrap("building listener " + target + "'s context"));
        ctx = std::move(*built);
    }
    json ev{{"event", "certificate.imported"}, {"actor", actor}, {"label", label}};
    ev.update(summary_json(*summary));
    if (!target.empty()) ev["listener"] = target;  // "lea-client" for the outbound identity
    if (auto logged = audit->append(ev); !logged) return drop(logged.error().wrap("audit log"));
    if (auto ok = store->publish(staged, final_path); !ok) return drop(ok.error());
    certs::CertState next = st;
    if (!target.empty()) {
        next.bindings[target] = label;
        if (auto it = next.keys.find(label); it != next.keys.end()) it->second.staged_for.clear();
    } else if (next.keys.count(label) == 0) {
        next.keys[label] = certs::ManagedKey{now_s(), ""};
    }
    if (auto ok = store->save(next); !ok) return tl::unexpected(ok.error());
    events->emit(events::CertificateChanged{"imported", label, target});
    json out{{"certificate", summary_json(*summary)}, {"label", label}};
    if (client) {
        if (auto ok = client_switch(final_path, key_uri(label)); !ok) {
            return tl::unexpected(ok.error().wrap("the certificate is stored; the switch failed "
                                                  "(a restart applies it)"));
        }
        events->emit(events::CertificateChanged{"switched", label, target});
        log(LogLevel::info, "lea-client", "switched to the certificate of key '" + label + "'");
        out["switched"] = target;
    } else if (!target.empty()) {
        if (auto ok = swap(target, std::move(ctx)); !ok) {
            return tl::unexpected(ok.error().wrap("the certificate is stored; the switch failed "
                                                  "(SIGHUP or a restart applies it)"));
        }
        events->emit(events::CertificateChanged{"switched", label, target});
        log(LogLevel::info, target, "switched to the certificate of key '" + label + "'");
        out["switched"] = target;
    }
    return out;
}

Result<json> CertServices::Impl::retire(const std::string& label, const audit::Actor& actor) {
    if (!certs::valid_label(label)) return fail(Errc::invalid_argument, "label: not a valid key label");
    for (const auto r : kReserved) {
        if (label == r) return fail(Errc::invalid_state, "key '" + label + "' is not a TLS key");
    }
    std::lock_guard change(change_mu);
    if (const auto users = users_of(label); !users.empty()) {
        return fail(Errc::invalid_state, "key '" + label + "' is in use by " + users.front() +
                                             ": switch it to another key first");
    }
    auto found = hsm::find_key(*pool, hsm::KeyQuery::by_label(label, hsm::ObjectType::private_key));
    if (!found) return tl::unexpected(found.error());
    if (found->key_type != hsm::KeyType::ec_p256 && found->key_type != hsm::KeyType::ec_p384) {
        return fail(Errc::invalid_state, "key '" + label + "' is not a TLS key");
    }
    json ev{{"event", "certificate.key_retired"}, {"actor", actor}, {"label", label}};
    if (auto logged = audit->append(ev); !logged) return tl::unexpected(logged.error().wrap("audit log"));
    auto rw = pool->open_read_write_session();
    if (!rw) return tl::unexpected(rw.error());
    if (auto ok = hsm::destroy_key(*rw, pool->token(), *found); !ok) return tl::unexpected(ok.error());
    store->remove_files(label);
    certs::CertState st = store->state();
    st.keys.erase(label);
    if (auto ok = store->save(st); !ok) return tl::unexpected(ok.error());
    events->emit(events::CertificateChanged{"retired", label, ""});
    return json{{"retired", label}};
}

void CertServices::Impl::check_expiry() {
    auto now = in_use();
    const std::int64_t t = now_s();
    std::vector<events::CertificateExpiring> due;
    {
        std::lock_guard lock(cache_mu);
        for (const auto& c : now) {
            if (!c.summary) continue;
            const std::int64_t left = c.summary->not_after - t;
            const std::int64_t days = left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
            int threshold = 0;
            for (const int th : kThresholds) {
                if (left <= static_cast<std::int64_t>(th) * 86400) threshold = th;
            }
            if (threshold == 0) continue;
            auto it = reported.find(c.summary->sha256 + "/" + c.used_by);
            if (it != reported.end() && it->second <= threshold) continue;
            reported[c.summary->sha256 + "/" + c.used_by] = threshold;
            due.push_back(events::CertificateExpiring{c.used_by, c.label,
                                                      monitoring::Fingerprint(c.summary->sha256),
                                                      days, static_cast<std::uint64_t>(threshold)});
        }
        in_use_cache = std::move(now);
    }
    for (const auto& e : due) events->emit(e);
}

void CertServices::Impl::run_expiry() {
    std::unique_lock lock(mu);
    while (!stopping) {
        lock.unlock();
        try {
            check_expiry();
        } catch (...) {
            log(LogLevel::error, "certs", "the certificate expiry check failed");
        }
        lock.lock();
        wake.wait_for(lock, kExpiryInterval, [this] { return stopping; });
    }
}

CertServices::CertServices(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CertServices::~CertServices() { stop(); }

Result<std::unique_ptr<CertServices>> CertServices::open(const Config& config,
                                                         std::shared_ptr<hsm::SessionPool> pool,
                                                         TlsContextFactory make_context) {
    auto impl = std::make_unique<Impl>();
    impl->config = config;
    impl->pool = std::move(pool);
    impl->make_context = std::move(make_context);
    auto store = certs::CertStore::open(config.data_dir / "certs");
    if (!store) return tl::unexpected(store.error());
    impl->store = std::move(*store);
    return std::unique_ptr<CertServices>(new CertServices(std::move(impl)));
}

TlsConfig CertServices::effective(const std::string& listener, const TlsConfig& configured) const {
    return impl_->effective(listener, configured);
}

std::pair<std::filesystem::path, std::string> CertServices::lea_client_identity() const {
    const TlsConfig t = impl_->lea_client_tls();
    return {impl_->config.resolve(t.certificate), t.private_key};
}

void CertServices::set_client_switch(ClientSwitch sw) {
    std::lock_guard change(impl_->change_mu);
    impl_->client_switch = std::move(sw);
}

void CertServices::attach(audit::AuditSink& audit, EventSink& events) {
    impl_->audit = &audit;
    impl_->events = &events;
}

void CertServices::set_context_swap(ContextSwap swap) {
    std::lock_guard change(impl_->change_mu);
    impl_->swap = std::move(swap);
}

void CertServices::add_routes(Routers& routers) { detail::add_cert_routes(*impl_, routers.admin); }

std::string CertServices::metrics_text() const {
    std::lock_guard lock(impl_->cache_mu);
    std::string out =
        "# HELP enclave_certificate_expiry_seconds Seconds until a certificate in use expires "
        "(negative: expired).\n# TYPE enclave_certificate_expiry_seconds gauge\n";
    const std::int64_t t = now_s();
    for (const auto& c : impl_->in_use_cache) {
        if (!c.summary) continue;
        out += "enclave_certificate_expiry_seconds{used_by=\"" + c.used_by + "\",label=\"" +
               metric_label(c.label) + "\"} " + std::to_string(c.summary->not_after - t) + "\n";
    }
    return out;
}

void CertServices::start() {
    std::lock_guard lock(impl_->mu);
    if (impl_->started || impl_->events == nullptr) return;
    impl_->started = true;
    impl_->expiry = std::thread([impl = impl_.get()] { impl->run_expiry(); });
}

void CertServices::stop() {
    {
        std::lock_guard lock(impl_->mu);
        impl_->stopping = true;
    }
    impl_->wake.notify_all();
    if (impl_->expiry.joinable()) impl_->expiry.join();
}

}  // namespace enclave::appliance
